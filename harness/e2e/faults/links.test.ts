// Fault matrix, group "links": the board's ports misbehaving under a running `qhil run`, over a
// socat pseudo-terminal and over raw TCP (served as ser2net serves a USB port). The simulated board
// runs in this process and is served on real ports; qhil is a separate process, as a user runs it.
// A port that vanishes for good is the rig's ERROR, naming the port, within a second (plus the
// reconnect wait a retry is allowed); a port that comes back (re-enumeration, a reboot) is met by a
// retry and the run PASSes; a port that never existed or is held by another run is ERROR, at once.
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { startSimBoard, type SimBoard } from '../../sim/board.js';
import { servePty, serveTcp, type ServedBoard } from '../../sim/serve.js';
import { skipWithoutSocat, socatPidsFor } from '../../testing/socat.js';
import { caseFolder, observe, readRunFolder, runQhilLimited, startQhil, verdictOf, type Observation, limiter } from './matrix.js';

const GROUP = 'links';
const KINDS = ['pty', 'tcp'] as const;
type Kind = (typeof KINDS)[number];

const { file, outDir } = caseFolder('links');

/** The step the board is in when its port goes: 3 s asleep, a 10 s limit. */
const STEP_TIMEOUT_MS = 10_000;
const sleepy = (retries: number): string =>
  file(
    `sleepy-${retries}.yaml`,
    `name: sleepy\ntimeout: 40s\nsteps:\n  - repl: { code: "import utime\\nutime.sleep(3)", timeout: 10s, retries: ${retries} }\n`,
  );
const SLEEPY = { 0: sleepy(0), 1: sleepy(1), 2: sleepy(2) };
/** Two reads 3 s apart: long enough for a second run to try the same port meanwhile. */
const READ_LIMIT_MS = 3000;
const WAIT_MS = 3000;
const TWO_READS = file(
  'two-reads.yaml',
  'name: two-reads\ntimeout: 30s\nsteps:\n  - read-time: { via: repl, as: t1, timeout: 3s }\n  - wait: { for: 3s }\n  - read-time: { via: repl, as: t2, timeout: 3s }\n',
);
const AT_ONLY = file('at-only.yaml', 'name: at-only\ntimeout: 10s\nsteps:\n  - at: { command: AT }\n');

/** Starting node, opening and identifying the board, writing the reports, exiting. */
const RUN_OVERHEAD_MS = 4000;
/** A port that is missing or taken is known at open: the run ends at once, retries or not. */
const OPEN_FAILS_MS = 2000;
/** From the step's start until its code is on the board and asleep. */
const SETTLE_MS = 400;
/** The first retry's back-off (runner/attempt.ts: 250 ms, doubling). */
const FIRST_BACKOFF_MS = 250;
/** "Within a second" (1.5 s on a loaded 2-core machine): a vanished port noticed, the step ended, the reports written, the process gone. */
const NOTICE_MS = 1500;
/** A whole TWO_READS run: both reads at their limit (a lost port is waited for that long), and the wait. */
const TWO_READS_DEADLINE_MS = RUN_OVERHEAD_MS + 2 * READ_LIMIT_MS + WAIT_MS;

/** vitest's limit for one case, waiting for a slot included; the judge's deadlines are the real bounds. */
const CASE_TIMEOUT_MS = 90_000;

/**
 * At most two cases at once (each a qhil process and a served board): the host has two cores, and a
 * starved one would turn the "within a second" bounds into noise.
 */
const limited = limiter(2);

interface Bench {
  board: SimBoard;
  served: ServedBoard;
}

let benchCounter = 0;
async function withBench<T>(kind: Kind, work: (bench: Bench) => Promise<T>): Promise<T> {
  const board = await startSimBoard({ profile: 'ec200u', name: `links-${++benchCounter}` });
  let served: ServedBoard | undefined;
  try {
    served = kind === 'pty' ? await servePty(board) : await serveTcp(board);
    return await work({ board, served });
  } finally {
    await served?.close();
    await board.close();
  }
}

