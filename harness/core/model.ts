import type { Fault, SourceLocation } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Boards: who a board is and what it said, shared by board/, steps/, clock/ and report/.

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

/** The eight fields of QuecPython's `utime.localtime()`: year, month, mday, hour, minute, second, weekday (0 = Monday), yearday. */
export type LocaltimeTuple = [number, number, number, number, number, number, number, number];

/**
 * An edge-timed reading (`read-time: { precision: edge }`): the host instant at which the board's clock
 * entered the second the reading shows. The interval must always contain the truth.
 */
export interface EdgeTiming {
  /** How the edge was found: on the board with `utime.ticks_ms()` related to host time, or by host-side AT polling. */
  method: 'repl-ticks' | 'at-bracket';
  /**
   * Host wall-clock ms (Date.now() scale, fractions allowed) between which the board's clock entered the
   * second in `localtime` (its .000 instant).
   */
  hostLowMs: number;
  hostHighMs: number;
  /** The half-width's parts, ms: how finely the edge is located on the board's side (loop period, poll spacing)... */
  readingMs: number;
  /** ...and what relating it to host time costs: for repl-ticks the intersected exchanges' width beyond the board loop's share; for at-bracket about half the quickest poll's round trip. */
  roundTripMs: number;
  /** The raw exchanges or brackets behind the interval, for a sceptic (recorded in result.json). */
  evidence: Record<string, unknown>;
}

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
  /** Present when the reading was edge-timed: then the second in `localtime` began inside this host interval. */
  edge?: EdgeTiming;
}

/** PASS / FAIL (the board misbehaved) / ERROR (the rig or harness did) / SKIP; MARGINAL only for measurements. */
export type Outcome = 'PASS' | 'FAIL' | 'ERROR' | 'SKIP';
/**
 * A scenario's or a run's record says RUNNING from the moment it is created until it is finished, so
 * a record left behind by a killed process, a full disk or a second Ctrl-C never reads as a pass.
 */
export type RecordOutcome = Outcome | 'RUNNING';
export type MeasurementOutcome = 'PASS' | 'FAIL' | 'MARGINAL' | 'UNSET';

// ---------------------------------------------------------------------------------------------
// Inputs: scenario and rig files, after loading and validation.

export interface ReferenceKeySpec {
  id: number;
  type: 'MD5' | 'SHA1' | 'AES128';
  hex: string;
}

export interface ReferenceSpec {
  servers: string[];
  samples: number;
  timeoutMs: number;
  keys: ReferenceKeySpec[];
}

export interface StepSpec {
  /** Step kind as written: `dial`, `sync`, `read-time`, ... */
  kind: string;
  /** Arguments after schema validation (the step's own schema gives them their type). */
  args: Record<string, unknown>;
  /**
   * The arguments as written, when they use `${board.<field>}`: the runner substitutes each board's
   * fields and validates them again, so a field can fill a number (`timezone: ${board.zone}`) too.
   */
  raw?: Record<string, unknown>;
  /** Where the step stands in its file, for every error about it. */
  location: SourceLocation;
  /** Position in the scenario, from 0. */
  index: number;
}

export interface Scenario {
  name: string;
  description?: string;
  tags: string[];
  timeoutMs: number;
  reference?: ReferenceSpec;
  steps: StepSpec[];
  /** The file it came from. */
  file: string;
}

export interface BoardSpec {
  id: string;
  model?: string;
  /** Port addresses: a device path or tcp://host:port. */
  at?: string;
  repl?: string;
  apn?: string;
  /** A simulated board instead of ports. */
  sim?: { profile: string; offsetMs: number; faults: string[] };
  /** Extra fields scenarios may use as `${board.<field>}`. */
  fields: Record<string, string>;
  location?: SourceLocation;
  /** What the board must say it is (rig file): any difference after identify is ERROR before any step. */
  pin?: BoardPin;
  /** Ports found by the USB device's serial number and the interface's role, instead of by path. */
  usbPorts?: Partial<Record<Via, { usbSerial: string; role: Via }>>;
  /** Commands that switch the board's power (argument arrays, run without a shell). */
  power?: PowerSpec;
}

export interface BoardPin {
  imei?: string;
  /** Exact, or a regular expression written `/.../`. */
  firmware?: string;
  /** The USB device's serial number behind the board's device-path ports. */
  usbSerial?: string;
}

export interface PowerSpec {
  on?: string[];
  off?: string[];
  cycle?: string[];
  /** Per command. */
  timeoutMs: number;
}

export interface Rig {
  name: string;
  reference?: ReferenceSpec;
  boards: BoardSpec[];
  /** Where this rig's board leases are kept (`lock-dir:`); the flag and QHIL_LOCK_DIR win. */
  lockDir?: string;
  file?: string;
  /** At most this many boards run at once (`concurrency:`); all of them when unset. */
  concurrency?: number;
}

// ---------------------------------------------------------------------------------------------
// Outputs: what a run records. result.json is RunResult as JSON.

export interface Measurement {
  name: string;
  /** Best estimate (midpoint of the interval). */
  value: number;
  unit: string;
  /** The interval the true value lies in: [low, high]. */
  low: number;
  high: number;
  /** Half the interval's width. */
  uncertainty: number;
  /**
   * What the half-width is made of, in the measurement's unit, e.g. `{ reading: 0.6, roundTrip: 1.1,
   * reference: 0.4, hostDrift: 0.01 }` (a worst-case sum: the parts add up to `uncertainty`).
   */
  uncertaintyParts?: Record<string, number>;
  /** The limit: the value must lie in [limitLow, limitHigh]. */
  limitLow: number;
  limitHigh: number;
  outcome: MeasurementOutcome;
  /** How the interval was built, for people. */
  explanation?: string;
}

