/**
 * The simulated board behind real pseudo-terminals (socat) and the `qhil sim` process. Skipped only
 * when socat is missing on a developer machine; in CI (process.env.CI set) a missing socat fails.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../channel/receiver.js';
import { ReplChannel } from '../channel/repl/repl.js';
import type { LinkClosedError } from '../core/errors.js';
import type { Link } from '../link/link.js';
import { SerialLink } from '../link/serial.js';
import { TcpLink } from '../link/tcp.js';
import { resolveBoardProfile, startSimBoard, type SimBoard } from '../sim/board.js';
import { servePty, type ServedBoard } from '../sim/serve.js';
import { skipWithoutSocat, socatPidsFor } from '../testing/socat.js';

const skip = skipWithoutSocat;
const bin = fileURLToPath(new URL('../../bin/qhil.js', import.meta.url));

const boards: SimBoard[] = [];
const serving: ServedBoard[] = [];
const links: Link[] = [];
const processes: ResultPromise[] = [];

afterEach(async () => {
  await Promise.allSettled(links.splice(0).map((link) => link.close()));
  await Promise.allSettled(serving.splice(0).map((served) => served.close()));
  await Promise.allSettled(boards.splice(0).map((board) => board.close()));
  for (const child of processes.splice(0)) {
    if (child.exitCode === null) child.kill('SIGKILL');
    await child.catch(() => undefined);
  }
});

const limits = (waitingFor: string, deadlineMs = 5000) => ({ waitingFor, inactivityMs: deadlineMs, deadlineMs });


describe.skipIf(skip)('sim served on a PTY (socat)', () => {
  it('talks QuecPython over a real pseudo-terminal, through the harness REPL channel', async () => {
    const board = await startSimBoard({ profile: 'ec200u', clockOffsetMs: 5000 });
    boards.push(board);
    const served = await servePty(board);
    serving.push(served);
    expect(served.ports.repl).toMatch(/qhil-sim-.*\/repl$/);
    const link = await SerialLink.open(served.ports.repl);
    links.push(link);
    const repl = new ReplChannel(link);
    const { stdout } = await repl.exec('import utime\nprint(utime.localtime())', { timeoutMs: 5000 });
    expect(stdout).toMatch(/^\(\d{4}, \d+, \d+, \d+, \d+, \d+, \d, \d+\)\n$/);
    await repl.release().catch(() => undefined);
    const at = await SerialLink.open(served.ports.at);
    links.push(at);
    const atRx = new Receiver(at);
    await atRx.write('AT+QGMR\r');
    expect((await atRx.waitFor('OK', limits('QGMR'))).text).toContain('EC200UEUAAR03A01M08_OCPU_QPY');
  });

  it('killing socat closes the host link within 1 s, with an error naming the port', async () => {
    const board = await startSimBoard({ profile: 'ec200u' });
    boards.push(board);
    const served = await servePty(board);
    serving.push(served);
    const link = await SerialLink.open(served.ports.repl);
    links.push(link);
    const rx = new Receiver(link);
    await rx.write('\r');
    await rx.waitFor('>>> ', limits('prompt'));
    const closed = new Promise<LinkClosedError | undefined>((resolve) => link.onClose(resolve));
    const pids = await socatPidsFor(served.ports.repl);
    expect(pids).toHaveLength(1);
    const killedMs = performance.now();
    process.kill(pids[0] ?? 0, 'SIGKILL');
    const error = await Promise.race([
      closed,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 1000)),
    ]);
    expect(error).not.toBe('timeout');
    expect(performance.now() - killedMs).toBeLessThan(1000);
    expect(String((error as LinkClosedError | undefined)?.message)).toContain(served.ports.repl);
  });

  it('a hard reboot makes the PTY vanish and come back at the same path', async () => {
    const board = await startSimBoard({ profile: { ...resolveBoardProfile('ec200u'), rebootDelay: 200 } });
    boards.push(board);
    const served = await servePty(board);
    serving.push(served);
    const link = await SerialLink.open(served.ports.at);
    links.push(link);
    const closed = new Promise<void>((resolve) => link.onClose(() => resolve()));
    await board.control.reboot('hard');
    await closed;
    await board.waitForPort('at', true, 5000);
    const deadlineMs = performance.now() + 5000;
    while (!existsSync(served.ports.at) && performance.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, 20));
    const again = await SerialLink.open(served.ports.at);
    links.push(again);
    const rx = new Receiver(again);
    // As after a real re-enumeration, the new port may take a moment to carry bytes: ask until it answers.
    for (let attempt = 1; ; attempt++) {
      await rx.write('AT\r');
      try {
        await rx.waitFor('OK', { waitingFor: 'OK to AT after the reboot', inactivityMs: 500, deadlineMs: 500 });
        break;
      } catch (error) {
        if (attempt >= 10) throw error;
      }
    }
  });

  it('close() while a port is coming back (socat starting) leaves no socat behind', async () => {
    const board = await startSimBoard({ profile: { ...resolveBoardProfile('ec200u'), rebootDelay: 200 } });
    boards.push(board);
    const served = await servePty(board);
    await board.control.reboot('hard');
    await board.waitForPort('repl', false, 5000);
    // servePty's own listener runs first: when this resolves its socat for each port is being started.
    await board.waitForPort('at', true, 5000);
    await served.close();
    // Had close() missed them, the new socats would now be serving (they are up within tens of ms).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await socatPidsFor(served.ports.repl)).toEqual([]);
    expect(await socatPidsFor(served.ports.at)).toEqual([]);
    expect(existsSync(dirname(served.ports.repl))).toBe(false);
  });

  it('`qhil sim --pty` prints its ports, serves them, and cleans up on SIGTERM', async () => {
    const child = execa('node', [bin, 'sim', '--pty', '--offset', '2s'], { reject: false, env: { CI: '' } });
    processes.push(child);
    const ports = await new Promise<Record<string, string>>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`qhil sim printed no ports within 10 s: ${JSON.stringify(text)}`)), 10_000);
      child.stdout?.on('data', (bytes: Buffer) => {
        text += bytes.toString();
        const repl = /^repl: (\S+)$/m.exec(text)?.[1];
        const at = /^at: (\S+)$/m.exec(text)?.[1];
        if (repl && at && /^board: EC200U-EU, QuecPython v1\.12/m.test(text)) {
          clearTimeout(timer);
          resolve({ repl, at });
        }
      });
    });
    const dir = dirname(ports.repl ?? '');
    const link = await SerialLink.open(ports.repl ?? '');
    const rx = new Receiver(link);
    await rx.write('\r');
    await rx.waitFor('>>> ', limits('prompt'));
    await rx.write('import modem\rmodem.getDevImei()\r');
    expect((await rx.waitFor("'864430010001234'", limits('IMEI'))).matched).toBeTruthy();
    await link.close();
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(existsSync(dir)).toBe(false);
    expect(await socatPidsFor(ports.repl ?? '')).toEqual([]);
  });
});

describe('`qhil sim --tcp`', () => {
  it('serves REPL and AT on loopback TCP ports until SIGINT', async () => {
    const child = execa('node', [bin, 'sim', '--tcp', '0', '--fault', 'no-sim'], { reject: false });
    processes.push(child);
    const ports = await new Promise<{ repl: string; at: string }>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`qhil sim printed no ports within 10 s: ${JSON.stringify(text)}`)), 10_000);
      child.stdout?.on('data', (bytes: Buffer) => {
        text += bytes.toString();
        const repl = /^repl: (tcp:\S+)$/m.exec(text)?.[1];
        const at = /^at: (tcp:\S+)$/m.exec(text)?.[1];
        if (repl && at) {
          clearTimeout(timer);
          resolve({ repl, at });
        }
      });
    });
    const at = await TcpLink.open(ports.at);
    links.push(at);
    const rx = new Receiver(at);
    await rx.write('AT+CPIN?\r');
    expect((await rx.waitFor(/\+CME ERROR: \d+\r\n/, limits('CPIN with no SIM'))).matched).toBe('+CME ERROR: 10\r\n');
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(0);
  });

  it('refuses a bad fault with exit code 2 before starting anything', async () => {
    const result = await execa('node', [bin, 'sim', '--tcp', '0', '--fault', 'melt'], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('unknown sim fault "melt"');
  });
});
