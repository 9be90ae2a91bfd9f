/**
 * What a Quectel board can do, whichever port it is asked through. The REPL driver
 * (QuecPython modules) and the AT driver (Quectel AT commands) both implement BoardDriver and give
 * the same results, so steps and reports do not care which port was used.
 */

export type Via = 'repl' | 'at';

export interface BoardIdentity {
  /** Module model, e.g. `EC200U-EU`. */
  model?: string;
  /** Firmware revision, e.g. `EC200UEUAAR03A01M08_OCPU_QPY`. */
  firmware?: string;
  /** QuecPython version when the board runs QuecPython, e.g. `v1.12`. */
  quecpython?: string;
  imei?: string;
  /** Everything the board said, by field, for the report. */
  details: Record<string, string>;
}

export interface DialOptions {
  profile: number;
  apn?: string;
  timeoutMs: number;
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
  /** Board time the sync reported, when it reports one (AT+QNTP does). */
  reportedTime?: string;
}

/** The eight fields of QuecPython's `utime.localtime()`: year, month, mday, hour, minute, second, weekday (0 = Monday), yearday. */
export type LocaltimeTuple = [number, number, number, number, number, number, number, number];

export interface LocaltimeReading {
  via: Via;
  /** The board's wall-clock fields, as it printed them (board clock, in its own zone). */
  localtime: LocaltimeTuple;
  /** Time zone of the reading in quarter hours east of UTC when the board states one (AT+CCLK), else undefined. */
  zoneQuarterHours?: number;
  /** Host wall-clock ms (Date.now()) just before the request was sent. */
  hostSendMs: number;
  /** Host wall-clock ms just after the answer arrived. */
  hostReceiveMs: number;
  /** The raw answer, for the report. */
  raw: string;
}

export interface ReadOptions {
  timeoutMs: number;
}

export interface BoardDriver {
  readonly via: Via;
  identify(timeoutMs: number): Promise<BoardIdentity>;
  dial(options: DialOptions): Promise<DialResult>;
  syncClock(options: SyncOptions): Promise<SyncResult>;
  readLocaltime(options: ReadOptions): Promise<LocaltimeReading>;
}
