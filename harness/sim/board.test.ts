/**
 * The simulated board end to end in-process, over raw bytes on its host links. The board's workers
 * run from dist/ (see board.ts): `npm test` builds first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../channel/receiver.js';
import { ReplChannel } from '../channel/repl/repl.js';
import { WaitTimeoutError } from '../core/errors.js';
import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import type { Link } from '../link/link.js';
import { startSimBoard, type SimBoard, type StartSimBoardOptions } from './board.js';
import { resolveBoardProfile } from './board.js';
import { serveTcp, type ServedBoard } from './serve.js';
import { TcpLink } from '../link/tcp.js';

const boards: SimBoard[] = [];
const servers: SntpServer[] = [];
const served: ServedBoard[] = [];
const links: Link[] = [];

afterEach(async () => {
  await Promise.allSettled(links.splice(0).map((link) => link.close()));
  await Promise.allSettled(served.splice(0).map((s) => s.close()));
  await Promise.allSettled(boards.splice(0).map((board) => board.close()));
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});

async function board(options: Partial<StartSimBoardOptions> = {}): Promise<SimBoard> {
  const started = await startSimBoard({ profile: 'ec200u', ...options });
  boards.push(started);
  return started;
}

async function sntp(offsetMs: number): Promise<SntpServer> {
  const server = await startSntpServer({ offsetMs });
  servers.push(server);
  return server;
}

const limits = (waitingFor: string, deadlineMs = 5000) => ({ waitingFor, inactivityMs: deadlineMs, deadlineMs });
const RAW_PROMPT = 'raw REPL; CTRL-B to exit\r\n>';

/** A minimal raw-REPL peer over raw bytes, written from protocols.md (not the harness's ReplChannel). */
class RawPeer {
  readonly rx: Receiver;
  constructor(readonly link: Link) {
    this.rx = new Receiver(link);
  }

  async enterRaw(): Promise<void> {
    await this.rx.write('\r\x03\x03');
    await this.rx.drain(50, 1000);
    this.rx.discard();
    await this.rx.write('\r\x01');
    await this.rx.waitFor(RAW_PROMPT, limits('raw prompt'));
  }

  /** Plain raw mode: code, Ctrl-D, `OK`, stdout `\x04` traceback `\x04` `>`. */
  async exec(code: string, deadlineMs = 5000): Promise<{ stdout: string; stderr: string }> {
    await this.rx.write(`${code}\x04`);
    await this.rx.waitFor('OK', limits('OK', deadlineMs));
    return this.output(deadlineMs);
  }

  async output(deadlineMs = 5000): Promise<{ stdout: string; stderr: string }> {
    const stdout = await this.rx.waitFor('\x04', limits('end of stdout', deadlineMs));
    const stderr = await this.rx.waitFor('\x04', limits('end of traceback', deadlineMs));
    await this.rx.waitFor('>', limits('raw prompt'));
    return { stdout: stdout.before, stderr: stderr.before };
  }
}

function tuple(text: string): number[] {
  const match = /\(([-\d, ]+)\)/.exec(text);
  if (!match) throw new Error(`no tuple in ${JSON.stringify(text)}`);
  return (match[1] ?? '').split(',').map((field) => Number(field.trim()));
}

