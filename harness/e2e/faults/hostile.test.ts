/**
 * The fault matrix, "hostile boards": `qhil run` and `qhil exec` as a user runs them, against fake
 * boards that misbehave on purpose (harness/testing/hostile-board.ts) over a socat PTY and loopback
 * TCP. Each case is judged by matrix.ts (no hang, the right class, said clearly, nothing lost, no raw
 * control byte on the terminal); some add what only their fault can break (a capped transcript, a
 * junit.xml that parses, a summary.md whose code fences hold).
 *
 * Cases that mostly wait on a board run side by side, their processes started at least
 * START_SPACING_MS apart so no two node start-ups compete for the 2 cores; the floods run one at a
 * time, since a TCP flood keeps a core busy.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SaxesParser } from 'saxes';
import { afterAll, describe, it, type TestContext } from 'vitest';
import { startHostileBoard, type HostileBoardOptions } from '../../testing/hostile-board.js';
import { skipWithoutSocat } from '../../testing/socat.js';
import { freshOutDir, runQhil, verdictOf, type Expectation, type Observation } from './matrix.js';

const GROUP = 'hostile boards';
const TRANSPORTS = ['pty', 'tcp'] as const;

/** Every step's own timeout: short, so a bounded case ends fast. */
const STEP_TIMEOUT_MS = 2000;
/** The process itself: node start, opening the port, writing the reports (matrix GRACE_MS and LOADED_HOST_MS cover a loaded host on top). */
const STARTUP_MS = 1500;
/**
 * What `qhil run` spends identifying a board before the first step, by what the board does (the
 * runner's identify has a 15 s budget of its own, whatever the scenario says):
 * - silent on the REPL: the raw-REPL attempt and the friendly fall-back each end after the 2 s
 *   handshake inactivity limit;
 * - talking without ever prompting on the REPL: the raw attempt and the friendly fall-back each
 *   bounded by the REPL's 5 s enter deadline (inactivity never fires while bytes come);
 * - on the AT port: ATI's own 2 s limit, silent or not.
 */
const REPL_IDENTIFY_SILENT_MS = 2 * 2000;
const REPL_IDENTIFY_TALKING_MS = 2 * 5000;
const AT_IDENTIFY_MS = 2000;
/** Least time between two qhil processes starting (host monotonic): start-up is the CPU-heavy part. */
const START_SPACING_MS = 500;
/** The flood's transcript may hold this much at most (the issue saw 714 MB in 20 s). */
const TRANSCRIPT_CAP_BYTES = 70 * 1024 * 1024;

let nextStartMs = 0;
/** Resolves when this case may start its process: START_SPACING_MS after the one before. */
async function startSlot(): Promise<void> {
  const nowMs = performance.now();
  const startMs = Math.max(nowMs, nextStartMs);
  nextStartMs = startMs + START_SPACING_MS;
  if (startMs > nowMs) await new Promise((resolve) => setTimeout(resolve, startMs - nowMs));
}

/** `qhil <args>` once its start slot comes (the deadline counts from the process's start). */
async function qhil(args: string[], options: { deadlineMs: number; outDir?: string }): Promise<Observation> {
  await startSlot();
  return runQhil(args, options);
}

