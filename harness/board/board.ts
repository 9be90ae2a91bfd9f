/**
 * What a Quectel board can do, whichever port it is asked through. The REPL driver
 * (QuecPython modules) and the AT driver (Quectel AT commands) both implement BoardDriver and give
 * the same results, so steps and reports do not care which port was used.
 */

export type { BoardIdentity, LocaltimeReading, LocaltimeTuple, Via } from '../core/model.js';
import type { BoardIdentity, LocaltimeReading, Via } from '../core/model.js';

/**
 * Every operation takes its deadline and an abort signal: aborting ends every wait and sleep of the
 * operation at once, rejecting with the signal's reason (the runner stopping a step, a SIGINT).
 */
export interface DialOptions {
  profile: number;
  apn?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface DialResult {
  profile: number;
  /** The data call's IP address as the board reports it. */
  address: string;
  /** True when the call was already up and nothing had to be done. */
  alreadyUp: boolean;
  dns: string[];
}

export interface SyncOptions {
  /** Server the board is told to use; undefined keeps the board's default. */
  server?: string;
  /** QuecPython `ntptime.settime(timezone)`, in hours (-12..12). AT: ignored (zone comes from the network). */
  timezoneHours: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface SyncResult {
  ok: boolean;
  /** The server the board was asked to use. */
  requestedServer?: string;
  /** The server the board says it used afterwards (QuecPython silently falls back to others). */
  usedServer?: string;
  /** Why the sync failed, in the board's words (`OSError: Server connection failed!`, `+QNTP: 565 DNS parse failed`). */
  reason?: string;
  /** The board's own return value or error code. */
  boardCode?: string;
  /**
   * The board could not reach the server at all (name not resolved, no answer, refused): the
   * network's state, not the firmware's failure.
   */
  unreachable?: boolean;
  /** Board time the sync reported, when it reports one (AT+QNTP does). */
  reportedTime?: string;
}

export interface ReadOptions {
  timeoutMs: number;
  /**
   * `second` (default): one read, the board's second with the host's send and receive times.
   * `edge`: also find the host interval in which that second began (LocaltimeReading.edge), a few
   * ms wide; takes up to 3 s over the REPL and 5 s over AT.
   */
  precision?: 'second' | 'edge';
  /**
   * `edge` over the REPL: a board loop wider than this at the edge (ms between the reads around it)
   * tries the next second, once or twice within the reading's time; default 6 ms.
   */
  widestLoopMs?: number;
  signal?: AbortSignal;
}

export interface BoardDriver {
  readonly via: Via;
  identify(timeoutMs: number, signal?: AbortSignal): Promise<BoardIdentity>;
  dial(options: DialOptions): Promise<DialResult>;
  syncClock(options: SyncOptions): Promise<SyncResult>;
  readLocaltime(options: ReadOptions): Promise<LocaltimeReading>;
}