export interface StepResult {
  index: number;
  kind: string;
  /** A one-line description: `sync via repl with pool.ntp.org`. */
  title: string;
  outcome: Outcome;
  /** Host wall-clock ISO time the step started. */
  startedAt: string;
  durationMs: number;
  /** Time the harness spent itself, not waiting on the board, the network or timers. */
  harnessMs?: number;
  attempts: number;
  /** Why it failed or erred, in one readable paragraph. */
  message?: string;
  /** Whose fault a FAIL or ERROR is: `board` for every FAIL; `rig`, `input` or `harness` (a qhil bug) for an ERROR. */
  fault?: Fault;
  measurements: Measurement[];
  /** Anything else the step found worth keeping (board answers, server used...). */
  data: Record<string, unknown>;
  location: SourceLocation;
}

export interface ScenarioResult {
  scenario: string;
  file: string;
  board: string;
  outcome: RecordOutcome;
  startedAt: string;
  durationMs: number;
  message?: string;
  /** Whose fault the scenario's outcome is, when it is not a PASS (the deciding step's fault). */
  fault?: Fault;
  /** The step under way while the record says RUNNING: what a killed run was doing. */
  current?: { index: number; title: string; startedAt: string };
  steps: StepResult[];
}

export interface BoardResult {
  id: string;
  model?: string;
  identity?: BoardIdentity;
  ports: Partial<Record<Via, string>>;
  /** Transcript files, relative to the run folder. */
  transcripts: string[];
  scenarios: ScenarioResult[];
  /** What the report must say about how the board was had: a lease taken over from a dead holder, one lost. */
  notes?: string[];
}

export interface ReferenceRecord {
  servers: string[];
  offsetMs: number;
  uncertaintyMs: number;
  measuredAt: string;
  /** The full answer, server by server. */
  detail: unknown;
}

export interface RunResult {
  runId: string;
  tool: { name: 'qhil'; version: string };
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  /** True when the run was stopped (SIGINT, SIGTERM, SIGHUP) before it finished. */
  aborted: boolean;
  /** RUNNING until the run has finished and every board's record is complete. */
  outcome: RecordOutcome;
  /** The process exit code this run maps to (DESIGN.md contract); 3 while the record is unfinished. */
  exitCode: number;
  host: { hostname: string; platform: string; node: string };
  /** What kept the record from being written whole (a full disk, a read-only folder): the run is no PASS. */
  problems?: string[];
  tags: string[];
  /** The scenario files as they ran: `sha256` of the file's bytes when the run loaded it (for the sign-off). */
  scenarios: { name: string; file: string; sha256?: string }[];
  boards: BoardResult[];
  references: ReferenceRecord[];
  /** Set when the run was one shard (`--shard i/n`) of a larger one. */
  shard?: ShardRecord;
  /** Set on a merged record: the shards merged into it, each with the run that ran it. */
  mergedShards?: { index: number; count: number; runId: string; hostname: string }[];
}

/** One board × scenario pair of a sharded run's plan and the shard (1-based) that runs it. */
export interface ShardWork {
  board: string;
  scenario: string;
  shard: number;
}

/** A shard's place in the whole run: `index` of `count`, and the whole plan, the same in every shard. */
export interface ShardRecord {
  index: number;
  count: number;
  plan: ShardWork[];
}

// ---------------------------------------------------------------------------------------------
// Events: appended to events.jsonl as they happen and shown live on the terminal.

export type RunEvent =
  | { type: 'run-start'; at: string; runId: string; scenarios: string[]; boards: string[] }
  | { type: 'board-ready'; at: string; board: string; identity?: BoardIdentity; ports: Partial<Record<Via, string>> }
  | { type: 'reference'; at: string; board?: string; record: ReferenceRecord }
  | { type: 'scenario-start'; at: string; board: string; scenario: string }
  | { type: 'step-start'; at: string; board: string; scenario: string; index: number; kind: string; title: string }
  | { type: 'step-retry'; at: string; board: string; scenario: string; index: number; attempt: number; message: string }
  | { type: 'step-end'; at: string; board: string; scenario: string; result: StepResult }
  | { type: 'scenario-end'; at: string; board: string; result: ScenarioResult }
  | { type: 'log'; at: string; board?: string; level: 'info' | 'warn' | 'error'; message: string }
  /** A bug in qhil itself, with its stack: reported apart, never retried. */
  | { type: 'harness-bug'; at: string; board?: string; scenario?: string; index?: number; message: string; stack?: string }
  | { type: 'run-end'; at: string; outcome: Outcome; aborted: boolean; exitCode: number };

/** Combines outcomes: an unfinished record stays RUNNING; then any ERROR wins, then FAIL, then PASS; all SKIP is SKIP. */
export function combineOutcomes(outcomes: RecordOutcome[]): RecordOutcome {
  if (outcomes.includes('RUNNING')) return 'RUNNING';
  if (outcomes.includes('ERROR')) return 'ERROR';
  if (outcomes.includes('FAIL')) return 'FAIL';
  if (outcomes.includes('PASS')) return 'PASS';
  return outcomes.length === 0 ? 'PASS' : 'SKIP';
}

/**
 * Exit code of a run (DESIGN.md): 0 all passed; 1 a test failed; 3 the rig prevented a verdict.
 * A failure wins over an infrastructure error: it is a firm verdict on the firmware, and a CI that
 * retries on 3 (only the rig's errors may be retried) must not rerun a real failure.
 */
export function exitCodeOf(outcomes: RecordOutcome[], aborted: boolean): number {
  if (outcomes.includes('FAIL')) return 1;
  if (aborted || outcomes.includes('ERROR') || outcomes.includes('RUNNING')) return 3;
  return 0;
}
