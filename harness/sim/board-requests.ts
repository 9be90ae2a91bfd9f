/**
 * Control requests from the main thread to a simulated board's worker (board.ts's SimControl): one
 * id each, one answer each, a deadline on every one, and all of them failed when the worker is gone.
 */
import { InfrastructureError, InputError } from '../core/errors.js';
import type { ControlOp, ToBoard } from './protocol.js';

/** Deadline for a control request to be answered by the board worker. */
const CONTROL_DEADLINE_MS = 10_000;

interface Pending {
  resolve: (value: number | null) => void;
  reject: (error: Error) => void;
}

export class BoardRequests {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private gone = false;

  constructor(
    private readonly model: string,
    private readonly send: (message: ToBoard) => void,
  ) {}

  request(op: ControlOp): Promise<number | null> {
    if (this.gone) return Promise.reject(new InfrastructureError(`simulated board ${this.model} is closed`));
    const id = ++this.nextId;
    return new Promise<number | null>((resolveRequest, rejectRequest) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        rejectRequest(new InfrastructureError(`simulated board ${this.model}: no answer to ${op.op} within ${CONTROL_DEADLINE_MS}ms`));
      }, CONTROL_DEADLINE_MS);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolveRequest(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          rejectRequest(error);
        },
      });
      this.send({ type: 'control', id, request: op });
    });
  }

  /** The worker's answer to request `id`: its value, or the error it gave (an input error: the request was wrong). */
  answer(id: number, answer: { ok: true; value: number | null } | { ok: false; error: string }): void {
    const request = this.pending.get(id);
    this.pending.delete(id);
    if (answer.ok) request?.resolve(answer.value);
    else request?.reject(new InputError(`simulated board: ${answer.error}`));
  }

  /** The worker exited: every open request fails, and every later one. */
  workerGone(): void {
    this.gone = true;
    for (const request of this.pending.values()) request.reject(new InfrastructureError(`simulated board ${this.model} is gone`));
    this.pending.clear();
  }
}
