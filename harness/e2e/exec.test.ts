/**
 * `qhil exec` as a user runs it, against a simulated board served on a socat pseudo-terminal and on
 * TCP; and a port that vanishes in the middle of an exec.
 */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplChannel } from '../channel/repl/repl.js';
import { LinkClosedError } from '../core/errors.js';
import { SerialLink } from '../link/serial.js';
import { startSntpServer } from '../clock/sntp/server.js';
import { startSimBoard, type SimBoard } from '../sim/board.js';
import { servePty, serveTcp, type ServedBoard } from '../sim/serve.js';
import { skipWithoutSocat, socatPidsFor } from '../testing/socat.js';

const BIN = fileURLToPath(new URL('../../bin/qhil.js', import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function served(kind: 'pty' | 'tcp', hosts: Record<string, string> = {}): Promise<ServedBoard & { board: SimBoard }> {
  const board: SimBoard = await startSimBoard({ profile: 'ec200u', clockOffsetMs: 0, hosts });
  cleanups.push(() => board.close());
  const ports = kind === 'pty' ? await servePty(board) : await serveTcp(board);
  cleanups.push(() => ports.close());
  return Object.assign(ports, { board });
}

function qhil(...args: string[]): ReturnType<typeof execa> {
  return execa('node', [BIN, ...args], { reject: false, env: { CI: 'true' }, timeout: 20_000 });
}

describe.skipIf(skipWithoutSocat)('qhil exec --repl', () => {

  for (const kind of ['pty', 'tcp'] as const) {
    it(`prints the output, and a traceback with exit 1, over ${kind}`, async () => {
      const ports = await served(kind);
      const ok = await qhil('exec', '--repl', ports.ports.repl, 'import utime; print(utime.localtime())');
      expect(ok.stderr).toBe('');
      expect(ok.exitCode).toBe(0);
      expect(ok.stdout).toMatch(/^\(\d{4}, \d{1,2}, \d{1,2}, \d{1,2}, \d{1,2}, \d{1,2}, \d, \d{1,3}\)$/);
      const failed = await qhil('exec', '--repl', ports.ports.repl, '1/0');
      expect(failed.exitCode).toBe(1);
      expect(failed.stderr).toContain('Traceback (most recent call last):');
      expect(failed.stderr).toContain('ZeroDivisionError: divide by zero');
    });
  }

  for (const kind of ['pty', 'tcp'] as const) {
    it(`ntptime.settime() over ${kind} sets the board's clock to the server's whole second (0 to 1 s behind, as the firmware's ntptime), and raises OSError when nothing answers`, async () => {
      const server = await startSntpServer({ offsetMs: 3000 });
      cleanups.push(() => server.close());
      const ports = await served(kind, { 'ntp.aliyun.com': `127.0.0.1:${server.port}` });
      const synced = await qhil('exec', '--repl', ports.ports.repl, 'import ntptime\nprint(ntptime.settime())');
      expect(synced.stdout).toBe('0');
      // The server is 3 s ahead of the host; settime(0) sets the RTC to its UTC, keeping whole seconds only
      // (the firmware drops the fraction): 0 to 1 s behind the server, plus the time since. An unset clock could not be this close.
      const behindMs = Date.now() + 3000 - (await ports.board.control.readRtcMs());
      expect(behindMs).toBeGreaterThan(-50);
      expect(behindMs).toBeLessThan(1200);
      const unreachable = await qhil('exec', '--repl', ports.ports.repl, "import ntptime\nntptime.sethost('ntp.nowhere.example')\nntptime.settime()");
      expect(unreachable.exitCode).toBe(1);
      expect(unreachable.stderr).toContain('OSError: Server connection failed!');
    });
  }

  it('exits 3 naming the port when it cannot be opened', async () => {
    const missing = await qhil('exec', '--repl', '/dev/ttyQHIL-missing', 'print(1)');
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toContain('/dev/ttyQHIL-missing');
  });

  it('ends an exec within a second, naming the port, when socat is killed in the middle of it', async () => {
    const ports = await served('pty');
    const link = await SerialLink.open(ports.ports.repl);
    cleanups.push(() => link.close());
    const repl = new ReplChannel(link);
    await repl.exec('import utime');
    const running = repl.exec('utime.sleep(20)', { timeoutMs: 30_000 });
    running.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [pid] = await socatPidsFor(ports.ports.repl);
    expect(pid).toBeGreaterThan(0);
    const killedAt = performance.now();
    process.kill(pid ?? 0, 'SIGKILL');
    const error = await running.catch((e: unknown) => e);
    expect(performance.now() - killedAt).toBeLessThan(1000);
    expect(error).toBeInstanceOf(LinkClosedError);
    expect((error as Error).message).toContain(ports.ports.repl);
  });
});
