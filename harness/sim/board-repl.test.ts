/**
 * The simulated board end to end in-process, over raw bytes on its host links: the REPL
 * personality.
 * The board's workers run from dist/ (see board.ts): `npm test` builds first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ReplChannel } from '../channel/repl/repl.js';
import { WaitTimeoutError } from '../core/errors.js';
import { Receiver } from '../channel/receiver.js';
import type { SimBoard, StartSimBoardOptions } from './board.js';
import { limits, RawPeer, SimFixtures, tuple, tupleMs } from '../testing/sim-board.js';

const fixtures = new SimFixtures();
afterEach(() => fixtures.cleanup());
const board = (options: Partial<StartSimBoardOptions> = {}): Promise<SimBoard> => fixtures.board(options);

/** A board at the raw prompt that was asked for raw-paste (`\x05A\x01`) and granted it: the 5-byte answer. */
async function rawPasteGranted(): Promise<{ peer: RawPeer; header: { text: string } }> {
  const sim = await board();
  const peer = new RawPeer(sim.hostLink('repl'));
  await peer.enterRaw();
  peer.rx.discard();
  await peer.rx.write('\x05A\x01');
  const header = await peer.rx.waitFor((buffer) => (buffer.length >= 5 ? 5 : -1), limits('raw-paste header'));
  expect(header.text.slice(0, 2)).toBe('R\x01');
  return { peer, header };
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
    const { peer, header } = await rawPasteGranted();
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

  it('ends a granted raw-paste on Ctrl-C with KeyboardInterrupt and the raw prompt, as MicroPython does', async () => {
    const { peer } = await rawPasteGranted();
    // A host that took the grant for no answer types its way back into raw mode.
    await peer.rx.write('\r\x03');
    const ended = await peer.rx.waitFor(/\x04>$/, limits('raw prompt after the aborted paste'));
    expect(ended.text).toContain('KeyboardInterrupt');
    const { stdout, stderr } = await peer.exec('print(6 * 7)');
    expect(stdout).toBe('42\n');
    expect(stderr).toBe('');
  });

  it('a grant that comes after the harness gave up on it: ReplChannel gets back to raw mode and runs the code', async () => {
    const sim = await board();
    // No time at all for the answer: the grant always comes late, as from a board on a loaded host.
    const repl = new ReplChannel(sim.hostLink('repl'), { rawPasteAnswerMs: 0 });
    expect((await repl.exec('print(6 * 7)', { timeoutMs: 5000 })).stdout).toBe('42\n');
    expect(repl.mode).toBe('raw');
    expect((await repl.exec('print(7 * 8)', { timeoutMs: 5000 })).stdout).toBe('56\n');
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