/** The Unix ms a localtime 8-tuple names (board fields read as UTC). */
function tupleMs(fields: number[]): number {
  const [year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0] = fields;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

describe('simulated board: REPL personality', () => {
  it('greets with a QuecPython banner from its profile, not the VM`s', async () => {
    const sim = await board();
    const rx = new Receiver(sim.hostLink('repl'));
    const banner = await rx.waitFor('>>> ', limits('banner'));
    expect(banner.text).toContain('QuecPython v1.12 on Thu_Jan_13_2022_4:46:28_PM ; EC200U-EU with QUECTEL\r\n');
    expect(banner.text).toContain('Type "help()" for more information.\r\n>>> ');
    expect(banner.text).not.toContain('MicroPython');
    // Ctrl-B (leave raw mode) reprints it, rewritten too.
    await rx.write('\x02');
    const again = await rx.waitFor('>>> ', limits('banner after Ctrl-B'));
    expect(again.text).toContain('QuecPython v1.12');
    expect(again.text).not.toContain('Emscripten');
  });

  it('runs utime.localtime() in raw REPL and reads the profile clock plus the given offset', async () => {
    const offsetMs = 3_600_000 + 7000;
    const sim = await board({ clockOffsetMs: offsetMs });
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const before = Date.now();
    const { stdout, stderr } = await peer.exec('import utime; print(utime.localtime())');
    const after = Date.now();
    expect(stderr).toBe('');
    const fields = tuple(stdout);
    expect(fields).toHaveLength(8);
    // RTC = UTC + offset + the network zone (ec200u: 4 quarter hours); whole seconds.
    const zoneMs = sim.profile.zoneQuarterHours * 15 * 60_000;
    const boardMs = tupleMs(fields);
    expect(boardMs).toBeGreaterThanOrEqual(Math.floor((before + offsetMs + zoneMs) / 1000) * 1000 - 1000);
    expect(boardMs).toBeLessThanOrEqual(after + offsetMs + zoneMs);
    const date = new Date(boardMs);
    expect(fields[6]).toBe((date.getUTCDay() + 6) % 7);
  });

  it('returns a traceback on the second channel when the code raises', async () => {
    const sim = await board();
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const { stdout, stderr } = await peer.exec('print("before")\nraise ValueError("bad thing")');
    expect(stdout).toBe('before\n');
    expect(stderr).toContain('Traceback (most recent call last):');
    expect(stderr).toContain('ValueError: bad thing');
  });

  it('emulates raw-paste with flow control (R\\x01) and runs code larger than a window', async () => {
    const sim = await board();
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    peer.rx.discard();
    await peer.rx.write('\x05A\x01');
    const header = await peer.rx.waitFor((buffer) => (buffer.length >= 5 ? 5 : -1), limits('raw-paste header'));
    expect(header.text.slice(0, 2)).toBe('R\x01');
    const windowBytes = header.text.charCodeAt(2) | (header.text.charCodeAt(3) << 8);
    expect(windowBytes).toBeGreaterThan(0);
    expect(header.text[4]).toBe('\x01');
    const code = Buffer.from(`x = 0\n${'x += 1\n'.repeat(100)}print('sum', x)\n`);
    expect(code.length).toBeGreaterThan(windowBytes * 2);
    let credit = windowBytes;
    let offset = 0;
    while (offset < code.length) {
      if (credit === 0) {
        const grant = await peer.rx.waitFor((buffer) => (buffer.length >= 1 ? 1 : -1), limits('window grant'));
        expect(grant.text).toBe('\x01');
        credit += windowBytes;
      }
      const chunk = code.subarray(offset, offset + Math.min(credit, code.length - offset));
      await peer.rx.write(chunk);
      offset += chunk.length;
      credit -= chunk.length;
    }
    await peer.rx.write('\x04');
    // Skip late grants; the board acknowledges the end with \x04, then output without "OK".
    await peer.rx.waitFor('\x04', limits('end acknowledgement'));
    const { stdout, stderr } = await peer.output();
    expect(stdout).toBe('sum 100\n');
    expect(stdout).not.toContain('OK');
    expect(stderr).toBe('');
  });

  it('refuses raw-paste with R\\x00 when the profile says so, and plain raw mode still works', async () => {
    const sim = await board({ profile: 'ec100y' });
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    peer.rx.discard();
    await peer.rx.write('\x05A\x01');
    const answer = await peer.rx.waitFor((buffer) => (buffer.length >= 2 ? 2 : -1), limits('raw-paste answer'));
    expect(answer.text).toBe('R\x00');
    const { stdout } = await peer.exec('import modem; print(modem.getDevFwVersion())');
    expect(stdout).toBe('EC100YCNAAR01A01M16_OCPU_PY\n');
  });

  it('soft-reboots on Ctrl-D at the prompt: MPY: soft reboot, banner, Python state gone, RTC kept', async () => {
    const sim = await board();
    const rx = new Receiver(sim.hostLink('repl'));
    await rx.waitFor('>>> ', limits('banner'));
    await sim.control.stepClock(3_600_000);
    const rtcBefore = await sim.control.readRtcMs();
    await rx.write('marker = 42\r');
    await rx.waitFor('>>> ', limits('prompt'));
    await rx.write('\x04');
    const reboot = await rx.waitFor('>>> ', limits('banner after soft reboot'));
    expect(reboot.text).toContain('MPY: soft reboot\r\n');
    expect(reboot.text).toContain('QuecPython v1.12');
    await rx.write('marker\r');
    const answer = await rx.waitFor('>>> ', limits('prompt'));
    expect(answer.text).toContain("NameError: name 'marker' isn't defined");
    const rtcAfter = await sim.control.readRtcMs();
    expect(rtcAfter - rtcBefore).toBeGreaterThanOrEqual(0);
    expect(rtcAfter - rtcBefore).toBeLessThan(5000);
  });

  it('interrupts a long utime.sleep with Ctrl-C: KeyboardInterrupt and the prompt back at once', async () => {
    const sim = await board();
    const rx = new Receiver(sim.hostLink('repl'));
    await rx.waitFor('>>> ', limits('banner'));
    await rx.write('import utime\r');
    await rx.waitFor('>>> ', limits('prompt'));
    const startedMs = performance.now();
    await rx.write('utime.sleep(30)\r');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await rx.write('\x03');
    const interrupted = await rx.waitFor('>>> ', limits('prompt after Ctrl-C', 2000));
    expect(interrupted.text).toContain('KeyboardInterrupt');
    expect(performance.now() - startedMs).toBeLessThan(2000);
    // The REPL still works afterwards.
    await rx.write('1 + 1\r');
    expect((await rx.waitFor('>>> ', limits('prompt'))).text).toContain('2');
  });

  it('recovers from a tight loop: exec times out, the next exec works (harness ReplChannel)', async () => {
    const sim = await board();
    await sim.control.stepClock(3_600_000);
    const repl = new ReplChannel(sim.hostLink('repl'));
    await repl.exec('marker = 42', { timeoutMs: 5000 });
    const rtcBefore = await sim.control.readRtcMs();
    const hostBeforeMs = performance.now();
    await expect(repl.exec('while True: pass', { timeoutMs: 1000 })).rejects.toBeInstanceOf(WaitTimeoutError);
    const startedMs = performance.now();
    expect((await repl.exec('print(1)', { timeoutMs: 5000 })).stdout).toBe('1\n');
    expect(performance.now() - startedMs).toBeLessThan(4000);
    // The VM was replaced: Python state is gone, the board's RTC is not.
    await expect(repl.exec('print(marker)', { timeoutMs: 5000 })).rejects.toThrow(/NameError/);
    const rtcMovedMs = (await sim.control.readRtcMs()) - rtcBefore;
    expect(rtcMovedMs).toBeGreaterThanOrEqual(0);
    expect(rtcMovedMs).toBeLessThan(performance.now() - hostBeforeMs + 200);
  });

  it('Ctrl-C on a tight loop in plain raw mode: OK, then \\x04, a KeyboardInterrupt traceback, \\x04>', async () => {
    const sim = await board({ profile: 'ec100y' });
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    await peer.rx.write('while True: pass\x04');
    // The OK comes before the code runs, even though it never returns.
    await peer.rx.waitFor('OK', limits('OK', 2000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const sentMs = performance.now();
    await peer.rx.write('\x03');
    const { stdout, stderr } = await peer.output(3000);
    expect(performance.now() - sentMs).toBeLessThan(2000);
    expect(stdout).toBe('');
    expect(stderr).toBe('Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\nKeyboardInterrupt: \r\n');
    expect((await peer.exec('import modem; print(modem.getDevModel())')).stdout).toBe('EC100Y-CN\n');
  });

  it('Ctrl-C on a tight loop at the friendly prompt: traceback, >>> and a fresh REPL', async () => {
    const sim = await board();
    const rx = new Receiver(sim.hostLink('repl'));
    await rx.waitFor('>>> ', limits('banner'));
    await rx.write('kept = 7\r');
    await rx.waitFor('>>> ', limits('prompt'));
    await rx.write('while True: pass\r\r');
    await new Promise((resolve) => setTimeout(resolve, 300));
    rx.discard();
    await rx.write('\x03');
    const interrupted = await rx.waitFor('>>> ', limits('prompt after Ctrl-C', 2000));
    expect(interrupted.text).toBe('Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\nKeyboardInterrupt: \r\n>>> ');
    await rx.write('6 * 7\r');
    expect((await rx.waitFor('>>> ', limits('answer'))).text).toContain('42');
    await rx.write('kept\r');
    expect((await rx.waitFor('>>> ', limits('prompt'))).text).toContain("NameError: name 'kept' isn't defined");
  });

  it('Ctrl-C on a loop that calls into the board raises KeyboardInterrupt in Python: state kept', async () => {
    const sim = await board();
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    await peer.exec('import utime\nkept = 7');
    await peer.rx.write('while True:\n    utime.time()\x04');
    await peer.rx.waitFor('OK', limits('OK', 2000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await peer.rx.write('\x03');
    const { stderr } = await peer.output(2000);
    expect(stderr).toContain('KeyboardInterrupt');
    expect(stderr).toContain('line 2');
    expect((await peer.exec('print(kept)')).stdout).toBe('7\n');
  });

  it('answers REPL refuse when protection is on', async () => {
    const sim = await board({ faults: ['repl-refuse'] });
    const rx = new Receiver(sim.hostLink('repl'));
    await rx.write('\r\x01');
    expect((await rx.waitFor('REPL refuse', limits('refusal'))).matched).toBe('REPL refuse');
  });

  it('blocks `import time` as QuecPython (no weak links) but serves utime, usys, uos', async () => {
    const sim = await board();
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    expect((await peer.exec('import time')).stderr).toContain('ImportError');
    const { stdout } = await peer.exec('import usys, uos\nprint(usys.platform != None, uos.uname())');
    expect(stdout).toContain(
      "('sysname=EC200U-EU', 'nodename=EC200U', 'release=1.12.0', 'version=v1.12 on Thu_Jan_13_2022_4:46:28_PM', 'machine=EC200U-EU with QUECTEL', 'qpyver=V0001')",
    );
  });
});

describe('simulated board: QuecPython modules', () => {
  it('ntptime.settime() sets the RTC to the loopback SNTP server`s time (+3 s) in whole seconds: 0-1 s behind', async () => {
    const server = await sntp(3000);
    const sim = await board({ hosts: { 'ntp.aliyun.com': `127.0.0.1:${server.port}` } });
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const { stdout, stderr } = await peer.exec('import ntptime, utime\nprint(ntptime.host, ntptime.settime())\nprint(utime.localtime())');
    expect(stderr).toBe('');
    expect(stdout.split('\n')[0]).toBe('ntp.aliyun.com 0');
    const rtcMs = await sim.control.readRtcMs();
    const serverMs = Date.now() + 3000;
    // The firmware keeps the transmit timestamp's seconds only (ntp.test.ts pins that exactly).
    expect(serverMs - rtcMs).toBeGreaterThan(-100);
    expect(serverMs - rtcMs).toBeLessThan(1100);
    // After settime() localtime reads UTC (of the server): within a second of it.
    const localMs = tupleMs(tuple(stdout.split('\n')[1] ?? ''));
    expect(Math.abs(localMs - serverMs)).toBeLessThan(2000);
    expect(server.requests).toBeGreaterThanOrEqual(1);
  });

  it('ntptime.settime(timezone) adds the zone; out-of-range zones return -1', async () => {
    const server = await sntp(0);
    const sim = await board({ hosts: { 'ntp.aliyun.com': `127.0.0.1:${server.port}` } });
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const { stdout } = await peer.exec('import ntptime\nprint(ntptime.settime(8), ntptime.settime(13))');
    expect(stdout).toBe('0 -1\n');
    const behindMs = Date.now() + 8 * 3_600_000 - (await sim.control.readRtcMs());
    expect(behindMs).toBeGreaterThan(-100);
    expect(behindMs).toBeLessThan(1100);
  });

  it('ntptime.settime() with every server unreachable raises OSError and leaves host at the last fallback', async () => {
    const sim = await board({ profile: { ...resolveBoardProfile('ec200u'), ntpTimeout: 100 } });
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const rtcBefore = await sim.control.readRtcMs();
    const hostBeforeMs = performance.now();
    const { stderr } = await peer.exec('import ntptime\nntptime.settime()');
    expect(stderr).toContain('OSError: Server connection failed!');
    const { stdout } = await peer.exec('print(ntptime.host)');
    expect(stdout).toBe('cn.pool.ntp.org\n');
    // The clock was not touched: it moved as much as the host's clock did, no more.
    const rtcMovedMs = (await sim.control.readRtcMs()) - rtcBefore;
    const elapsedMs = performance.now() - hostBeforeMs;
    expect(rtcMovedMs).toBeGreaterThanOrEqual(0);
    expect(rtcMovedMs).toBeLessThan(elapsedMs + 200);
  });

  it('ntptime generation core (profile ntptime: core): settime() takes no timezone, OSError escapes', async () => {
    const server = await sntp(0);
    const sim = await board({ profile: { ...resolveBoardProfile('ec200u'), ntptime: 'core', ntpTimeout: 100 }, hosts: { 'pool.ntp.org': `127.0.0.1:${server.port}` } });
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    expect((await peer.exec('import ntptime\nntptime.settime(0)')).stderr).toMatch(/TypeError/);
    // The dead default host, then the live fall-back, which it keeps.
    expect((await peer.exec('print(ntptime.settime(), ntptime.host)')).stdout).toBe('0 pool.ntp.org\n');
    await server.close();
    expect((await peer.exec('ntptime.settime()')).stderr).toContain('OSError: Server connection failed!');
  });

  it('ntptime generation unirtos: -1 for a bad zone and for every failure, host restored, timeout per server', async () => {
    const server = await sntp(0);
    const sim = await board({ profile: { ...resolveBoardProfile('ec200u'), ntptime: 'unirtos' }, hosts: { 'pool.ntp.org': `127.0.0.1:${server.port}` } });
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    expect((await peer.exec('import ntptime\nprint(ntptime.settime(13))')).stdout).toBe('-1\n');
    // The default host does not resolve; the live fall-back answers, and host is put back.
    expect((await peer.exec('print(ntptime.settime(0, 1, 1), ntptime.host)')).stdout).toBe('0 ntp.aliyun.com\n');
    expect((await peer.exec('print(ntptime.settime(0, 0, 1), ntptime.host)')).stdout).toBe('-1 ntp.aliyun.com\n');
    await server.close();
    const startedMs = performance.now();
    expect((await peer.exec('print(ntptime.settime(timeout=0.2))')).stdout).toBe('-1\n');
    expect(performance.now() - startedMs).toBeLessThan(5000);
  });

  it('falls back silently: a dead first host, a live pool.ntp.org', async () => {
    const server = await sntp(3000);
    const sim = await board({
      profile: { ...resolveBoardProfile('ec200u'), ntpTimeout: 200 },
      hosts: { 'pool.ntp.org': `127.0.0.1:${server.port}` },
      faults: [],
    });
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const { stdout } = await peer.exec('import ntptime\nprint(ntptime.settime(), ntptime.host)');
    expect(stdout).toBe('0 pool.ntp.org\n');
  });

  it('never leaves loopback: a host mapped to a public address fails like DNS, without querying it', async () => {
    // ntpTimeout is the firmware's 10 s: had any of the five names been queried, this would take at least 10 s.
    const sim = await board({ hosts: { 'ntp.aliyun.com': '203.0.113.5:123' } });
    expect(sim.profile.ntpTimeout).toBe(10_000);
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const startedMs = performance.now();
    const { stderr } = await peer.exec('import ntptime\nntptime.settime()');
    expect(stderr).toContain('OSError: Server connection failed!');
    expect(performance.now() - startedMs).toBeLessThan(1000);
  });

  it('dataCall: getInfo shapes, setPDPContext, deactivate, activate, start', async () => {
    const sim = await board();
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const { stdout, stderr } = await peer.exec(
      [
        'import dataCall, checkNet',
        'print(checkNet.wait_network_connected(10))',
        'print(dataCall.getInfo(1, 0))',
        'print(dataCall.deactivate(1), dataCall.getInfo(1, 0))',
        "print(dataCall.setPDPContext(2, 0, 'cmnet', '', '', 0), dataCall.activate(2), dataCall.getInfo(2, 0))",
        'print(dataCall.getInfo(2, 2))',
        "print(dataCall.start(1, 0, 'internet', '', '', 0), dataCall.getInfo(1, 0)[2][0])",
      ].join('\n'),
    );
    expect(stderr).toBe('');
    expect(stdout.split('\n')).toEqual([
      '(3, 1)',
      "(1, 0, [1, 0, '10.91.44.177', '58.242.2.2', '218.104.78.2'])",
      "0 (1, 0, [0, 0, '0.0.0.0', '0.0.0.0', '0.0.0.0'])",
      "0 0 (2, 0, [1, 0, '10.91.44.178', '58.242.2.2', '218.104.78.2'])",
      "(2, 2, [1, 0, '10.91.44.178', '58.242.2.2', '218.104.78.2'], [0, 0, '::', '::', '::'])",
      '0 1',
      '',
    ]);
  });

  it('dial-refused: dataCall.activate returns -1', async () => {
    const sim = await board({ faults: ['dial-refused'] });
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const { stdout } = await peer.exec('import dataCall\ndataCall.deactivate(1)\nprint(dataCall.activate(1))');
    expect(stdout).toBe('-1\n');
  });

  it('checkNet with the no-sim fault: (1, 0), sim.getStatus() 0, no data call', async () => {
    const sim = await board({ faults: ['no-sim'] });
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const { stdout } = await peer.exec(
      'import checkNet, sim, net, dataCall\nprint(checkNet.wait_network_connected(2), sim.getStatus(), net.csqQueryPoll(), dataCall.getInfo(1, 0)[2][0])',
    );
    expect(stdout).toBe('(1, 0) 0 -1 0\n');
  });

  it('checkNet while the network is gone: times out with (2, <reg stat>)', async () => {
    const sim = await board();
    await sim.control.setFault('no-network');
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const startedMs = performance.now();
    const { stdout } = await peer.exec('import checkNet\nprint(checkNet.wait_network_connected(1))');
    expect(stdout).toBe('(2, 2)\n');
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(900);
  });

  it('utime: zones, mktime round trip, ticks wrap arithmetic', async () => {
    const sim = await board();
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    const { stdout, stderr } = await peer.exec(
      [
        'import utime',
        't = utime.time()',
        'print(utime.mktime(utime.localtime(t)) == t)',
        'utime.setTimeZone(8)',
        'print(utime.getTimeZone(), utime.localtime(0))',
        'print(utime.mktime(utime.localtime(t)) == t)',
        'print(utime.ticks_diff(5, 0x3FFFFFFF - 4), utime.ticks_add(0x3FFFFFFF, 1))',
        'try:\n    utime.setTimeZone(13)\nexcept ValueError:\n    print("ValueError")',
      ].join('\n'),
    );
    expect(stderr).toBe('');
    // Seconds count from 2000-01-01 (a Saturday), as MicroPython and QuecPython count.
    expect(stdout.split('\n')).toEqual(['True', '8 (2000, 1, 1, 8, 0, 0, 5, 1)', 'True', '10 0', 'ValueError', '']);
  });

  it('utime counts seconds from 2000 (or 1970 when the profile says so); localtime() reads the RTC either way', async () => {
    const y2k = await board({ clockOffsetMs: 0 });
    const unix = await board({ clockOffsetMs: 0, profile: { ...resolveBoardProfile('ec200u'), epoch: 1970 } });
    expect(y2k.profile.epoch).toBe(2000);
    const code = 'import utime\nprint(utime.time(), utime.gmtime(0), utime.mktime((2000, 1, 1, 0, 0, 0, 0, 0)), utime.localtime())';
    const [a, b] = [new RawPeer(y2k.hostLink('repl')), new RawPeer(unix.hostLink('repl'))];
    await Promise.all([a.enterRaw(), b.enterRaw()]);
    const hostS = Date.now() / 1000;
    const [outA, outB] = await Promise.all([a.exec(code), b.exec(code)]);
    const zoneS = y2k.profile.zoneQuarterHours * 15 * 60;
    const secondsA = Number(outA.stdout.split(' ')[0]);
    const secondsB = Number(outB.stdout.split(' ')[0]);
    expect(Math.abs(secondsA - (hostS + zoneS - 946_684_800))).toBeLessThan(3);
    expect(Math.abs(secondsB - (hostS + zoneS))).toBeLessThan(3);
    expect(outA.stdout).toContain(' (2000, 1, 1, 0, 0, 0, 5, 1) 0 (');
    expect(outB.stdout).toContain(' (1970, 1, 1, 0, 0, 0, 3, 1) 946684800 (');
    // localtime() with no argument is the RTC reading on both.
    const rtcS = (await y2k.control.readRtcMs()) / 1000;
    for (const out of [outA, outB]) expect(Math.abs(tupleMs(tuple(out.stdout.slice(out.stdout.lastIndexOf('(')))) / 1000 - rtcS)).toBeLessThan(3);
  });
});

describe('simulated board: isolation, reboot, serving', () => {
  it('two boards in one process keep their own clocks and modules (one worker each)', async () => {
    const [a, b] = await Promise.all([board({ clockOffsetMs: 0 }), board({ clockOffsetMs: 86_400_000, profile: 'ec100y' })]);
    const peerA = new RawPeer(a.hostLink('repl'));
    const peerB = new RawPeer(b.hostLink('repl'));
    await Promise.all([peerA.enterRaw(), peerB.enterRaw()]);
    const [outA, outB] = await Promise.all([
      peerA.exec('import utime, modem\nprint(utime.time(), modem.getDevFwVersion())'),
      peerB.exec('import utime, modem\nprint(utime.time(), modem.getDevFwVersion())'),
    ]);
    const [secondsA, fwA] = outA.stdout.trim().split(' ');
    const [secondsB, fwB] = outB.stdout.trim().split(' ');
    expect(fwA).toBe('EC200UEUAAR03A01M08_OCPU_QPY');
    expect(fwB).toBe('EC100YCNAAR01A01M16_OCPU_PY');
    // b: one day ahead, and its zone is UTC+8 against a's UTC+1.
    expect(Number(secondsB) - Number(secondsA)).toBeGreaterThan(86_400 + 7 * 3600 - 5);
    expect(Number(secondsB) - Number(secondsA)).toBeLessThan(86_400 + 7 * 3600 + 5);
    // Closing one leaves the other working.
    await a.close();
    expect((await peerB.exec('print(1 + 1)')).stdout).toBe('2\n');
  });

  it('hard reboot: the host link closes, the port comes back, AT says RDY and the REPL is fresh', async () => {
    const sim = await board({ profile: { ...resolveBoardProfile('ec200u'), rebootDelay: 200 } });
    const repl = sim.hostLink('repl');
    const closed = new Promise<unknown>((resolve) => repl.onClose(resolve));
    await sim.control.reboot('hard');
    const error = await closed;
    expect(String(error)).toContain('sim-');
    await sim.waitForPort('at', false, 5000);
    await sim.waitForPort('at', true, 5000);
    const at = new Receiver(sim.hostLink('at'));
    await at.waitFor('RDY', limits('RDY'));
    const rx = new Receiver(sim.hostLink('repl'));
    expect((await rx.waitFor('>>> ', limits('banner'))).text).toContain('QuecPython');
  });

  it('AT and REPL share one modem: AT+CFUN=1,1 reboots the whole board', async () => {
    const sim = await board({ profile: { ...resolveBoardProfile('ec200u'), rebootDelay: 100 } });
    const at = new Receiver(sim.hostLink('at'));
    await at.waitFor('RDY', limits('RDY at power-on'));
    const repl = sim.hostLink('repl');
    const replClosed = new Promise<void>((resolve) => repl.onClose(() => resolve()));
    await at.write('AT+CFUN=1,1\r');
    await at.waitFor('OK', limits('OK before the reboot'));
    await replClosed;
    await sim.waitForPort('at', false, 5000);
    await sim.waitForPort('at', true, 5000);
    await new Receiver(sim.hostLink('at')).waitFor('RDY', limits('RDY after reboot'));
  });

  it('serves its ports over TCP, one client per port, a new connection replaces the old', async () => {
    const sim = await board();
    const tcp = await serveTcp(sim);
    served.push(tcp);
    expect(tcp.ports.repl).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const first = await TcpLink.open(tcp.ports.repl);
    links.push(first);
    const rx1 = new Receiver(first);
    await rx1.waitFor('>>> ', limits('banner over TCP'));
    const firstClosed = new Promise<void>((resolve) => first.onClose(() => resolve()));
    const second = await TcpLink.open(tcp.ports.repl);
    links.push(second);
    await firstClosed;
    const rx2 = new Receiver(second);
    await rx2.write('6 * 7\r');
    expect((await rx2.waitFor('>>> ', limits('answer'))).text).toContain('42');
    const at = await TcpLink.open(tcp.ports.at);
    links.push(at);
    const atRx = new Receiver(at);
    await atRx.write('AT\r');
    await atRx.waitFor('OK', limits('AT OK over TCP'));
  });

  it('unplug closes the host links; replug brings the ports back with the board still running', async () => {
    const sim = await board();
    const repl = sim.hostLink('repl');
    const rx = new Receiver(repl);
    await rx.waitFor('>>> ', limits('banner'));
    await rx.write('kept = 7\r');
    await rx.waitFor('>>> ', limits('prompt'));
    const closed = new Promise<unknown>((resolve) => repl.onClose(resolve));
    await sim.control.unplug();
    expect(String(await closed)).toContain('/repl');
    expect(() => sim.hostLink('repl')).toThrow(/not present/);
    await sim.control.replug();
    const again = new Receiver(sim.hostLink('repl'));
    await again.write('kept\r');
    expect((await again.waitFor('>>> ', limits('prompt'))).text).toContain('7');
  });

  it('clock faults: clock-offset sets the RTC against UTC, clock-drift makes it run fast', async () => {
    const sim = await board({ faults: ['clock-offset=-90s'] });
    const zoneMs = sim.profile.zoneQuarterHours * 15 * 60_000;
    expect(Math.abs((await sim.control.readRtcMs()) - (Date.now() - 90_000 + zoneMs))).toBeLessThan(200);
    await sim.control.setFault('clock-drift', '100000');
    const startRtc = await sim.control.readRtcMs();
    const startHost = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const gainedMs = (await sim.control.readRtcMs()) - startRtc - (Date.now() - startHost);
    // 100000 ppm = 10 %: about 50 ms gained in 500 ms.
    expect(gainedMs).toBeGreaterThan(25);
    expect(gainedMs).toBeLessThan(100);
  });

  it('output faults: slow-output delays each chunk, garbled-output corrupts bytes', async () => {
    const sim = await board();
    const at = new Receiver(sim.hostLink('at'));
    await at.waitFor('RDY', limits('RDY'));
    await sim.control.setFault('slow-output=300ms');
    const startedMs = performance.now();
    await at.write('AT\r');
    await at.waitFor('OK\r\n', limits('slow OK'));
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(290);
    await sim.control.clearFaults();
    await sim.control.setFault('garbled-output', '1');
    at.discard();
    await at.write('ATI\r');
    const garbled = await at.drain(200, 2000);
    expect(garbled.length).toBeGreaterThan(10);
    expect(garbled).not.toContain('Quectel');
  });

  it('rejects unknown faults and profiles before starting', async () => {
    await expect(startSimBoard({ profile: 'ec200u', faults: ['no-such-fault'] })).rejects.toThrow(/unknown sim fault/);
    await expect(startSimBoard({ profile: 'no-such-board' })).rejects.toThrow(/no board profile/);
  });
});
