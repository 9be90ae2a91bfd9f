/**
 * Identity pinning: a rig board may say which board it must be (`imei:`, `firmware:`, `usb-serial:`).
 * A USB port that re-enumerated onto another number, or a module swapped on the bench, must not be
 * tested as the board the rig names: after identify, any difference is the rig's ERROR before a step runs.
 */
import type { BoardIdentity, BoardSpec } from '../core/model.js';
import { firmwarePattern } from './rig-identity.js';

/** Why `identity` is not the board `spec` pins, or undefined when it is (or nothing is pinned). */
export function identityProblem(spec: BoardSpec, identity: BoardIdentity | undefined, port: string): string | undefined {
  const pin = spec.pin;
  if (!pin || (pin.imei === undefined && pin.firmware === undefined)) return undefined;
  const wrong = `wrong board on ${port}`;
  if (!identity) return `${wrong}? it did not say who it is, and the rig pins ${pin.imei !== undefined ? `IMEI ${pin.imei}` : `firmware ${pin.firmware}`}`;
  if (pin.imei !== undefined && identity.imei !== pin.imei) {
    return `${wrong}: IMEI ${identity.imei ?? '(none given)'}, rig says ${pin.imei}`;
  }
  if (pin.firmware !== undefined) {
    const pattern = firmwarePattern(pin.firmware);
    const firmware = identity.firmware ?? '';
    if (pattern ? !pattern.test(firmware) : firmware !== pin.firmware) {
      return `${wrong}: firmware ${identity.firmware ?? '(none given)'}, rig says ${pin.firmware}`;
    }
  }
  return undefined;
}

/** Why the board that answered after a power cycle or reset is not the one before it, or undefined. */
export function returnedIdentityProblem(before: BoardIdentity | undefined, after: BoardIdentity | undefined, port: string): string | undefined {
  if (!before?.imei) return undefined;
  if (!after) return `the board on ${port} came back but did not say who it is (before: IMEI ${before.imei})`;
  if (after.imei !== before.imei) return `a different board answered on ${port}: IMEI ${after.imei ?? '(none given)'}, before it was ${before.imei}`;
  return undefined;
}
