// Fault matrix, group "reference": forged, implausible, silent and slow SNTP servers on loopback
// (testing/forged-sntp.ts) as the reference of `qhil run` and as the server of `qhil sntp`. A
// reference that cannot be believed leaves nothing to judge a board by: ERROR, the rig's fault,
// naming the server and why, never FAIL (the board did nothing wrong) and never PASS.
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUT_MS } from '../../clock/reference.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../clock/sntp/client.js';
import { startForgedSntp, type ForgedSntpMode, type ForgedSntpOptions } from '../../testing/forged-sntp.js';
import { caseFolder, runQhil, verdictOf, type Expectation, type Observation, limiter } from './matrix.js';

const GROUP = 'reference';
const { file, outDir: newOutDir } = caseFolder('reference');

// The simulated EC200U keeps the network's local time, UTC+1, until it is synced (scenarios/demo.yaml).
const READ_AND_COMPARE = file(
  'read-and-compare.yaml',
  'name: read-and-compare\ntimeout: 30s\nsteps:\n  - read-time: { via: repl, as: t1 }\n  - compare: { read: t1, timezone: 1, tolerance: 2s }\n',
);
// A compare whose own deadline is shorter than the reference query's.
const SHORT_COMPARE = file(
  'short-compare.yaml',
  'name: short-compare\ntimeout: 30s\nsteps:\n  - read-time: { via: repl, as: t1 }\n  - compare: { read: t1, timezone: 1, tolerance: 2s, timeout: 1s }\n',
);

/** Starting node, the simulated board and its world, reading its time, and closing it all. */
const RUN_OVERHEAD_MS = 6000;
/** `qhil run --reference` queries with the default deadline (cli/run-action.ts referenceFromFlags). */
const RUN_DEADLINE_MS = DEFAULT_TIMEOUT_MS + RUN_OVERHEAD_MS;
/** `qhil sntp` without --timeout: the same deadline, plus starting node on a busy host. */
const SNTP_DEADLINE_MS = DEFAULT_TIMEOUT_MS + 3000;

/** Bounds the qhil processes alive at once: the host has two cores, and an overloaded host is an ERROR of its own. */
const limited = limiter(4);

async function withServer<T>(options: ForgedSntpOptions, work: (address: string, port: number) => Promise<T>): Promise<T> {
  const { server, address } = await startForgedSntp(options);
  try {
    return await work(address, server.port);
  } finally {
    await server.stop();
  }
}

async function run(scenario: string, options: ForgedSntpOptions, deadlineMs = RUN_DEADLINE_MS): Promise<{ observation: Observation; port: number }> {
  return limited(() =>
    withServer(options, async (address, port) => {
      const outDir = newOutDir();
      const observation = await runQhil(['run', scenario, '--board', 'sim', '--reference', address, '--out', outDir], { deadlineMs, outDir });
      return { observation, port };
    }),
  );
}

async function sntp(options: ForgedSntpOptions): Promise<{ observation: Observation; port: number }> {
  return limited(() =>
    withServer(options, async (address, port) => ({
      observation: await runQhil(['sntp', address, '--samples', '2'], { deadlineMs: SNTP_DEADLINE_MS }),
      port,
    })),
  );
}

/** What a refused reference must say, besides the server's address: the reason, by mode. */
interface BadMode {
  name: string;
  options: ForgedSntpOptions;
  reason: RegExp;
}

const BAD_MODES: BadMode[] = [
  { name: 'far-off (100 years ahead)', options: { mode: 'far-off' }, reason: /implausible.*years/ },
  { name: 'far-off (2 days behind)', options: { mode: 'far-off', offsetMs: -2 * 86_400_000 }, reason: /implausible.*days/ },
  { name: 'era-wrap', options: { mode: 'era-wrap' }, reason: /implausible.*years/ },
  { name: 'zero-transmit', options: { mode: 'zero-transmit' }, reason: /zero timestamp/ },
  { name: 'wrong-origin', options: { mode: 'wrong-origin' }, reason: /origin mismatch/ },
  { name: 'kiss-o-death RATE', options: { mode: 'kiss-o-death' }, reason: /kiss RATE/ },
  { name: 'kiss-o-death DENY', options: { mode: 'kiss-o-death', kissCode: 'DENY' }, reason: /kiss DENY/ },
  { name: 'unsynchronised', options: { mode: 'unsynchronised' }, reason: /unsynchronised/ },
  { name: 't2-after-t3', options: { mode: 't2-after-t3' }, reason: /transmit before receive/ },
  { name: 'silent', options: { mode: 'silent' }, reason: /no reply|deadline/ },
  // Longer than one request's wait: every reply comes after its request was given up. A late reply
  // bears the nonce of an earlier request: the reason is a slow server, not a forged one.
  { name: `slow (${DEFAULT_REQUEST_TIMEOUT_MS + 500} ms)`, options: { mode: 'slow', delayMs: DEFAULT_REQUEST_TIMEOUT_MS + 500 }, reason: /late|slow/ },
  // Longer than the whole query.
  { name: `slow (${DEFAULT_TIMEOUT_MS + 1000} ms)`, options: { mode: 'slow', delayMs: DEFAULT_TIMEOUT_MS + 1000 }, reason: /no reply.*deadline|deadline.*no reply/ },
];

/** The server's address and the reason, in one message (the reason must be the named server's). */
function names(port: number, reason: RegExp): RegExp {
  return new RegExp(`127\\.0\\.0\\.1:${port}[^\\n]*(${reason.source})|(${reason.source})[^\\n]*127\\.0\\.0\\.1:${port}`);
}