/** Resolves once the run in `outDir` has started step `index` (events.jsonl); rejects after `deadlineMs`. */
async function untilStepStarted(outDir: string, index: number, deadlineMs: number): Promise<void> {
  const endMs = performance.now() + deadlineMs;
  while (!(readRunFolder(outDir).events ?? []).some((event) => event.type === 'step-start' && event.index === index)) {
    if (performance.now() > endMs) throw new Error(`the run in ${outDir} did not start step ${index + 1} within ${deadlineMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The first scenario's first step in result.json. */
function firstStep(observation: Observation): { attempts: number; outcome: string } | undefined {
  return observation.result?.boards[0]?.scenarios[0]?.steps[0];
}

/**
 * Starts `qhil run <scenario>` on `port`, waits until step 1 runs (and SETTLE_MS more), does `act`
 * (the fault), and observes the run to its end. `actedAtMs` is when `act` resolved (host monotonic).
 */
async function runWhile(
  scenario: string,
  portArgs: string[],
  deadlineMs: number,
  act: () => Promise<void>,
): Promise<{ observation: Observation; actedAtMs: number; endedAtMs: number }> {
  const out = outDir();
  const startedAt = performance.now();
  const child = startQhil(['run', scenario, ...portArgs, '--out', out], { deadlineMs });
  let actedAtMs = Number.NaN;
  try {
    await untilStepStarted(out, 0, RUN_OVERHEAD_MS + 2000);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    await act();
    actedAtMs = performance.now();
  } catch (error) {
    child.kill('SIGKILL');
    await child.catch(() => undefined);
    throw error;
  }
  const observation = await observe(child, startedAt, out);
  return { observation, actedAtMs, endedAtMs: startedAt + observation.elapsedMs };
}

/**
 * Kills the socat serving `path` outright, as a USB port vanishes, then removes the link it leaves, as
 * udev removes a vanished device's name: a dangling link would point at whatever pseudo-terminal next
 * gets the same number (another case's board).
 */
async function killSocat(path: string): Promise<void> {
  const pids = await socatPidsFor(path);
  expect(pids).toHaveLength(1);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  rmSync(path, { force: true });
}

const portPattern = (port: string): RegExp => new RegExp(port.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

describe.skipIf(skipWithoutSocat).concurrent('fault matrix: ports that vanish, come back, never were, or are taken', () => {
  for (const kind of KINDS) {
    for (const retries of [0, 1] as const) {
      // A retry waits for the port to come back, bounded by the step's own limit (runner/attempt.ts).
      const reconnectWaitMs = retries === 0 ? 0 : FIRST_BACKOFF_MS + STEP_TIMEOUT_MS;
      const name = `${kind}: unplugged for good mid-step, retries ${retries}`;
      it(name, async () => {
        await limited(() =>
          withBench(kind, async ({ board, served }) => {
            const deadlineMs = RUN_OVERHEAD_MS + SETTLE_MS + NOTICE_MS + reconnectWaitMs;
            const { observation, actedAtMs, endedAtMs } = await runWhile(SLEEPY[retries], ['--repl', served.ports.repl], deadlineMs, () => board.control.unplug());
            const problems = verdictOf(GROUP, name, observation, { exit: 3, outcome: 'ERROR', fault: 'rig', says: portPattern(served.ports.repl), deadlineMs });
            expect(problems, observation.stdout + observation.stderr).toEqual([]);
            expect(endedAtMs - actedAtMs, 'from the unplug to the end of the run').toBeLessThan(NOTICE_MS + reconnectWaitMs);
          }),
        );
      }, CASE_TIMEOUT_MS);
    }
  }

  for (const retries of [0, 1] as const) {
    const reconnectWaitMs = retries === 0 ? 0 : FIRST_BACKOFF_MS + STEP_TIMEOUT_MS;
    const name = `pty: socat killed mid-step, retries ${retries}`;
    it(name, async () => {
      await limited(() =>
        withBench('pty', async ({ served }) => {
          const deadlineMs = RUN_OVERHEAD_MS + SETTLE_MS + NOTICE_MS + reconnectWaitMs;
          const { observation, actedAtMs, endedAtMs } = await runWhile(SLEEPY[retries], ['--repl', served.ports.repl], deadlineMs, () => killSocat(served.ports.repl));
          const problems = verdictOf(GROUP, name, observation, { exit: 3, outcome: 'ERROR', fault: 'rig', says: portPattern(served.ports.repl), deadlineMs });
          expect(problems, observation.stdout + observation.stderr).toEqual([]);
          expect(endedAtMs - actedAtMs, 'from the kill to the end of the run').toBeLessThan(NOTICE_MS + reconnectWaitMs);
        }),
      );
    }, CASE_TIMEOUT_MS);
  }

  for (const kind of KINDS) {
    const name = `${kind}: unplugged mid-step, replugged after 2 s (re-enumeration), retries 2`;
    it(name, async () => {
      await limited(() =>
        withBench(kind, async ({ board, served }) => {
          // Away 2 s, then the step (3 s asleep) once more.
          const deadlineMs = RUN_OVERHEAD_MS + SETTLE_MS + 2000 + 3000 + 2000;
          let replug: Promise<void> = Promise.resolve();
          const { observation } = await runWhile(SLEEPY[2], ['--repl', served.ports.repl], deadlineMs, async () => {
            await board.control.unplug();
            replug = new Promise<void>((resolve) => setTimeout(resolve, 2000)).then(() => board.control.replug());
          });
          await replug;
          const problems = verdictOf(GROUP, name, observation, { exit: 0, outcome: 'PASS', says: /PASS/, deadlineMs });
          expect(problems, observation.stdout + observation.stderr).toEqual([]);
          expect(firstStep(observation)?.attempts, 'attempts of the step that lost its port').toBeGreaterThan(1);
        }),
      );
    }, CASE_TIMEOUT_MS);
  }

  for (const kind of KINDS) {
    const name = `${kind}: hard reboot mid-step, retries 2`;
    it(name, async () => {
      await limited(() =>
        withBench(kind, async ({ board, served }) => {
          // The profile's 800 ms reboot, then the step (3 s asleep) once more.
          const deadlineMs = RUN_OVERHEAD_MS + SETTLE_MS + 1000 + 3000 + 2000;
          const { observation } = await runWhile(SLEEPY[2], ['--repl', served.ports.repl], deadlineMs, () => board.control.reboot('hard'));
          const problems = verdictOf(GROUP, name, observation, { exit: 0, outcome: 'PASS', says: /PASS/, deadlineMs });
          expect(problems, observation.stdout + observation.stderr).toEqual([]);
          expect(firstStep(observation)?.attempts, 'attempts of the step that lost its port').toBeGreaterThan(1);
        }),
      );
    }, CASE_TIMEOUT_MS);
  }

  const missing: { name: string; args: string[]; port: string; scenario: string }[] = [
    { name: 'pty: a port that never existed (--repl /dev/ttyQHIL-none)', args: ['--repl', '/dev/ttyQHIL-none'], port: '/dev/ttyQHIL-none', scenario: SLEEPY[2] },
    { name: 'tcp: a port that never existed (--at tcp://127.0.0.1:1)', args: ['--at', 'tcp://127.0.0.1:1'], port: 'tcp://127.0.0.1:1', scenario: AT_ONLY },
  ];
  for (const c of missing) {
    it(c.name, async () => {
      const deadlineMs = OPEN_FAILS_MS;
      const observation = await limited(() => {
        const out = outDir();
        return runQhilLimited(['run', c.scenario, ...c.args, '--out', out], { deadlineMs, outDir: out });
      });
      const problems = verdictOf(GROUP, c.name, observation, { exit: 3, outcome: 'ERROR', fault: 'rig', says: portPattern(c.port), deadlineMs });
      expect(problems, observation.stdout + observation.stderr).toEqual([]);
    }, CASE_TIMEOUT_MS);
  }
});

describe.skipIf(skipWithoutSocat)('fault matrix: two runs on one port', () => {
  /** Starts run A, and once its first read is done starts run B on the same port; observes both. */
  async function twoRuns(served: ServedBoard): Promise<{ a: Observation; b: Observation }> {
    const aOut = outDir();
    const bOut = outDir();
    const aStartedAt = performance.now();
    const aChild = startQhil(['run', TWO_READS, '--repl', served.ports.repl, '--out', aOut], { deadlineMs: TWO_READS_DEADLINE_MS });
    try {
      // Step 2 is the 3 s wait: A holds the port, and B's whole run fits in it.
      await untilStepStarted(aOut, 1, RUN_OVERHEAD_MS + 2000);
    } catch (error) {
      aChild.kill('SIGKILL');
      await aChild.catch(() => undefined);
      throw error;
    }
    const bStartedAt = performance.now();
    const b = await observe(startQhil(['run', TWO_READS, '--repl', served.ports.repl, '--out', bOut], { deadlineMs: TWO_READS_DEADLINE_MS }), bStartedAt, bOut);
    const a = await observe(aChild, aStartedAt, aOut);
    return { a, b };
  }

  it('pty: run B on the port run A holds is ERROR (port busy), at once; A still PASSes', async () => {
    await withBench('pty', async ({ served }) => {
      const { a, b } = await twoRuns(served);
      const bName = 'pty: second run on a port in use';
      const bProblems = verdictOf(GROUP, bName, b, {
        exit: 3,
        outcome: 'ERROR',
        fault: 'rig',
        says: new RegExp(`^(?=[\\s\\S]*${portPattern(served.ports.repl).source})(?=[\\s\\S]*(busy|lock|in use))`, 'i'),
        deadlineMs: OPEN_FAILS_MS,
      });
      const aProblems = verdictOf(GROUP, 'pty: first run while another tries its port', a, { exit: 0, outcome: 'PASS', says: /PASS/, deadlineMs: TWO_READS_DEADLINE_MS });
      expect({ a: aProblems, b: bProblems }, `A:\n${a.stdout}${a.stderr}\nB:\n${b.stdout}${b.stderr}`).toEqual({ a: [], b: [] });
    });
  }, CASE_TIMEOUT_MS);

  // A TCP serial server takes one client per port, and a newcomer replaces the old one (ser2net's
  // kickolduser): A may lose its port to B. Whatever happens, neither run may blame the board, and
  // each verdict must agree with its exit code and its record.
  it('tcp: two clients on one served port: never a false PASS or FAIL', async () => {
    await withBench('tcp', async ({ served }) => {
      const { a, b } = await twoRuns(served);
      const problems: Record<string, string[]> = {};
      for (const [which, observation] of [
        ['A', a],
        ['B', b],
      ] as const) {
        const name = `tcp: two clients on one port, run ${which}`;
        const deadlineMs = TWO_READS_DEADLINE_MS;
        // A run that kept its port passes; one that lost it is the rig's ERROR, naming the port.
        problems[which] =
          observation.exitCode === 0
            ? verdictOf(GROUP, name, observation, { exit: 0, outcome: 'PASS', says: /PASS/, deadlineMs })
            : verdictOf(GROUP, name, observation, { exit: 3, outcome: 'ERROR', fault: 'rig', says: portPattern(served.ports.repl), deadlineMs });
      }
      expect(problems, `A:\n${a.stdout}${a.stderr}\nB:\n${b.stdout}${b.stderr}`).toEqual({ A: [], B: [] });
    });
  }, CASE_TIMEOUT_MS);
});
