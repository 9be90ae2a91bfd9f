import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { errorMessage, formatLocation, InputError } from '../core/errors.js';
import type { BoardSpec, ReferenceSpec, Scenario, ShardRecord, ShardWork, StepSpec } from '../core/model.js';
import { parseTcpAddress } from '../link/tcp.js';
import { resolveBoardProfile } from '../sim/board.js';
import { parseFault } from '../sim/faults.js';
import { stepRegistry } from '../steps/index.js';
import type { StepDefinition } from '../steps/step.js';
import { boardFreeArgs, scenarioIssues, stepArgs, type ArgsOf } from './checks.js';
import { portAddressProblem, substituteBoardFields } from './rig.js';
import { referenceServerProblem } from './scenario.js';
import { MAX_REPORTED_ISSUES } from './yaml-source.js';

/**
 * The one preflight: everything that can be checked before a port opens. `qhil validate` and
 * `qhil run` both call it, so what validate accepts, run accepts, and bad input exits 2 having run nothing.
 */

export interface PreflightInput {
  scenarios: Scenario[];
  /**
   * The boards the scenarios will run on. Undefined when they are not known yet (`qhil validate`
   * without --rig): the checks that need boards (ports, profiles, `${board.<field>}`, whether a
   * reference will be there) are skipped, rather than guessed from a placeholder board.
   */
  boards?: BoardSpec[];
  /** Reference servers given on the command line. */
  reference?: ReferenceSpec;
  /** The rig's reference. */
  rigReference?: ReferenceSpec;
  /** Only scenarios carrying one of these tags run (all when empty). */
  tags?: string[];
}

/** What the preflight found, each line `file:line:column: message` where the problem has a place. */
export interface PreflightReport {
  /** Problems of the run as a whole: flags, boards, the tag filter. */
  general: string[];
  /** Problems of each scenario checked (those the tag filter kept), in order. */
  scenarios: { scenario: Scenario; problems: string[] }[];
}

/** The step's arguments on `board`: `${board.<field>}` filled in and checked again by the step's schema. */
export function resolveStepArgs(step: StepSpec, definition: StepDefinition, board: BoardSpec): Record<string, unknown> {
  if (!step.raw) return step.args;
  const where = formatLocation(step.location);
  let filled: unknown;
  try {
    filled = substituteBoardFields(step.raw, board);
  } catch (error) {
    throw new InputError(`${where}: ${step.kind}: ${errorMessage(error)}`);
  }
  const parsed = definition.schema.safeParse(filled);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${[step.kind, ...issue.path.map(String)].join('.')}: ${issue.message}`);
    throw new InputError(`${where}: on board ${board.id}: ${problems.join('; ')}`);
  }
  return parsed.data as unknown as Record<string, unknown>;
}

/** The scenarios a tag filter keeps; a filter that keeps none is a typo, not a green run. */
export function selectScenarios(scenarios: Scenario[], tags: string[]): Scenario[] {
  if (tags.length === 0) return scenarios;
  const kept = scenarios.filter((scenario) => scenario.tags.some((tag) => tags.includes(tag)));
  if (kept.length === 0) {
    const known = [...new Set(scenarios.flatMap((scenario) => scenario.tags))].sort();
    throw new InputError(`no scenario has the tag ${tags.map((t) => `"${t}"`).join(' or ')}; the scenarios' tags are: ${known.join(', ') || '(none)'}`);
  }
  return kept;
}

export { checkPortFlag } from '../link/address.js';

/**
 * What makes two addresses the same port: a device path through its symlinks (/dev/serial/by-id/...
 * is /dev/ttyUSB2) when it exists, `COM5` in any case, `tcp://Host:port` with the host in lower case.
 */
export function portIdentity(address: string): string {
  if (address.startsWith('tcp://')) {
    try {
      const { host, port } = parseTcpAddress(address);
      return `tcp://${canonicalHost(host)}:${port}`;
    } catch {
      return address;
    }
  }
  const com = /^(?:\\\\\.\\)?(COM\d+)$/i.exec(address);
  if (com) return (com[1] as string).toUpperCase();
  try {
    return realpathSync(address);
  } catch {
    return resolve(address);
  }
}

