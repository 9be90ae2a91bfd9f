/**
 * The fault matrix, group "bad input": each case runs qhil as a process, the way a user does, on a
 * file or flag that is wrong, and expects exit 2 within a few seconds, no run folder written (nothing
 * was run), a message naming file:line:column where there is a file, and no megabytes echoed back.
 * Every file case is run through both `qhil run` (with a board that would otherwise start) and
 * `qhil validate`: one preflight, one verdict. Hostile files are generated here, never committed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeExpectation, describeObservation, judge, recordRow, runQhilLimited, type Expectation, type Observation } from './matrix.js';

const GROUP = 'bad input';
/** Bad input is refused before anything starts: a process start and a parse, on a loaded 2-core host. */
const DEADLINE_MS = 3000;
/** What a refusal may print, at most: a few readable lines, never the megabyte it was given. */
const MAX_OUTPUT_CHARS = 8 * 1024;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A folder of its own for one case (cases run concurrently): its input files, and `reports/` for --out. */
function caseDir(): { dir: string; outDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'qhil-input-'));
  dirs.push(dir);
  return { dir, outDir: join(dir, 'reports') };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `name` followed by a `:line:column` position (exact where given), then `rest`. */
function at(name: string, position: string, rest: string): RegExp {
  return new RegExp(`${escapeRegExp(name)}:${position}: ${rest}`);
}

/** The matrix judge, plus the output cap; records the row with every problem found. */
function verdict(name: string, observation: Observation, expected: Expectation): string[] {
  const problems = judge(observation, expected);
  const printed = observation.stdout.length + observation.stderr.length;
  if (printed > MAX_OUTPUT_CHARS) problems.push(`unreadable: printed ${printed} characters, more than ${MAX_OUTPUT_CHARS}`);
  recordRow({ group: GROUP, name, expected: describeExpectation(expected), got: describeObservation(observation), elapsedMs: Math.round(observation.elapsedMs), problems });
  return problems;
}

function runLimited(args: string[], outDir: string): Promise<Observation> {
  return runQhilLimited(args, { deadlineMs: DEADLINE_MS, outDir });
}

async function refused(name: string, args: (outDir: string) => string[], says: RegExp, outDir: string): Promise<string[]> {
  const observation = await runLimited(args(outDir), outDir);
  return verdict(name, observation, { exit: 2, outcome: 'none', says, deadlineMs: DEADLINE_MS });
}

const GOOD_SCENARIO = 'name: good\nsteps: [read-time]\n';

interface FileCase {
  name: string;
  /** The scenario file's name (it appears in the message) and its bytes, made when the case runs. */
  file: string;
  bytes: () => string | Buffer;
  says: (file: string) => RegExp;
}

