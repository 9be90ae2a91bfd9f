/**
 * The simulated board behind real pseudo-terminals (socat) and the `qhil sim` process. Skipped only
 * when socat is missing on a developer machine; in CI (process.env.CI set) a missing socat fails.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Receiver } from '../channel/receiver.js';
import { ReplChannel } from '../channel/repl/repl.js';
import type { LinkClosedError } from '../core/errors.js';
import type { Link } from '../link/link.js';
import { SerialLink } from '../link/serial.js';
import { TcpLink } from '../link/tcp.js';
import { resolveBoardProfile, startSimBoard, type SimBoard } from '../sim/board.js';
import { FAULT_NAMES, type FaultName } from '../sim/faults.js';
import { SER2NET_DEVICE_GONE, servePty, serveTcp, type ServedBoard } from '../sim/serve.js';
import { skipWithoutSocat, socatPidsFor } from '../testing/socat.js';
import { until } from '../testing/until.js';

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

/** Starts `qhil sim` with `args`; resolves once it has printed both ports (rejects after 30 s: a loaded 2-core CI). */
async function startSimProcess(args: string[]): Promise<{ child: ResultPromise; ports: { repl: string; at: string }; stderr: () => string }> {
  const child = execa('node', [bin, 'sim', ...args], { reject: false, env: { CI: '' } });
  let text = '';
  let stderr = '';
  child.stderr?.on('data', (bytes: Buffer) => (stderr += bytes.toString()));
  const ports = await new Promise<{ repl: string; at: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`qhil sim ${args.join(' ')} printed no ports within 30 s: ${JSON.stringify(text)}`)), 30_000);
    void child.then((result) => {
      clearTimeout(timer);
      reject(new Error(`qhil sim ${args.join(' ')} exited (${result.exitCode}) before printing its ports: ${result.stderr}`));
    });
    child.stdout?.on('data', (bytes: Buffer) => {
      text += bytes.toString();
      const repl = /^repl: (\S+)$/m.exec(text)?.[1];
      const at = /^at: (\S+)$/m.exec(text)?.[1];
      if (repl && at && /^board: /m.test(text)) {
        clearTimeout(timer);
        resolve({ repl, at });
      }
    });
  }).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    await child;
    throw error;
  });
  return { child, ports, stderr: () => stderr };
}

