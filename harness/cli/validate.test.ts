import { describe, expect, it } from 'vitest';
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
      'fixtures/invalid/needs-board-site.yaml:4:5: repl: ${board.site}: board "sim-ec200u" has no field "site"; it has id, model, apn (rig fixtures/rigs/sim-bench.yaml)',
      'fixtures/invalid/needs-board-site.yaml:4:5: repl: ${board.site}: board "sim-ec100y" has no field "site"; it has id, model, apn (rig fixtures/rigs/sim-bench.yaml)',
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
});