function aliasBomb(prefix: string): string {
  const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  const names = 'abcdefghi';
  for (let i = 1; i < names.length; i++) levels.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(', ')}]`);
  return `${prefix}${levels.join('\n')}\n`;
}

const scenarioCases: FileCase[] = [
  {
    name: 'a YAML alias bomb (billion laughs)',
    file: 'bomb.yaml',
    bytes: () => aliasBomb(GOOD_SCENARIO),
    says: (file) => at(file, '4:8', 'aliases here expand to more than 100 nodes'),
  },
  {
    name: 'nesting 10,000 levels deep',
    file: 'deep.yaml',
    bytes: () => `${GOOD_SCENARIO}extra: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`,
    says: (file) => at(file, '3:\\d+', 'YAML syntax error: nested too deeply'),
  },
  {
    name: 'UTF-16 with a byte-order mark (little-endian)',
    file: 'utf16le-bom.yaml',
    bytes: () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(GOOD_SCENARIO, 'utf16le')]),
    says: (file) => at(file, '1:1', 'the scenario file is UTF-16 .*save it as UTF-8'),
  },
  {
    name: 'UTF-16 with a byte-order mark (big-endian)',
    file: 'utf16be-bom.yaml',
    bytes: () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(GOOD_SCENARIO, 'utf16le')]).swap16(),
    says: (file) => at(file, '1:1', 'the scenario file is UTF-16 .*big-endian.*save it as UTF-8'),
  },
  {
    name: 'UTF-16 without a byte-order mark',
    file: 'utf16-nobom.yaml',
    bytes: () => Buffer.from(GOOD_SCENARIO, 'utf16le'),
    says: (file) => at(file, '1:2', 'NUL bytes between the characters: the file looks like UTF-16'),
  },
  {
    name: 'a NUL byte in a value',
    file: 'nul.yaml',
    bytes: () => `${GOOD_SCENARIO}description: "a\0b"\n`,
    says: (file) => at(file, '3:16', 'a NUL byte'),
  },
  {
    name: 'a 900 KB value where a duration goes (under the size cap)',
    file: 'long-value.yaml',
    bytes: () => `name: x\nsteps:\n  - wait: { for: ${'x'.repeat(900_000)} }\n`,
    says: (file) => at(file, '3:18', 'wait\\.for: bad duration "x{80}"\\.\\.\\. \\(900000 characters\\)'),
  },
  {
    name: 'a 2 MB value (over the size cap)',
    file: 'value-2mb.yaml',
    bytes: () => `${GOOD_SCENARIO}description: ${'x'.repeat(2 * 1024 * 1024)}\n`,
    says: (file) => at(file, '1:1', 'the file is over 2\\.0 MiB; a scenario or rig file may be at most 1\\.0 MiB'),
  },
  {
    name: 'a 10 MB file with an error on every line (over the size cap)',
    file: 'huge.yaml',
    bytes: () => `name: x\nsteps:\n${'  - dial: { via: repl: x }\n'.repeat(400_000)}`,
    says: (file) => at(file, '1:1', 'the file is over 10\\.3 MiB'),
  },
  {
    name: 'an unknown step kind',
    file: 'kind.yaml',
    bytes: () => 'name: x\nsteps:\n  - dail: { via: repl }\n',
    says: (file) => at(file, '3:5', 'unknown step kind "dail" \\(did you mean "dial"\\?\\)'),
  },
  {
    name: 'an unknown key',
    file: 'key.yaml',
    bytes: () => 'name: x\nsteps:\n  - sync: { via: repl, sever: pool.ntp.org }\n',
    says: (file) => at(file, '3:24', 'sync: unknown key "sever" \\(did you mean "server"\\?\\)'),
  },
  {
    name: 'two steps with the same as: name',
    file: 'dup-as.yaml',
    bytes: () => 'name: x\nsteps:\n  - read-time: { as: t1 }\n  - read-time: { as: t1 }\n',
    says: (file) => at(file, '4:5', 'read-time sets "t1", which read-time at line 3 already set'),
  },
  {
    name: 'a compare reading a name no read-time set',
    file: 'unset-read.yaml',
    bytes: () => 'name: x\nsteps:\n  - read-time: { as: t1 }\n  - compare: { read: t9, tolerance: 2s }\n',
    says: (file) => at(file, '4:5', 'compare reads "t9", but no earlier step sets it'),
  },
  {
    name: "a 3 s wait in a 1 s scenario",
    file: 'long-wait.yaml',
    bytes: () => 'name: x\ntimeout: 1s\nsteps:\n  - wait: { for: 3s }\n',
    says: (file) => at(file, '4:5', "wait: the scenario's waits alone add up to 3\\.00s by this step, more than its timeout of 1\\.00s"),
  },
  {
    name: 'a step timeout of 99999999999h',
    file: 'step-timeout.yaml',
    bytes: () => 'name: x\nsteps:\n  - dial: { via: repl, timeout: 99999999999h }\n',
    says: (file) => at(file, '3:33', 'dial\\.timeout: bad duration "99999999999h": longer than 24h'),
  },
  {
    name: 'a reference server that does not parse, in the scenario',
    file: 'bad-reference.yaml',
    bytes: () => 'name: x\nreference: { servers: ["bad host:99999"] }\nsteps: [read-time]\n',
    says: (file) => at(file, '2:24', 'reference\\.servers\\[0\\]: bad reference server "bad host:99999"'),
  },
  {
    name: 'a repl match that is not a regular expression',
    file: 'bad-regex.yaml',
    bytes: () => 'name: x\nsteps:\n  - repl: { code: "print(1)", match: "((" }\n',
    says: (file) => at(file, '3:38', 'repl\\.match: not a regular expression'),
  },
];

function rigWith(board: string): string {
  return `name: r\nboards:\n${board}`;
}

const rigCases: FileCase[] = [
  {
    name: 'a rig with the same port on two boards',
    file: 'same-port.yaml',
    bytes: () => rigWith('  - { id: a, at: tcp://127.0.0.1:3001 }\n  - { id: b, at: tcp://127.0.0.1:3001 }\n'),
    says: (file) => at(file, '4:5', "board b: at: tcp://127\\.0\\.0\\.1:3001 is the same port as board a's at port"),
  },
  {
    name: 'a rig with an unknown sim fault',
    file: 'unknown-fault.yaml',
    bytes: () => rigWith('  - id: s\n    sim: { profile: ec200u, faults: [usb-unplug] }\n'),
    says: (file) => at(file, '4:38', 'boards\\[0\\]\\.sim\\.faults\\[0\\]: unknown sim fault "usb-unplug": expected one of '),
  },
  {
    name: 'a rig with a bad sim fault value',
    file: 'bad-fault-value.yaml',
    bytes: () => rigWith('  - id: s\n    sim: { profile: ec200u, faults: [garbled-output=2] }\n'),
    says: (file) => at(file, '4:38', 'boards\\[0\\]\\.sim\\.faults\\[0\\]: sim fault "garbled-output": bad value "2"'),
  },
  {
    name: 'a rig with a missing sim profile',
    file: 'missing-profile.yaml',
    bytes: () => rigWith('  - id: s\n    sim: { profile: no-such-profile }\n'),
    says: (file) => at(file, '3:5', 'board s: no board profile "no-such-profile"'),
  },
  {
    name: 'a rig that is a YAML alias bomb',
    file: 'rig-bomb.yaml',
    bytes: () => aliasBomb('name: r\nboards: [{ id: a, at: /dev/ttyUSB2 }]\n'),
    says: (file) => at(file, '4:8', 'aliases here expand to more than 100 nodes'),
  },
];

/** Writes a case's file (and a good scenario beside it) into the case's own folder. */
function prepare(fileCase: FileCase): { path: string; good: string; outDir: string } {
  const { dir, outDir } = caseDir();
  const path = join(dir, fileCase.file);
  writeFileSync(path, fileCase.bytes());
  const good = join(dir, 'good.yaml');
  writeFileSync(good, GOOD_SCENARIO);
  return { path, good, outDir };
}

describe.concurrent('bad input: a scenario file, refused by qhil run and qhil validate alike', () => {
  for (const fileCase of scenarioCases) {
    it(`${fileCase.name} (qhil run --board sim)`, async () => {
      const { path, outDir } = prepare(fileCase);
      const problems = await refused(`${fileCase.name} (run)`, (out) => ['run', path, '--board', 'sim', '--out', out], fileCase.says(fileCase.file), outDir);
      expect(problems).toEqual([]);
    });
    it(`${fileCase.name} (qhil validate)`, async () => {
      const { path, outDir } = prepare(fileCase);
      const problems = await refused(`${fileCase.name} (validate)`, () => ['validate', path], fileCase.says(fileCase.file), outDir);
      expect(problems).toEqual([]);
    });
  }
});

describe.concurrent('bad input: a rig file, refused by qhil run and qhil validate alike', () => {
  for (const rigCase of rigCases) {
    it(`${rigCase.name} (qhil run --rig)`, async () => {
      const { path, good, outDir } = prepare(rigCase);
      const problems = await refused(`${rigCase.name} (run)`, (out) => ['run', good, '--rig', path, '--out', out], rigCase.says(rigCase.file), outDir);
      expect(problems).toEqual([]);
    });
    it(`${rigCase.name} (qhil validate --rig)`, async () => {
      const { path, good, outDir } = prepare(rigCase);
      const problems = await refused(`${rigCase.name} (validate)`, () => ['validate', good, '--rig', path], rigCase.says(rigCase.file), outDir);
      expect(problems).toEqual([]);
    });
  }
});

describe.concurrent('bad input: flags', () => {
  function goodScenario(): { good: string; outDir: string } {
    const { dir, outDir } = caseDir();
    const good = join(dir, 'good.yaml');
    writeFileSync(good, GOOD_SCENARIO);
    return { good, outDir };
  }

  const referenceSays = /--reference: bad (?:reference|NTP) server "bad host:99999"/;

  it("--reference 'bad host:99999' (qhil run --board sim)", async () => {
    const { good, outDir } = goodScenario();
    const args = (out: string): string[] => ['run', good, '--board', 'sim', '--reference', 'bad host:99999', '--out', out];
    expect(await refused('--reference bad host:99999 (run)', args, referenceSays, outDir)).toEqual([]);
  });

  it("--reference 'bad host:99999' (qhil validate)", async () => {
    const { good, outDir } = goodScenario();
    expect(await refused('--reference bad host:99999 (validate)', () => ['validate', good, '--reference', 'bad host:99999'], referenceSays, outDir)).toEqual([]);
  });

  it('--samples 0 with --reference (qhil run --board sim)', async () => {
    const { good, outDir } = goodScenario();
    const args = (out: string): string[] => ['run', good, '--board', 'sim', '--reference', '127.0.0.1:1', '--samples', '0', '--out', out];
    expect(await refused('--samples 0 with --reference (run)', args, /--samples 0: expected a whole number from 1 to 64/, outDir)).toEqual([]);
  });

  it('--samples 0 without --reference (qhil run --board sim)', async () => {
    const { good, outDir } = goodScenario();
    const args = (out: string): string[] => ['run', good, '--board', 'sim', '--samples', '0', '--out', out];
    expect(await refused('--samples 0 without --reference (run)', args, /--samples 0: expected a whole number from 1 to 64/, outDir)).toEqual([]);
  });

  it('no board flag (qhil run)', async () => {
    const { good, outDir } = goodScenario();
    expect(await refused('no board flag (run)', (out) => ['run', good, '--out', out], /no board: give --rig <rig\.yaml>, --board sim, or --repl/, outDir)).toEqual([]);
  });

  it('qhil exec --repl garbage', async () => {
    const { outDir } = caseDir();
    const says = /--repl: bad port address "garbage": expected a device path/;
    expect(await refused('exec --repl garbage', () => ['exec', '--repl', 'garbage', 'print(1)'], says, outDir)).toEqual([]);
  });

  it('qhil exec --repl /dev/null --timeout 99999999999h', async () => {
    const { outDir } = caseDir();
    const says = /--timeout: bad duration "99999999999h": longer than 24h/;
    const args = (): string[] => ['exec', '--repl', '/dev/null', '--timeout', '99999999999h', 'print(1)'];
    expect(await refused('exec --timeout 99999999999h', args, says, outDir)).toEqual([]);
  });

  it('qhil sntp --timeout 99999999999h', async () => {
    const { outDir } = caseDir();
    const says = /--timeout: bad duration "99999999999h": longer than 24h/;
    expect(await refused('sntp --timeout 99999999999h', () => ['sntp', '127.0.0.1', '--timeout', '99999999999h'], says, outDir)).toEqual([]);
  });

  it('qhil sntp --samples 0', async () => {
    const { outDir } = caseDir();
    const says = /--samples: expected a whole number from 1 to 64, got "0"/;
    expect(await refused('sntp --samples 0', () => ['sntp', '127.0.0.1', '--samples', '0'], says, outDir)).toEqual([]);
  });
});

describe('not bad input', () => {
  // A pattern that backtracks catastrophically is a valid regular expression: it is bounded when it
  // runs (UserPattern), not refused at load. Refusing it here would be a false alarm.
  it("a catastrophic regex match: '^(a+)+$' is valid (qhil validate exits 0)", async () => {
    const { dir, outDir } = caseDir();
    const file = join(dir, 'slow-regex.yaml');
    writeFileSync(file, "name: x\nsteps:\n  - repl: { code: \"print('a' * 40 + '!')\", match: '^(a+)+$' }\n");
    const observation = await runLimited(['validate', file], outDir);
    const problems = verdict("catastrophic regex '^(a+)+$' is valid (validate)", observation, {
      exit: 0,
      outcome: 'none',
      says: new RegExp(`ok  ${escapeRegExp(file)}  \\(1 step\\)`),
      deadlineMs: DEADLINE_MS,
    });
    expect(problems).toEqual([]);
  });
});