const scratch = mkdtempSync(join(tmpdir(), 'qhil-hostile-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A hostile board for this test only: stopped (no socat, no listener left) when the test ends. */
async function hostileBoard(context: TestContext, options: HostileBoardOptions): Promise<string> {
  const { board, address } = await startHostileBoard(options);
  context.onTestFinished(() => board.stop());
  return address;
}

/**
 * A PTY board that floods from the moment it is opened and never gives up on a slow reader: socat
 * feeding a node writer that waits for each chunk to drain. (The hostile board's PTY flood stalls
 * and its end closes when qhil stops asking, see the report of this suite, which no real port does.)
 */
async function ptyFlooder(context: TestContext): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'qhil-flood-'));
  const path = join(dir, 'host');
  // A file, not `node -e`: socat would split the code at its commas.
  const writer = join(dir, 'flood.cjs');
  writeFileSync(
    writer,
    "const chunk = Buffer.alloc(16384, 'flood ');\n" +
      "process.stdout.on('error', () => process.exit(0));\n" +
      "const write = () => { while (process.stdout.write(chunk)); process.stdout.once('drain', write); };\n" +
      'write();\n',
  );
  const socat = execa('socat', [`pty,raw,echo=0,link=${path}`, `SYSTEM:node ${writer}`], { reject: false });
  context.onTestFinished(async () => {
    socat.kill('SIGTERM');
    await socat;
    rmSync(dir, { recursive: true, force: true });
  });
  const startedMs = performance.now();
  while (!existsSync(path)) {
    if (performance.now() - startedMs > 5000 || socat.exitCode !== null) throw new Error(`socat did not create ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return path;
}

function outDir(context: TestContext): string {
  const dir = freshOutDir();
  context.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A scenario file in the scratch folder; `steps` are YAML flow mappings, one a line. */
function scenarioFile(name: string, steps: string[], timeout = '30s'): string {
  const file = join(scratch, `${name}.yaml`);
  writeFileSync(file, [`name: ${name}`, `timeout: ${timeout}`, 'steps:', ...steps.map((step) => `  - ${step}`), ''].join('\n'));
  return file;
}

async function run(context: TestContext, scenario: string, ports: { repl?: string; at?: string }, deadlineMs: number): Promise<Observation> {
  const out = outDir(context);
  const portFlags = [...(ports.repl ? ['--repl', ports.repl] : []), ...(ports.at ? ['--at', ports.at] : [])];
  return qhil(['run', scenario, ...portFlags, '--out', out], { deadlineMs, outDir: out });
}

function verdict(name: string, observation: Observation, expected: Expectation): string[] {
  return verdictOf(GROUP, name, observation, expected);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Problems with an XML document: none when saxes parses it whole. */
function xmlProblems(xml: string | undefined): string[] {
  if (xml === undefined) return ['no junit.xml'];
  const problems: string[] = [];
  const parser = new SaxesParser();
  parser.on('error', (error) => problems.push(`junit.xml does not parse: ${error.message}`));
  parser.write(xml).close();
  return problems;
}

/**
 * Problems with summary.md as Markdown renders it: a raw ESC, a code fence left open, or the hostile
 * board's text (its `# heading` line, `<script>`) outside a fence or code span, where it would render.
 */
function markdownProblems(runDir: string | undefined): string[] {
  if (!runDir) return ['no run folder'];
  const markdown = readFileSync(join(runDir, 'summary.md'), 'utf8');
  const problems: string[] = [];
  if (markdown.includes('\x1b')) problems.push('summary.md holds a raw ESC');
  let fence: string | undefined;
  for (const [index, line] of markdown.split('\n').entries()) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined) {
      if (marker) {
        fence = marker;
        continue;
      }
      const prose = line.replace(/(?<!`)(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, '');
      if (/^#+ heading/.test(prose) || prose.includes('<script>')) problems.push(`summary.md line ${index + 1} renders board text: ${JSON.stringify(line.slice(0, 120))}`);
    } else if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) {
      fence = undefined;
    }
  }
  if (fence !== undefined) problems.push(`summary.md ends inside a code fence (${fence})`);
  return problems;
}

function transcriptBytes(runDir: string | undefined): number {
  if (!runDir) return 0;
  const dir = join(runDir, 'transcripts');
  try {
    return readdirSync(dir).reduce((total, file) => total + statSync(join(dir, file)).size, 0);
  } catch {
    return 0;
  }
}

describe.skipIf(skipWithoutSocat)('fault matrix: hostile boards', () => {
  // Boards that mostly keep qhil waiting: side by side, the longest first.
  describe.concurrent('boards that keep qhil waiting', () => {
    describe.concurrent('a trickling board (a byte every 100 ms, never a prompt or final code)', () => {
      for (const transport of TRANSPORTS) {
        it(`repl step (${transport}): FAIL, the board's, ends by its deadlines although bytes keep coming`, async (context) => {
          const address = await hostileBoard(context, { behaviour: 'trickle', transport });
          const scenario = scenarioFile(`trickle-repl-${transport}`, ['repl: { code: "print(1)", timeout: 2s }']);
          const deadlineMs = REPL_IDENTIFY_TALKING_MS + STEP_TIMEOUT_MS + STARTUP_MS;
          const observation = await run(context, scenario, { repl: address }, deadlineMs);
          const problems = verdict(`trickling board, repl step, ${transport}`, observation, {
            exit: 1,
            outcome: 'FAIL',
            fault: 'board',
            says: /no raw REPL prompt within the deadline of \d+ms; \d+ bytes received/,
            deadlineMs,
          });
          context.expect(problems).toEqual([]);
        });

        it(`at step (${transport}): FAIL, the board's, ends by its deadlines although bytes keep coming`, async (context) => {
          const address = await hostileBoard(context, { behaviour: 'trickle', transport });
          const scenario = scenarioFile(`trickle-at-${transport}`, ['at: { command: "AT+CSQ", timeout: 2s }']);
          const deadlineMs = AT_IDENTIFY_MS + STEP_TIMEOUT_MS + STARTUP_MS;
          const observation = await run(context, scenario, { at: address }, deadlineMs);
          const problems = verdict(`trickling board, at step, ${transport}`, observation, {
            exit: 1,
            outcome: 'FAIL',
            fault: 'board',
            says: /within the deadline of \d+ms; [1-9]\d* bytes received/,
            deadlineMs,
          });
          context.expect(problems).toEqual([]);
        });
      }
    });

    describe.concurrent('a silent board', () => {
      for (const transport of TRANSPORTS) {
        for (const { via, step, identifyMs } of [
          { via: 'repl', step: 'repl: { code: "print(1)", timeout: 2s }', identifyMs: REPL_IDENTIFY_SILENT_MS },
          { via: 'at', step: 'at: { command: "AT+CSQ", timeout: 2s }', identifyMs: AT_IDENTIFY_MS },
        ] as const) {
          it(`${via} step (${transport}): ERROR, the rig's, says the board sent nothing`, async (context) => {
            const address = await hostileBoard(context, { behaviour: 'silent', transport });
            const scenario = scenarioFile(`silent-${via}-${transport}`, [step]);
            const deadlineMs = identifyMs + STEP_TIMEOUT_MS + STARTUP_MS;
            const observation = await run(context, scenario, { [via]: address }, deadlineMs);
            const problems = verdict(`silent board, ${via} step, ${transport}`, observation, {
              exit: 3,
              outcome: 'ERROR',
              fault: 'rig',
              says: /the board sent nothing/,
              deadlineMs,
            });
            context.expect(problems).toEqual([]);
          });
        }
      }
    });

    describe.concurrent('a board that vanishes mid-run', () => {
      for (const transport of TRANSPORTS) {
        it(`(${transport}): ERROR, the rig's, naming the port, within a second of the vanish`, async (context) => {
          const vanishAfterMs = 1000;
          const waitMs = 250;
          const address = await hostileBoard(context, { behaviour: 'vanish-after', transport, vanishAfterMs });
          // The board is in use when it goes: a short wait, then a step, over and over. The next step
          // after the vanish looks for the port again for at most its own timeout (1 s), then gives up.
          const steps = ['repl: { code: "print(0)", timeout: 1s }'];
          for (let i = 1; i <= 12; i += 1) steps.push(`wait: { for: ${waitMs}ms }`, `repl: { code: "print(${i})", timeout: 1s }`);
          const scenario = scenarioFile(`vanish-${transport}`, steps);
          const deadlineMs = vanishAfterMs + waitMs + 1000 + STARTUP_MS;
          const observation = await run(context, scenario, { repl: address }, deadlineMs);
          const problems = verdict(`board vanishes mid-run, ${transport}`, observation, {
            exit: 3,
            outcome: 'ERROR',
            fault: 'rig',
            says: new RegExp(escapeRegExp(address.replace(/^tcp:\/\//, ''))),
            deadlineMs,
          });
          const passedSteps = observation.result?.boards[0]?.scenarios[0]?.steps.filter((step) => step.outcome === 'PASS').length ?? 0;
          if (passedSteps < 2) problems.push(`only ${passedSteps} steps passed before the vanish: the board went before the run used it`);
          context.expect(problems).toEqual([]);
        });
      }
    });
  });

  describe.sequential('a flooding board', () => {
    /**
     * A wait step first, while the flood runs, so megabytes pass with no step reading and only the
     * transcript's own cap bounds its file: loopback TCP carries far more than 70 MiB in 3 s (a PTY
     * some 15 MB, so there the cap goes untested and the case checks the class and the bound).
     */
    const waitMs = 3000;
    for (const transport of TRANSPORTS) {
      it(`repl step after a wait (${transport}): FAIL, the board's, says it flooded; the transcript stays capped`, async (context) => {
        const address = transport === 'pty' ? await ptyFlooder(context) : await hostileBoard(context, { behaviour: 'flood', transport });
        const steps = [`wait: { for: ${waitMs}ms }`, 'repl: { code: "print(1)", timeout: 2s }'];
        const scenario = scenarioFile(`flood-repl-${transport}`, steps);
        const deadlineMs = waitMs + STEP_TIMEOUT_MS + STARTUP_MS;
        const observation = await run(context, scenario, { repl: address }, deadlineMs);
        const problems = verdict(`flooding board, repl step after a wait, ${transport}`, observation, {
          exit: 1,
          outcome: 'FAIL',
          fault: 'board',
          says: /flooded \d+ bytes/,
          deadlineMs,
        });
        const transcript = transcriptBytes(observation.runDir);
        if (transcript >= TRANSCRIPT_CAP_BYTES) problems.push(`the transcripts hold ${transcript} bytes, over ${TRANSCRIPT_CAP_BYTES}`);
        if (/Invalid string length|heap out of memory|FATAL ERROR/i.test(observation.stderr)) problems.push(`crashed: ${observation.stderr.slice(-300)}`);
        context.expect(problems).toEqual([]);
      });
    }
  });

  describe.concurrent('boards that answer at once', () => {
    describe.concurrent('a hostile board (escapes, OSC 52, NULs, </failure>, ]]>, fences in its identity and output)', () => {
      for (const transport of TRANSPORTS) {
        it(`repl step that passes (${transport}): PASS, exit 0; reports parse and hold no raw control byte`, async (context) => {
          const address = await hostileBoard(context, { behaviour: 'hostile', transport });
          const scenario = scenarioFile(`hostile-repl-pass-${transport}`, [`repl: { code: "print('hi')", match: "EC200U", timeout: 2s }`]);
          const deadlineMs = STEP_TIMEOUT_MS + STARTUP_MS;
          const observation = await run(context, scenario, { repl: address }, deadlineMs);
          const problems = verdict(`hostile board, repl step passes, ${transport}`, observation, { exit: 0, outcome: 'PASS', says: /PASS: 1 passed/, deadlineMs });
          problems.push(...xmlProblems(observation.junit), ...markdownProblems(observation.runDir));
          context.expect(problems).toEqual([]);
        });

        it(`repl step that fails (${transport}): FAIL, the board's; its output in the reports cannot break them`, async (context) => {
          const address = await hostileBoard(context, { behaviour: 'hostile', transport });
          const scenario = scenarioFile(`hostile-repl-fail-${transport}`, [`repl: { code: "print('hi')", match: "^all good$", timeout: 2s }`]);
          const deadlineMs = STEP_TIMEOUT_MS + STARTUP_MS;
          const observation = await run(context, scenario, { repl: address }, deadlineMs);
          const problems = verdict(`hostile board, repl step fails, ${transport}`, observation, {
            exit: 1,
            outcome: 'FAIL',
            fault: 'board',
            says: /does not match \/\^all good\$\//,
            deadlineMs,
          });
          problems.push(...xmlProblems(observation.junit), ...markdownProblems(observation.runDir));
          context.expect(problems).toEqual([]);
        });

        it(`at step, identity over AT (${transport}): PASS, exit 0; reports parse and hold no raw control byte`, async (context) => {
          const address = await hostileBoard(context, { behaviour: 'hostile', transport });
          const scenario = scenarioFile(`hostile-at-${transport}`, ['at: { command: "AT+QECHO", expect: "EC200U", timeout: 2s }']);
          const deadlineMs = STEP_TIMEOUT_MS + STARTUP_MS;
          const observation = await run(context, scenario, { at: address }, deadlineMs);
          const problems = verdict(`hostile board, at step, ${transport}`, observation, { exit: 0, outcome: 'PASS', says: /PASS: 1 passed/, deadlineMs });
          problems.push(...xmlProblems(observation.junit), ...markdownProblems(observation.runDir));
          // The identity did come from the board, escaped: the case cannot pass on an anonymous board.
          if (!observation.stdout.includes('ready: ') || !observation.stdout.includes('\\x1b]52;c;')) problems.push('the ready line does not show the hostile identity escaped');
          context.expect(problems).toEqual([]);
        });
      }
    });

    describe.concurrent('qhil exec against a hostile board', () => {
      for (const transport of TRANSPORTS) {
        it(`stdout holding \\x04 (${transport}): exit 0, the \\x04 shown escaped, no fake traceback`, async (context) => {
          const address = await hostileBoard(context, { behaviour: 'ctrl-d', transport });
          const deadlineMs = STARTUP_MS;
          const observation = await qhil(['exec', '--repl', address, 'print(1)'], { deadlineMs });
          const problems = verdict(`qhil exec, \\x04 in stdout, ${transport}`, observation, {
            exit: 0,
            outcome: undefined,
            says: /before\\x04Traceback \(most recent call last\):\r?\nafter/,
            deadlineMs,
          });
          if (/Traceback/.test(observation.stderr)) problems.push(`a fake traceback on stderr: ${JSON.stringify(observation.stderr.slice(0, 200))}`);
          if (!/^before\\x04Traceback \(most recent call last\):\r?\nafter\r?\n?$/.test(observation.stdout)) {
            problems.push(`stdout is not what the board printed: ${JSON.stringify(observation.stdout.slice(0, 200))}`);
          }
          context.expect(problems).toEqual([]);
        });

        it(`UTF-8 and an invalid byte (${transport}): exit 0, é€中 as printed, the byte shown`, async (context) => {
          const address = await hostileBoard(context, { behaviour: 'utf8', transport });
          const deadlineMs = STARTUP_MS;
          const observation = await qhil(['exec', '--repl', address, "print('x')"], { deadlineMs });
          const problems = verdict(`qhil exec, UTF-8 and an invalid byte, ${transport}`, observation, {
            exit: 0,
            outcome: undefined,
            says: /é€中(\\xff|\ufffd)/,
            deadlineMs,
          });
          if (!/^é€中(\\xff|\ufffd)\r?\n?$/.test(observation.stdout)) problems.push(`stdout is not what the board printed: ${JSON.stringify(observation.stdout.slice(0, 200))}`);
          context.expect(problems).toEqual([]);
        });

        it(`--timeout 1s, a trickling board (${transport}): exit 3 within the second, says which limit fired`, async (context) => {
          const address = await hostileBoard(context, { behaviour: 'trickle', transport });
          const timeoutMs = 1000;
          const deadlineMs = timeoutMs + STARTUP_MS;
          const observation = await qhil(['exec', '--repl', address, '--timeout', '1s', 'print(1)'], { deadlineMs });
          const problems = verdict(`qhil exec --timeout 1s, trickling board, ${transport}`, observation, {
            exit: 3,
            outcome: undefined,
            says: new RegExp(`within the deadline of ${timeoutMs}ms; [1-9]\\d* bytes received`),
            deadlineMs,
          });
          context.expect(problems).toEqual([]);
        });
      }
    });
  });
});
