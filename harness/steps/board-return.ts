import { InfrastructureError } from '../core/errors.js';
import type { BoardIdentity } from '../board/board.js';
import type { BoardLifecycle, StepContext } from './step.js';

/** The runner's lifecycle for the board, or the rig's ERROR when this runner gives none. */
export function lifecycleOf(context: StepContext, kind: string): BoardLifecycle {
  if (!context.lifecycle) throw new InfrastructureError(`${kind}: board ${context.board.id} cannot be power-switched or waited for here`);
  return context.lifecycle;
}

/** "EC200U-EU, IMEI 8691..., firmware ..." for a step's message. */
export function describeIdentity(identity: BoardIdentity | undefined): string {
  if (!identity) return 'a board that did not say who it is';
  return [identity.model ?? 'board', identity.imei && `IMEI ${identity.imei}`, identity.firmware && `firmware ${identity.firmware}`].filter(Boolean).join(', ');
}
