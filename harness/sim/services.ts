import type { AtServices } from './at/interpreter.js';

/** Why a firmware-like NTP query failed, in the terms both ntptime and AT+QNTP report. */
export type NtpFailureCode = 'dns' | 'timeout' | 'refused';

export type NtpQueryResult =
  | {
      ok: true;
      /** The server's transmit timestamp as Unix ms (UTC), no delay compensation, as the firmware reads it. */
      unixMs: number;
      /** `address:port` the answer came from. */
      server: string;
    }
  | { ok: false; reason: string; code: NtpFailureCode };

/**
 * What the simulated board gives the code that runs inside it (the AT interpreter, the REPL's
 * bridge). Implemented by the board worker (harness/sim/worker.ts); structurally an AtServices too,
 * so `createAtPort(modem, send, services)` takes it as is.
 */
export interface SimServices extends AtServices {
  /**
   * One SNTP query as QuecPython's ntptime.py sends it (harness/sim/ntp.ts): `host` (optionally
   * `host:port`) is resolved through the modem's host map only, and only loopback addresses are ever
   * contacted; anything else fails as a DNS failure. Needs a registered network and an active data
   * call (else `dns`, as the firmware's resolver fails). The `ntp-silent` fault makes it time out.
   */
  ntpQuery(host: string, timeoutMs: number): Promise<NtpQueryResult>;
  /**
   * Same query for the AT port's use: resolves to the server's UTC ms, rejects with an Error saying
   * why. (AtServices contract; the answer is not round-trip compensated, like the firmware's.)
   */
  ntpQueryUtcMs(host: string, timeoutMs: number): Promise<number>;
  /**
   * A hard reboot (AT+CFUN=1,1): both ports vanish for the profile's `rebootDelay` and come back; the
   * board itself then resets the AT port (`reset()`) and sends the `RDY` URC on it, so the AT port
   * must not send its own.
   */
  reboot(): void;
  /** A line for the board's log (the worker forwards it to whoever started the board). */
  log(message: string): void;
}
