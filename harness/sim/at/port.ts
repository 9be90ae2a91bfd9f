import type { ModemModel } from '../modem.js';
import { AtInterpreter, type AtServices } from './interpreter.js';

export interface AtPort {
  /** Bytes from the host. */
  receive(bytes: Buffer): void;
  /** The board rebooted: power-on defaults (echo on, CMEE=1), nothing pending. */
  reset(): void;
  /** Stops listening to the modem's events (the port is gone for good). */
  dispose(): void;
}

/**
 * The sim board's AT port: an AT interpreter on the shared modem. The sim worker calls this once per
 * board and pipes the port's bytes through `receive` and `send`.
 */
export function createAtPort(modem: ModemModel, send: (bytes: Buffer) => void, services: AtServices): AtPort {
  const interpreter = new AtInterpreter(modem, send, services);
  return {
    receive: (bytes) => interpreter.receive(bytes),
    reset: () => interpreter.reset(),
    dispose: () => interpreter.dispose(),
  };
}