const GOOD_MODES: { name: string; options: ForgedSntpOptions }[] = [
  { name: 'good', options: { mode: 'good' } },
  // Shorter than one request's wait: late, but in time.
  { name: 'slow (300 ms)', options: { mode: 'slow', delayMs: 300 } },
];

/**
 * Forgeries followed by the genuine reply. A reply that cannot be the answer (bad timestamps, a wrong
 * origin, an implausible time: the client judges its data) must be passed over, and the genuine one
 * that follows used. silent + genuine is the genuine reply alone.
 */
const FORGED_THEN_GENUINE: ForgedSntpMode[] = ['far-off', 'era-wrap', 'zero-transmit', 'wrong-origin', 't2-after-t3', 'silent'];
/**
 * A reply bearing our nonce in which the server itself says "do not use me" (a kiss, LI=3) is honoured
 * and ends the request, and a second reply to the same request is a duplicate (RFC 5905 section 8):
 * ERROR naming what the server said, never FAIL, never PASS on the duplicate.
 */
const REFUSAL_THEN_GENUINE: { mode: ForgedSntpMode; reason: RegExp }[] = [
  { mode: 'kiss-o-death', reason: /kiss RATE/ },
  { mode: 'unsynchronised', reason: /unsynchronised/ },
];

/** Each test may wait for a process slot (MAX_PROCESSES) before its own case runs. */
const TEST_TIMEOUT_MS = 60_000;

describe.concurrent('fault matrix: reference', () => {
  describe('qhil run --board sim --reference <forged server>', () => {
    for (const mode of BAD_MODES) {
      it(`${mode.name}: ERROR, exit 3, the rig's fault, naming the server and why`, async () => {
        const { observation, port } = await run(READ_AND_COMPARE, mode.options);
        const expected: Expectation = { exit: 3, outcome: 'ERROR', fault: 'rig', says: names(port, mode.reason), deadlineMs: RUN_DEADLINE_MS };
        expect(verdictOf(GROUP, `run: ${mode.name}`, observation, expected)).toEqual([]);
      }, TEST_TIMEOUT_MS);
    }

    for (const mode of GOOD_MODES) {
      it(`${mode.name}: PASS, exit 0`, async () => {
        const { observation } = await run(READ_AND_COMPARE, mode.options);
        const expected: Expectation = { exit: 0, outcome: 'PASS', says: /board offset [+-]\d.*: PASS/, deadlineMs: RUN_DEADLINE_MS };
        expect(verdictOf(GROUP, `run: ${mode.name}`, observation, expected)).toEqual([]);
      }, TEST_TIMEOUT_MS);
    }

    for (const mode of FORGED_THEN_GENUINE) {
      it(`${mode} followed by the genuine reply: PASS, exit 0 (the genuine reply is used)`, async () => {
        const { observation } = await run(READ_AND_COMPARE, { mode, alsoGenuine: true });
        const expected: Expectation = { exit: 0, outcome: 'PASS', says: /board offset [+-]\d.*: PASS/, deadlineMs: RUN_DEADLINE_MS };
        expect(verdictOf(GROUP, `run: ${mode} + genuine`, observation, expected)).toEqual([]);
      }, TEST_TIMEOUT_MS);
    }

    for (const { mode, reason } of REFUSAL_THEN_GENUINE) {
      it(`${mode} followed by a second reply: ERROR, exit 3, the rig's fault (the server's own refusal is honoured)`, async () => {
        const { observation, port } = await run(READ_AND_COMPARE, { mode, alsoGenuine: true });
        const expected: Expectation = { exit: 3, outcome: 'ERROR', fault: 'rig', says: names(port, reason), deadlineMs: RUN_DEADLINE_MS };
        expect(verdictOf(GROUP, `run: ${mode} + second reply`, observation, expected)).toEqual([]);
      }, TEST_TIMEOUT_MS);
    }

    it('a compare with timeout 1s against a server answering in 3 s: ERROR, the rig, the time went on the reference', async () => {
      const deadlineMs = 1000 + RUN_OVERHEAD_MS;
      const { observation } = await run(SHORT_COMPARE, { mode: 'slow', delayMs: 3000 }, deadlineMs);
      // Said so (or, on a host too loaded to keep time, that), and the board not blamed in words either
      // ("the board sent nothing ... is it powered, cabled and on this port?").
      const says = /^(?![\s\S]*(powered|cabled|the board sent nothing))[\s\S]*(waiting for the reference clock|the host itself was overloaded)/;
      const expected: Expectation = { exit: 3, outcome: 'ERROR', fault: 'rig', says, deadlineMs };
      expect(verdictOf(GROUP, 'run: compare timeout 1s, reference 3 s slow', observation, expected)).toEqual([]);
    }, TEST_TIMEOUT_MS);
  });

  describe('qhil sntp <forged server> --samples 2', () => {
    for (const mode of BAD_MODES) {
      it(`${mode.name}: exit 3, naming the server and why`, async () => {
        const { observation, port } = await sntp(mode.options);
        const expected: Expectation = { exit: 3, says: names(port, mode.reason), deadlineMs: SNTP_DEADLINE_MS };
        expect(verdictOf(GROUP, `sntp: ${mode.name}`, observation, expected)).toEqual([]);
      }, TEST_TIMEOUT_MS);
    }

    for (const mode of GOOD_MODES) {
      it(`${mode.name}: exit 0, the offset`, async () => {
        const { observation, port } = await sntp(mode.options);
        const expected: Expectation = { exit: 0, says: new RegExp(`127\\.0\\.0\\.1:${port}\\s+offset [+-]\\d.*ok`), deadlineMs: SNTP_DEADLINE_MS };
        expect(verdictOf(GROUP, `sntp: ${mode.name}`, observation, expected)).toEqual([]);
      }, TEST_TIMEOUT_MS);
    }
  });
});
