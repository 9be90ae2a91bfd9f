import type { z } from 'zod';
import type { BoardDriver, BoardIdentity, LocaltimeReading, Via } from '../board/board.js';
import type { AtChannel } from '../channel/at/channel.js';
import type { ReplChannel } from '../channel/repl/repl.js';
import type { ReferenceResult } from '../clock/reference.js';
import type { Measurement, Outcome, ReferenceSpec } from '../core/model.js';

/** The board as steps see it: a driver per port it has, and what is known about it. */
export interface StepBoard {
  readonly id: string;
  /** The driver for a port; throws InfrastructureError naming the board if it has no such port. */
  driver(via: Via): BoardDriver;
  /** The raw channels, for the `repl` and `at` steps. Same errors as `driver`. */
  replChannel(): ReplChannel;
  atChannel(): AtChannel;
  readonly ports: Via[];
  identity?: BoardIdentity;
  /** The board's APN (rig file), used by `dial` when the step names none. */
  readonly apn?: string;
}

export interface StepContext {
  board: StepBoard;
  /** Named values steps leave for later steps (`read-time: { as: t1 }`, `compare: { read: t1 }`). */
  values: Map<string, StepValue>;
  /** Queries the reference clock as configured for this run (scenario, rig or --reference). */
  /** `fresh`: a new query now rather than the run's recent shared answer (a rate needs the reference next to each reading). */
  queryReference(options?: { fresh?: boolean }): Promise<ReferenceResult>;
  /** The reference servers this run uses, for descriptions. */
  reference: ReferenceSpec | undefined;
  /** Aborted when the step's or the scenario's deadline passes, or the run is stopped. */
  signal: AbortSignal;
  /** Time left for this attempt, ms. */
  timeLeftMs(): number;
  log(message: string): void;
  /** The board's power and return (`power-cycle`, `reset`); absent where the runner gives none (a test's fake board). */
  lifecycle?: BoardLifecycle;
}

/** What the runner can do to a board beyond its ports: switch its power, wait for it to come back. */
export interface BoardLifecycle {
  /** Whether `power` can act: the rig declares power commands, or the board is simulated (its own switch). */
  readonly canPower: boolean;
  /** Runs the rig's power commands (or the simulated board's switch); says what ran, for the report. */
  power(action: 'on' | 'off' | 'cycle', signal: AbortSignal): Promise<string>;
  /**
   * Waits for the board to go and come back on its ports (by their stable names), then identifies
   * it again. Throws InfrastructureError when it does not come back within `waitMs`, or when a
   * different board answers (another IMEI, or not the one the rig pins).
   */
  awaitReturn(waitMs: number, signal: AbortSignal): Promise<BoardIdentity | undefined>;
}

export type StepValue = { kind: 'localtime'; reading: LocaltimeReading } | { kind: 'text'; text: string };

export interface StepReport {
  /** Defaults to PASS, or FAIL when any measurement FAILs, ERROR/FAIL when the step throws. */
  outcome?: Outcome;
  message?: string;
  measurements?: Measurement[];
  data?: Record<string, unknown>;
  /** ms spent waiting on the board, network or timers; the rest of the step's time is the harness's own. */
  waitedMs?: number;
}

/** A device a step signs in to an IoT platform as, and where (`host[:port]`). */
export interface IotPlatformNeed {
  broker: string;
  productKey: string;
  deviceName: string;
  deviceSecret: string;
}

/** Options every step accepts besides its own. */
export interface CommonStepOptions {
  timeoutMs?: number;
  retries: number;
}

/** A named value a step leaves for later steps (`read-time: { as: t1 }`). */
export interface ProducedValue {
  name: string;
  kind: StepValue['kind'];
}

/** A named value a step needs an earlier step to have left (`compare: { read: t1 }`). */
export interface ConsumedValue {
  name: string;
  kind: StepValue['kind'];
  /** What the step does with it, for messages: `reads`, `takes its zone from`. */
  use: string;
  /** How to provide it, for messages: `add read-time with as: t1`. */
  hint: string;
}

/**
 * One step kind: its schema (unknown keys rejected) and what it does. Steps throw BoardError when the
 * board misbehaves (FAIL) and InfrastructureError when the rig does (ERROR, retried when `retries` > 0).
 *
 * The optional declarations say what the step needs and leaves, from its arguments alone, so the
 * preflight, the checks across steps and the simulated world never switch on a kind name: a new step
 * kind declares them here and touches nothing outside steps/.
 */
export interface StepDefinition<Args extends CommonStepOptions = CommonStepOptions> {
  kind: string;
  summary: string;
  schema: z.ZodType<Args>;
  /** Default per-attempt timeout when the step gives none. */
  defaultTimeoutMs: number;
  describe(args: Args): string;
  run(context: StepContext, args: Args): Promise<StepReport>;
  /** The named values it leaves in `context.values`. */
  produces?(args: Args): ProducedValue[];
  /** The named values it needs from earlier steps. */
  consumes?(args: Args): ConsumedValue[];
  /** True when it queries the reference clock (`context.queryReference`). */
  needsReference?(args: Args): boolean;
  /** NTP host names it makes the board use: a simulated board's DNS must know them. */
  ntpHosts?(args: Args): string[];
  /** IoT platforms (MQTT brokers) it makes the board sign in to: the simulated world serves them. */
  iotPlatforms?(args: Args): IotPlatformNeed[];
  /** ms it takes at the least, whatever the board does (a `wait`): the scenario's timeout must leave room for it. */
  minimumDurationMs?(args: Args): number;
}
