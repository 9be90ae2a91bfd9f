import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRunnable } from '../runner/preflight.js';
import { loadRig } from '../runner/rig.js';
import { loadScenario } from '../runner/scenario.js';
import { ExitCode, type CliIo } from './command.js';
import { main } from './main.js';

async function qhil(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    interactive: false,
  };
  const code = await main(['node', 'qhil', ...args], io);
  return { code, stdout, stderr };
}

describe('qhil validate', () => {
  it('exits 0 and prints ok with the step count for good files', async () => {
    const result = await qhil('validate', 'scenarios/ntp-sync-repl.yaml', 'scenarios/demo.yaml');
    expect(result).toEqual({
      code: ExitCode.Ok,
      stdout: 'ok  scenarios/ntp-sync-repl.yaml  (4 steps)\nok  scenarios/demo.yaml  (6 steps)\n',
      stderr: '',
    });
  });

  it('says how many problems it did not list, counted over the whole file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhil-validate-many-'));
    try {
      const file = join(dir, 'many.yaml');
      writeFileSync(file, `name: many\nsteps:\n${'  - dail: { via: repl }\n'.repeat(60)}`);
      const result = await qhil('validate', file);
      expect(result.code).toBe(ExitCode.BadInput);
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(51);
      expect(lines[50]).toBe('... and 10 more');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 and prints every issue as file:line:column, still checking the other files', async () => {
    const result = await qhil('validate', 'fixtures/invalid/typos.yaml', 'scenarios/demo.yaml', 'fixtures/invalid/syntax.yaml');
    expect(result.code).toBe(ExitCode.BadInput);
    expect(result.stdout).toBe('ok  scenarios/demo.yaml  (6 steps)\n');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      'fixtures/invalid/typos.yaml:4:10: timeout: bad duration "5 minutes": expected a number with a unit, e.g. 500ms, 60s, 5m, 1h',
      expect.stringMatching(/^fixtures\/invalid\/typos\.yaml:6:5: unknown step kind "dail" \(did you mean "dial"\?\); known kinds: .*\bdial\b/),
      expect.stringMatching(/^fixtures\/invalid\/typos\.yaml:7:24: sync: unknown key "sever" \(did you mean "server"\?\); expected one of .*\bserver\b/),
      expect.stringMatching(/^fixtures\/invalid\/syntax\.yaml:5:3: YAML syntax error: /),
    ]);
  });

  it('checks a rig with --rig, and that its boards have the ${board.<field>} the scenarios use', async () => {
    const good = await qhil('validate', 'fixtures/invalid/needs-board-site.yaml', '--rig', 'fixtures/rigs/bench-example.yaml');
    expect(good).toEqual({
      code: ExitCode.Ok,
      stdout: 'ok  fixtures/rigs/bench-example.yaml  (2 boards)\nok  fixtures/invalid/needs-board-site.yaml  (1 step)\n',
      stderr: '',
    });
    const missing = await qhil('validate', 'fixtures/invalid/needs-board-site.yaml', '--rig', 'fixtures/rigs/sim-bench.yaml');
    expect(missing.code).toBe(ExitCode.BadInput);
    expect(missing.stderr.trimEnd().split('\n')).toEqual([
      'fixtures/invalid/needs-board-site.yaml:4:5: repl: ${board.site}: board "sim-ec200u" has no field "site"; it has id, model, apn',
      'fixtures/invalid/needs-board-site.yaml:4:5: repl: ${board.site}: board "sim-ec100y" has no field "site"; it has id, model, apn',
    ]);
  });

  it('exits 2 for a bad rig', async () => {
    const result = await qhil('validate', 'scenarios/demo.yaml', '--rig', 'fixtures/invalid/bad-rig.yaml');
    expect(result.code).toBe(ExitCode.BadInput);
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      'fixtures/invalid/bad-rig.yaml:5:9: boards[0].at: bad port address "tcp://ser2net.lab.example": expected tcp://host:port',
      'fixtures/invalid/bad-rig.yaml:7:5: boards[1]: board "board-1" needs a port (at, repl) or sim',
      'fixtures/invalid/bad-rig.yaml:7:9: boards[1].id: duplicate board id "board-1" (also board 1)',
    ]);
    expect(result.stdout).toBe('ok  scenarios/demo.yaml  (6 steps)\n');
  });

  it('exits 2 for a file that does not exist, and for no files at all', async () => {
    const missing = await qhil('validate', 'scenarios/no-such.yaml');
    expect(missing.code).toBe(ExitCode.BadInput);
    expect(missing.stderr).toMatch(/^scenarios\/no-such\.yaml: cannot read scenario file: ENOENT/);
    expect((await qhil('validate')).code).toBe(ExitCode.BadInput);
  });

  describe('runs the same preflight as qhil run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhil-validate-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const write = (name: string, text: string): string => {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    };

    it("refuses a wait longer than the scenario's timeout, with its place", async () => {
      const file = write('wait.yaml', 'name: w\ntimeout: 1s\nsteps:\n  - wait: { for: 3s }\n');
      const result = await qhil('validate', file);
      expect(result.code).toBe(ExitCode.BadInput);
      expect(result.stderr).toBe(
        `${file}:4:5: wait: the scenario's waits alone add up to 3.00s by this step, more than its timeout of 1.00s: raise the scenario's timeout or shorten the waits\n`,
      );
    });

    it('checks the rig as run does: one port on two boards, a missing profile', async () => {
      const rig = write(
        'rig.yaml',
        'name: r\nboards:\n  - { id: a, at: tcp://Lab:3001 }\n  - { id: b, at: tcp://lab:3001 }\n  - { id: s, sim: { profile: no-such-profile } }\n',
      );
      const result = await qhil('validate', 'scenarios/ntp-sync-repl.yaml', '--rig', rig);
      expect(result.code).toBe(ExitCode.BadInput);
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines).toEqual([
        `${rig}:4:5: board b: at: tcp://lab:3001 is the same port as board a's at port (${rig}:3:5)`,
        expect.stringMatching(new RegExp(`^${rig.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:5: board s: no board profile "no-such-profile"`)),
      ]);
      // What validate prints is what `qhil run` refuses with, line for line.
      expect(() => checkRunnable({ scenarios: [loadScenario('scenarios/ntp-sync-repl.yaml')], boards: loadRig(rig).boards })).toThrow(lines.join('\n'));
      expect(result.stdout).toBe('ok  scenarios/ntp-sync-repl.yaml  (4 steps)\n');
    });

    it('checks --reference servers as run does', async () => {
      const result = await qhil('validate', 'scenarios/demo.yaml', '--reference', '[::1', '--reference', 'pool.ntp.org');
      expect(result.code).toBe(ExitCode.BadInput);
      expect(result.stderr).toBe(
        '--reference: bad reference server "[::1": expected host, host:port (port 1-65535), or an IPv6 address in brackets: [::1]:123\n',
      );
    });

    it('needs a reference for compare only when the boards are known (the rig), as run would', async () => {
      const file = write('cmp.yaml', 'name: c\nsteps:\n  - read-time: { as: t1 }\n  - compare: { read: t1 }\n');
      expect((await qhil('validate', file)).code).toBe(ExitCode.Ok);
      const rig = write('hw.yaml', 'name: r\nboards:\n  - { id: a, at: /dev/ttyUSB2 }\n');
      const result = await qhil('validate', file, '--rig', rig);
      expect(result.stderr).toBe(`${file}:4:5: compare needs a reference clock: give --reference <server>, or reference: in the scenario or rig file\n`);
      expect((await qhil('validate', file, '--rig', rig, '--reference', 'ntp.lab.example')).code).toBe(ExitCode.Ok);
    });

    it('refuses hostile files with a place and a short message: an alias bomb, UTF-16, a huge file', async () => {
      const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
      for (const [name, previous] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e'], ['g', 'f'], ['h', 'g'], ['i', 'h']]) {
        levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(', ')}]`);
      }
      const bomb = write('bomb.yaml', `name: x\nsteps: [read-time]\n${levels.join('\n')}\n`);
      const utf16 = write('utf16.yaml', '');
      writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name: x\n', 'utf16le')]));
      const huge = write('huge.yaml', `name: x\nsteps:\n${'  - dial: { via: repl: x }\n'.repeat(400_000)}`);
      const result = await qhil('validate', bomb, utf16, huge);
      expect(result.code).toBe(ExitCode.BadInput);
      expect(result.stderr.trimEnd().split('\n')).toEqual([
        `${bomb}:4:8: aliases here expand to more than 100 nodes (a YAML "billion laughs"?): write the values out, or use fewer aliases`,
        `${utf16}:1:1: the scenario file is UTF-16 (byte-order mark FF FE, little-endian); save it as UTF-8`,
        `${huge}:1:1: the file is over 10.3 MiB; a scenario or rig file may be at most 1.0 MiB`,
      ]);
    });
  });
});