/** `Lab-Host` as `lab-host`; an IPv6 address in its one short form (`0:0::1` is `::1`). */
function canonicalHost(host: string): string {
  if (!host.includes(':')) return host.toLowerCase();
  try {
    return new URL(`http://[${host}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return host.toLowerCase();
  }
}

function at(board: BoardSpec): string {
  return board.location ? `${formatLocation(board.location)}: ` : '';
}

function boardProblems(boards: BoardSpec[]): string[] {
  const problems: string[] = [];
  const ports = new Map<string, { board: BoardSpec; via: string }>();
  for (const board of boards) {
    for (const via of ['repl', 'at'] as const) {
      const address = board[via];
      if (address === undefined) continue;
      const problem = portAddressProblem(address);
      if (problem) {
        problems.push(`${at(board)}board ${board.id}: ${via}: ${problem}`);
        continue;
      }
      // One port cannot be opened twice: two boards (or AT and REPL) on it would read each other's answers.
      const identity = portIdentity(address);
      const first = ports.get(identity);
      if (first) {
        const firstName = first.board === board ? `its own ${first.via} port` : `board ${first.board.id}'s ${first.via} port${first.board.location ? ` (${formatLocation(first.board.location)})` : ''}`;
        problems.push(`${at(board)}board ${board.id}: ${via}: ${address} is the same port as ${firstName}`);
      } else {
        ports.set(identity, { board, via });
      }
    }
    if (board.sim) {
      try {
        resolveBoardProfile(board.sim.profile);
      } catch (error) {
        problems.push(`${at(board)}board ${board.id}: ${errorMessage(error)}`);
      }
      for (const fault of board.sim.faults) {
        try {
          parseFault(fault);
        } catch (error) {
          problems.push(`${at(board)}board ${board.id}: ${errorMessage(error)}`);
        }
      }
    }
  }
  return problems;
}

function referenceFlagProblems(reference: ReferenceSpec | undefined): string[] {
  if (!reference) return [];
  const problems = reference.servers.flatMap((server) => {
    const problem = referenceServerProblem(server);
    return problem ? [`--reference: ${problem}`] : [];
  });
  if (!(Number.isInteger(reference.samples) && reference.samples >= 1 && reference.samples <= 64)) {
    problems.push(`--samples ${reference.samples}: expected a whole number from 1 to 64`);
  }
  return problems;
}

/** Arguments per board, for the checks across steps: undefined where they cannot be filled (reported apart). */
function argsOnBoard(board: BoardSpec): ArgsOf {
  return (step, definition) => {
    try {
      return stepArgs(resolveStepArgs(step, definition, board));
    } catch {
      return undefined;
    }
  };
}

function scenarioProblems(scenario: Scenario, input: PreflightInput): string[] {
  const problems: string[] = [];
  const boards = input.boards;
  const views = boards === undefined || boards.length === 0 ? [boardFreeArgs] : boards.map(argsOnBoard);
  for (const argsOf of views) {
    for (const issue of scenarioIssues(scenario, { argsOf })) problems.push(`${formatLocation(issue.location)}: ${issue.message}`);
  }

  // A run whose boards are all simulated gets the local clock server as its reference (cli/run.ts).
  const allSimulated = boards !== undefined && boards.length > 0 && boards.every((board) => board.sim);
  const hasReference = Boolean(input.reference ?? scenario.reference ?? input.rigReference) || allSimulated;
  if (!hasReference && boards !== undefined) {
    const needing = scenario.steps.find((step) => {
      const definition = stepRegistry.get(step.kind);
      const args = definition ? (views[0] as ArgsOf)(step, definition) : undefined;
      return definition !== undefined && args !== undefined && definition.needsReference?.(args) === true;
    });
    if (needing) {
      problems.push(
        `${formatLocation(needing.location)}: ${needing.kind} needs a reference clock: give --reference <server>, or reference: in the scenario or rig file`,
      );
    }
  }

  for (const step of scenario.steps) {
    const definition = stepRegistry.get(step.kind);
    if (!definition) {
      problems.push(`${formatLocation(step.location)}: unknown step kind "${step.kind}"`);
      continue;
    }
    for (const board of boards ?? []) {
      try {
        resolveStepArgs(step, definition, board);
      } catch (error) {
        problems.push(errorMessage(error));
      }
    }
  }
  return [...new Set(problems)];
}

