/**
 * MicroPython's own host tool, mpremote (vendored: vendor/mpremote.sh, run by /usr/bin/python3), against
 * `qhil sim --pty`, as a desk engineer points it at a board: exec, eval, the filesystem both ways,
 * soft reset keeping /usr, and `mount` of a host folder with an import from it. Skipped where the
 * machine lacks socat or Debian's python3-serial/python3-platformdirs, except in CI (.ci/run installs
 * them), where that fails.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SerialLink } from '../link/serial.js';
import { findMpremote } from '../bench/tools.js';
import { socatAvailable } from '../testing/socat.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(repoRoot, 'bin', 'qhil.js');

const mpremote = findMpremote();
const missing = [!socatAvailable() && 'socat', typeof mpremote === 'string' && mpremote].filter(Boolean);
// CI installs socat and the Python modules (.ci/run), so there a missing one fails the tests.
const skip = missing.length > 0 && !process.env.CI;
if (skip) console.warn(`mpremote tests skipped: missing ${missing.join(', ')}`);

let sim: ResultPromise | undefined;
let replPath = '';
let simTmp = '';
let simStderr = '';
const work = mkdtempSync(join(tmpdir(), 'qhil-mpremote-test-'));

/** One mpremote run against the board; every run has a deadline (a hang fails the test, never the suite). */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (typeof mpremote === 'string') throw new Error(mpremote);
  const result = await execa(mpremote.file, [...mpremote.args, 'connect', replPath, ...args], { env: mpremote.env, reject: false, timeout: 30_000, stdin: 'ignore' });
  return { code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function ok(...args: string[]): Promise<string> {
  const result = await run(...args);
  if (result.code !== 0) throw new Error(`mpremote ${args.join(' ')} exited ${result.code}: ${result.stderr}\nstdout: ${result.stdout}\nsim: ${simStderr}`);
  return result.stdout;
}

describe.skipIf(skip)('mpremote against qhil sim --pty', () => {
  beforeAll(async () => {
    // Its own temp folder, so what the board leaves behind (its ports, its filesystem) can be checked.
    simTmp = mkdtempSync(join(work, 'tmp-'));
    sim = execa('node', [bin, 'sim', '--pty'], { reject: false, env: { TMPDIR: simTmp, CI: '' } });
    sim.stderr?.on('data', (bytes: Buffer) => (simStderr += bytes.toString()));
    let text = '';
    replPath = await new Promise<string>((resolvePath, reject) => {
      // Generous: on a loaded 2-core machine a niced test's sim has taken over 30 s to boot.
      const timer = setTimeout(() => reject(new Error(`qhil sim printed no ports within 60 s: ${text}\nsim: ${simStderr}`)), 60_000);
      sim?.stdout?.on('data', (bytes: Buffer) => {
        text += bytes.toString();
        const repl = /^repl: (\S+)$/m.exec(text)?.[1];
        if (repl && /^board: /m.test(text)) {
          clearTimeout(timer);
          resolvePath(repl);
        }
      });
    });
  }, 70_000);

  afterAll(async () => {
    if (sim && sim.exitCode === null) sim.kill('SIGTERM');
    await sim;
    rmSync(work, { recursive: true, force: true });
  }, 20_000);

  it('exec and eval', async () => {
    expect(await ok('exec', 'print(6 * 7)')).toBe('42');
    expect(await ok('eval', '1 + 2')).toBe('3');
  }, 60_000);

  it('copies files both ways, lists /usr with sizes, cats and removes them; a missing file is ENOENT', async () => {
    const local = join(work, 'hello.py');
    writeFileSync(local, 'GREETING = "hello from the host"\n');
    await ok('fs', 'cp', local, ':/usr/hello.py');
    expect(await ok('fs', 'ls', '/usr')).toMatch(/^\s+33 hello\.py$/m);
    expect(await ok('fs', 'cat', '/usr/hello.py')).toContain('GREETING = "hello from the host"');
    const back = join(work, 'back.py');
    await ok('fs', 'cp', ':/usr/hello.py', back);
    expect(readFileSync(back, 'utf8')).toBe(readFileSync(local, 'utf8'));
    await ok('fs', 'rm', '/usr/hello.py');
    expect(await ok('fs', 'ls', '/usr')).not.toContain('hello.py');
    const missingFile = await run('fs', 'cat', '/usr/hello.py');
    expect(missingFile.code).not.toBe(0);
    expect(missingFile.stderr).toContain('No such file or directory');
    // MicroPython's number, not the WebAssembly VM's 44.
    const raised = await run('exec', "import os\ntry:\n os.stat('/usr/nope')\nexcept OSError as e:\n print(e.errno)");
    expect(raised.stdout.trim()).toBe('2');
  }, 90_000);

  it('shows a board: only /usr at the top, /usr as the working folder, the sim modules nowhere', async () => {
    expect((await ok('fs', 'ls', '/')).trim().split(/\r?\n/).slice(1).map((line) => line.trim())).toEqual(['0 usr/']);
    expect(await ok('exec', "import os; print(os.getcwd()); print('qsim' in os.listdir('/'), 'lib' in os.listdir('/'))")).toBe('/usr\nFalse False');
    const hidden = await run('fs', 'ls', '/qsim');
    expect(hidden.code).not.toBe(0);
  }, 60_000);

  it('keeps /usr across a soft reset, and imports from it', async () => {
    const local = join(work, 'kept.py');
    writeFileSync(local, 'VALUE = 1234\n');
    await ok('fs', 'cp', local, ':/usr/kept.py');
    await ok('exec', 'marker = 1');
    await ok('soft-reset');
    expect(await ok('exec', "print('marker' in globals())")).toBe('False');
    expect(await ok('exec', 'import kept; print(kept.VALUE)')).toBe('1234');
    expect(await ok('fs', 'ls', '/usr')).toContain('kept.py');
  }, 90_000);

  it('mounts a host folder and imports from it', { timeout: 60_000 }, async () => {
    const folder = join(work, 'mounted');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'remote_mod.py'), 'def answer():\n    return "from the mounted folder"\n');
    const out = await ok('mount', folder, 'exec', 'import remote_mod; print(remote_mod.answer())');
    expect(out).toContain('from the mounted folder');
  });

  it('ends friendly-REPL lines in \\r\\n and reads input() from the port', async () => {
    const link = await SerialLink.open(replPath);
    let text = '';
    link.onData((bytes) => (text += bytes.toString('latin1')));
    const until = async (pattern: RegExp): Promise<void> => {
      const endMs = performance.now() + 10_000;
      while (!pattern.test(text)) {
        if (performance.now() > endMs) throw new Error(`no ${pattern} within 10 s: ${JSON.stringify(text)}`);
        await new Promise((resolveTick) => setTimeout(resolveTick, 20));
      }
    };
    try {
      await link.write(Buffer.from('\x02'));
      await until(/>>> $/);
      text = '';
      await link.write(Buffer.from('print(1); print(2); 1/0\r'));
      await until(/ZeroDivisionError[^\n]*\n>>> $/);
      expect(text).toContain('1\r\n2\r\n');
      expect(text.replace(/\r\n/g, '')).not.toContain('\n');
      text = '';
      await link.write(Buffer.from('name = input("name? ")\r'));
      await until(/name\? $/);
      await link.write(Buffer.from('qhil\r'));
      await until(/>>> $/);
      text = '';
      await link.write(Buffer.from('print(name.upper())\r'));
      await until(/>>> $/);
      expect(text).toContain('QHIL\r\n');
    } finally {
      await link.close();
    }
  }, 60_000);

  it('removes the board filesystem with the board', async () => {
    expect(readdirSync(simTmp).some((name) => name.startsWith('qhil-sim-fs-'))).toBe(true);
    sim?.kill('SIGTERM');
    await sim;
    expect(readdirSync(simTmp)).toEqual([]);
  }, 30_000);
});