/** Sends AT until an OK comes back over `address` (a PTY path that may not exist yet, or tcp://), within `deadlineMs`. */
async function probeAt(address: string, deadlineMs: number): Promise<void> {
  const endMs = performance.now() + deadlineMs;
  let last = 'nothing tried';
  while (performance.now() < endMs) {
    let link: Link | undefined;
    try {
      link = address.startsWith('tcp://') ? await TcpLink.open(address) : await SerialLink.open(address);
      let text = '';
      const answered = new Promise<boolean>((resolve) => {
        link?.onData((bytes) => {
          text += bytes.toString('latin1');
          if (/\r\nOK\r\n/.test(text)) resolve(true);
        });
        link?.onClose(() => resolve(false));
        setTimeout(() => resolve(false), 400);
      });
      await link.write(Buffer.from('AT\r'));
      if (await answered) return;
      last = `no OK, got ${JSON.stringify(text)}`;
    } catch (error) {
      last = String(error);
    } finally {
      await link?.close().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${address}: no OK to AT within ${deadlineMs}ms (last: ${last})`);
}

/** True while `pid` is a live process (a zombie waiting for its new parent to reap it is dead). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A value for each fault that needs one; the others start bare. */
const FAULT_FLAGS: Record<FaultName, string> = {
  'no-sim': 'no-sim',
  'no-network': 'no-network',
  'dial-refused': 'dial-refused',
  'ntp-silent': 'ntp-silent',
  'clock-offset': 'clock-offset=-2.5s',
  'clock-drift': 'clock-drift=40',
  'slow-output': 'slow-output=5ms',
  'garbled-output': 'garbled-output=1%,mixed,seed=3',
  'repl-refuse': 'repl-refuse',
  reboot: 'reboot',
  'usb-disconnect': 'usb-disconnect=1s',
};


describe.skipIf(skip)('sim served on a PTY (socat)', () => {
  it('talks QuecPython over a real pseudo-terminal, through the harness REPL channel', async () => {
    const board = await startSimBoard({ profile: 'ec200u', clockOffsetMs: 5000 });
    boards.push(board);
    const served = await servePty(board);
    serving.push(served);
    expect(served.ports.repl).toMatch(/qhil-sim-.*\/repl$/);
    const link = await SerialLink.open(served.ports.repl);
    links.push(link);
    // The channel's 1 s wait for the raw-paste answer is not this test's subject: on a loaded machine
    // the sim answered later than that once, and the channel's fallback then typed into the paste.
    const repl = new ReplChannel(link, { rawPasteAnswerMs: 10_000 });
    const { stdout } = await repl.exec('import utime\nprint(utime.localtime())', { timeoutMs: 20_000 });
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

  /** A sim board served on PTYs, its log kept, and its AT port open from the host and answering. */
  async function servedAtPort(): Promise<{ at: SerialLink; rx: Receiver; log: string[] }> {
    const board = await startSimBoard({ profile: 'ec200u' });
    boards.push(board);
    const log: string[] = [];
    const served = await servePty(board, { onLog: (message) => log.push(message) });
    serving.push(served);
    const at = await SerialLink.open(served.ports.at);
    links.push(at);
    const rx = new Receiver(at);
    await rx.write('AT\r');
    await rx.waitFor('\r\nOK\r\n', limits('first OK'));
    return { at, rx, log };
  }

  it('a board write whose callback runs over a second late (a starved process) leaves the port answering', async () => {
    const { rx, log } = await servedAtPort();
    // The process held for 1.2 s just after the board starts a write, as a loaded machine starves it:
    // its callback then runs after its deadline timer. SerialLink's own 1 s deadline closed the
    // board's link there, and the port went dead with nothing logged.
    const write = SerialLink.prototype.write;
    let held = false;
    const spy = vi.spyOn(SerialLink.prototype, 'write').mockImplementation(function (this: SerialLink, bytes: Uint8Array) {
      const written = write.call(this, bytes);
      if (!held && this.address.endsWith('.board')) {
        held = true;
        const endMs = performance.now() + 1200;
        while (performance.now() < endMs) {
          // Busy on purpose: nothing else of this process runs meanwhile.
        }
      }
      return written;
    });
    try {
      await rx.write('AT\r');
      await rx.waitFor('\r\nOK\r\n', limits('OK after the held write'));
      expect(held).toBe(true);
    } finally {
      spy.mockRestore();
    }
    await rx.write('ATI\r');
    await rx.waitFor(/EC200U[^]*?\r\nOK\r\n/, limits('ATI'));
    expect(log).toEqual([]);
  });

  it('a board link that fails by itself is attached again: the open host port keeps answering, and the log says so', async () => {
    const { at, rx, log } = await servedAtPort();
    // The board's link fails as a write error makes it (SerialLink's own path for a vanished device).
    const write = SerialLink.prototype.write;
    let failed = false;
    const spy = vi.spyOn(SerialLink.prototype, 'write').mockImplementation(function (this: SerialLink, bytes: Uint8Array) {
      if (!failed && this.address.endsWith('.board')) {
        failed = true;
        (this as unknown as { vanish(reason: string): void }).vanish('write failed: injected by the test');
        return Promise.reject(new Error('injected'));
      }
      return write.call(this, bytes);
    });
    try {
      await rx.write('AT\r');
      await until('the board side attached again', () => log.some((line) => /board side of at closed \(.*injected by the test\); attaching it again/.test(line)), 5000);
    } finally {
      spy.mockRestore();
    }
    // The AT's own answer may still be on its way: ATI's is told apart by its text.
    await rx.write('ATI\r');
    await rx.waitFor(/EC200U[^]*?\r\nOK\r\n/, limits('ATI after the board link failed'));
    expect(at.closed).toBe(false);
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
      // A loaded 2-core machine has taken over 10 s to boot a sim (as startSimProcess allows).
      const timer = setTimeout(() => reject(new Error(`qhil sim printed no ports within 30 s: ${JSON.stringify(text)}`)), 30_000);
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
  }, 60_000);
});

describe.skipIf(skip)('`qhil sim --fault <name>`: every named fault starts', () => {
  // Concurrent, each test owning its process: the shared afterEach must not kill a neighbour's.
  it.concurrent.each([...FAULT_NAMES])('%s: ports printed, AT answers, SIGTERM exits 0 with no socat left', async (name) => {
    const { child, ports, stderr } = await startSimProcess(['--pty', '--fault', FAULT_FLAGS[name]]);
    try {
      // reboot and usb-disconnect take the ports away right after start: probe once they are back
      // (an AT answered in the moment before they go would prove nothing).
      if (name === 'reboot' || name === 'usb-disconnect') await until(`qhil sim saying "at is back": ${stderr()}`, () => stderr().includes('sim: at is back'), 20_000);
      await probeAt(ports.at, 20_000);
      const pids = await socatPidsFor(ports.at);
      expect(pids).toHaveLength(1);
      child.kill('SIGTERM');
      expect((await child).exitCode).toBe(0);
      expect(await socatPidsFor(ports.at)).toEqual([]);
      expect(await socatPidsFor(ports.repl)).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await child;
      // A process killed outright (a failed assertion above) cannot remove its folder.
      rmSync(dirname(ports.at), { recursive: true, force: true });
    }
  }, 60_000);

  it('usb-disconnect over --tcp: refused like ser2net while away, answers once back', async () => {
    const { child, ports } = await startSimProcess(['--tcp', '0', '--fault', 'usb-disconnect=1500ms']);
    processes.push(child);
    // Away for 1.5 s from boot: a connect succeeds but carries only ser2net's device error.
    const link = await TcpLink.open(ports.at);
    links.push(link);
    let text = '';
    link.onData((bytes) => (text += bytes.toString('latin1')));
    await new Promise<void>((resolve) => link.onClose(() => resolve()));
    expect(text).toBe(SER2NET_DEVICE_GONE);
    await probeAt(ports.at, 12_000);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  }, 30_000);
});

describe.skipIf(skip)('`qhil sim` stopped by a signal', () => {
  it('SIGHUP (terminal closed): exits 0, socat stopped, temp folder removed', async () => {
    const { child, ports } = await startSimProcess(['--pty']);
    processes.push(child);
    expect(await socatPidsFor(ports.repl)).toHaveLength(1);
    child.kill('SIGHUP');
    expect((await child).exitCode).toBe(0);
    expect(await socatPidsFor(ports.repl)).toEqual([]);
    expect(existsSync(dirname(ports.repl))).toBe(false);
  }, 30_000);

  it('SIGKILL leaves no socat alive within 2 s (they die with it: parent-death signal)', async () => {
    const { child, ports } = await startSimProcess(['--pty']);
    processes.push(child);
    const pids = [...(await socatPidsFor(ports.repl)), ...(await socatPidsFor(ports.at))];
    expect(pids).toHaveLength(2);
    expect(pids.every(alive)).toBe(true);
    child.kill('SIGKILL');
    await child;
    const killedMs = performance.now();
    while (pids.some(alive) && performance.now() - killedMs < 2000) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pids.filter(alive)).toEqual([]);
    // Nothing could remove the folder of a process killed outright: the test does.
    rmSync(dirname(ports.repl), { recursive: true, force: true });
  }, 30_000);
});

describe('TCP serving while the board is away (as ser2net with the device gone)', () => {
  /** Connects and collects what arrives until the server closes, or `waitMs` passes (then 'open'). */
  const connectAndListen = async (address: string, waitMs: number): Promise<{ text: string; closed: boolean }> => {
    const link = await TcpLink.open(address);
    links.push(link);
    let text = '';
    link.onData((bytes) => (text += bytes.toString('latin1')));
    const closed = await new Promise<boolean>((resolve) => {
      link.onClose(() => resolve(true));
      setTimeout(() => resolve(false), waitMs);
    });
    return { text, closed };
  };

  it('a connect during an unplug gets ser2net\'s device error and is closed at once; AT answers after replug', async () => {
    const board = await startSimBoard({ profile: 'ec200u' });
    boards.push(board);
    const served = await serveTcp(board);
    serving.push(served);
    await probeAt(served.ports.at, 5000);
    const open = await TcpLink.open(served.ports.at);
    links.push(open);
    const dropped = new Promise<void>((resolve) => open.onClose(() => resolve()));
    await board.control.unplug();
    await board.waitForPort('at', false, 2000);
    await dropped;
    // The listener is still there (a connect succeeds) but the connection carries only the error.
    const startedMs = performance.now();
    const during = await connectAndListen(served.ports.at, 1000);
    expect(during.closed).toBe(true);
    expect(performance.now() - startedMs).toBeLessThan(500);
    expect(during.text).toBe(SER2NET_DEVICE_GONE);
    await board.control.replug();
    await board.waitForPort('at', true, 2000);
    const after = await connectAndListen(served.ports.at, 300);
    expect(after.closed).toBe(false);
    await probeAt(served.ports.at, 3000);
  });

  it('a hard reboot: refused until the board is back, then the port answers', async () => {
    const board = await startSimBoard({ profile: { ...resolveBoardProfile('ec200u'), rebootDelay: 800 } });
    boards.push(board);
    const served = await serveTcp(board);
    serving.push(served);
    await board.control.reboot('hard');
    await board.waitForPort('at', false, 2000);
    const during = await connectAndListen(served.ports.at, 1000);
    expect(during).toEqual({ text: SER2NET_DEVICE_GONE, closed: true });
    await board.waitForPort('at', true, 5000);
    await probeAt(served.ports.at, 5000);
  });
});

describe.skipIf(skip)('servePty with a board unplugged from power-on', () => {
  it('starts with no paths, serves them once the board is back', async () => {
    const board = await startSimBoard({ profile: 'ec200u', faults: ['usb-disconnect=700ms'] });
    boards.push(board);
    // The fault takes the ports away right after boot; servePty must not fail on an absent port.
    await board.waitForPort('at', false, 2000);
    const served = await servePty(board);
    serving.push(served);
    expect(existsSync(served.ports.at)).toBe(false);
    await board.waitForPort('at', true, 5000);
    await probeAt(served.ports.at, 5000);
    expect(await socatPidsFor(served.ports.at)).toHaveLength(1);
  });
});

describe('`qhil sim --tcp`', () => {
  it('serves REPL and AT on loopback TCP ports until SIGINT', async () => {
    const child = execa('node', [bin, 'sim', '--tcp', '0', '--fault', 'no-sim'], { reject: false });
    processes.push(child);
    const ports = await new Promise<{ repl: string; at: string }>((resolve, reject) => {
      let text = '';
      // A loaded 2-core machine has taken over 10 s to boot a sim (as startSimProcess allows).
      const timer = setTimeout(() => reject(new Error(`qhil sim printed no ports within 30 s: ${JSON.stringify(text)}`)), 30_000);
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
  }, 60_000);

  it('refuses a bad fault with exit code 2 before starting anything', async () => {
    const result = await execa('node', [bin, 'sim', '--tcp', '0', '--fault', 'melt'], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('unknown sim fault "melt"');
  });
});