/** Everything that can be checked before a port opens, by scenario; `checkRunnable` throws it, `qhil validate` prints it. */
export function preflight(input: PreflightInput): PreflightReport {
  const general: string[] = [];
  if (input.boards !== undefined && input.boards.length === 0) general.push('no boards: give --rig, --board sim, or --repl/--at ports');
  general.push(...referenceFlagProblems(input.reference), ...boardProblems(input.boards ?? []));
  let selected: Scenario[] = [];
  try {
    selected = selectScenarios(input.scenarios, input.tags ?? []);
  } catch (error) {
    general.push(errorMessage(error));
  }
  return {
    general: [...new Set(general)],
    scenarios: selected.map((scenario) => ({ scenario, problems: scenarioProblems(scenario, input) })),
  };
}

/** At most MAX_REPORTED_ISSUES lines, then how many more there were. */
export function capProblems(problems: string[]): string[] {
  if (problems.length <= MAX_REPORTED_ISSUES) return problems;
  return [...problems.slice(0, MAX_REPORTED_ISSUES), `... and ${problems.length - MAX_REPORTED_ISSUES} more`];
}

/**
 * Checks everything that can be checked before a port opens, so bad input exits 2 having run nothing:
 * boards and their ports and profiles, every consumed value produced first, a reference for the steps
 * that need one, waits that fit the timeout, and every `${board.<field>}` fillable on every board.
 */
export function checkRunnable(input: PreflightInput): void {
  const report = preflight(input);
  const problems = [...report.general, ...report.scenarios.flatMap((entry) => entry.problems)];
  if (problems.length > 0) throw new InputError(capProblems(problems).join('\n'));
}

// ---------------------------------------------------------------------------------------------
// Shards: `--shard i/n` splits one run's board × scenario work between n hosts or CI jobs.

export interface ShardSpec {
  /** 1-based. */
  index: number;
  count: number;
}

/** Parses `--shard i/n` (1 <= i <= n <= 1000); InputError (exit 2) otherwise. */
export function parseShard(text: string): ShardSpec {
  const match = /^\s*(\d{1,4})\s*\/\s*(\d{1,4})\s*$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || count > 1000 || index < 1 || index > count) {
    throw new InputError(`--shard ${quotedFlag(text)}: expected i/n with 1 <= i <= n <= 1000, e.g. --shard 2/3`);
  }
  return { index, count };
}

function quotedFlag(text: string): string {
  return JSON.stringify(text.slice(0, 40));
}

/**
 * Which shard runs each board × scenario pair: the pairs in rig order, each board's scenarios in
 * order, cut into `count` contiguous runs whose lengths differ by at most one. It depends only on the
 * boards and scenarios (and their order), so every host given the same rig, scenarios and tags
 * computes the same plan; and a board's scenarios stay on one shard where they can, so two shards
 * seldom need the same board at once.
 */
export function planShards(boards: BoardSpec[], scenarios: Scenario[], count: number): ShardWork[] {
  const pairs = boards.flatMap((board) => scenarios.map((scenario) => ({ board: board.id, scenario: scenario.name })));
  return pairs.map((pair, k) => ({ ...pair, shard: Math.floor((k * count) / pairs.length) + 1 }));
}

/** The record of shard `shard` of the run of `scenarios` on `boards`. */
export function shardRecord(boards: BoardSpec[], scenarios: Scenario[], shard: ShardSpec): ShardRecord {
  return { index: shard.index, count: shard.count, plan: planShards(boards, scenarios, shard.count) };
}
