import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BoardError, LinkClosedError, WaitTimeoutError } from '../../core/errors.js';
import { memoryLinkPair } from '../../link/memory.js';
import { ReceiveFloodError } from '../receiver.js';
import { AtChannel, RESYNC_PROBE, atLineOf, type Urc } from './channel.js';
import { commandKey, maxResponseMs } from './codes.js';
import { AtCommandError, AtGarbledReplyError, AtRebootError, AtResyncError, AtTimeoutError, CmeError } from './errors.js';
import { loadScript, parseScript, ScriptedPeer, type ScriptedPeerOptions } from './scripted-peer.js';

const TRANSCRIPTS = join(import.meta.dirname, '../../../fixtures/transcripts');

function replay(file: string, options: ScriptedPeerOptions = {}, channelTimeouts?: Record<string, number>) {
  const pair = memoryLinkPair(file);
  const peer = new ScriptedPeer(pair.board, loadScript(join(TRANSCRIPTS, file)), options);
  const channel = new AtChannel(pair.host, { timeoutsMs: channelTimeouts });
  const urcs: Urc[] = [];
  channel.onUrc((urc) => urcs.push(urc));
  return { pair, peer, channel, urcs };
}

describe('AtChannel replaying recorded transcripts', () => {
  for (const echo of [true, false]) {
    it(`reads the PDP address of the EC200U dial transcript (echo ${echo ? 'on' : 'off'})`, async () => {
      const { peer, channel } = replay('ec200u-dial.txt', { echo });
      expect((await channel.send('AT+QICSGP=1,1,"CMNET"')).lines).toEqual([]);
      expect((await channel.send('AT+QIACT=1')).lines).toEqual([]);
      const read = await channel.send('AT+QIACT?');
      expect(read.lines).toEqual(['+QIACT: 1,1,1,"10.171.134.243"']);
      expect(peer.mismatches).toEqual([]);
      expect(peer.finished).toBe(true);
    });
  }

  it('keeps ATI lines in order and drops the echo', async () => {
    const { channel } = replay('identify-eg25.txt');
    expect((await channel.send('ATI')).lines).toEqual(['Quectel', 'EG25', 'Revision: EG25GGBR07A08M2G']);
    expect((await channel.send('AT+QGMR')).lines).toEqual(['EG25GGBR07A08M2G_30.203.30.203']);
    expect((await channel.send('AT+CGSN')).lines).toEqual(['866425031234567']);
  });

  it('turns +CME ERROR: 10 into a CmeError meaning "SIM not inserted"', async () => {
    const { channel } = replay('no-sim.txt');
    const error = await channel.send('AT+CPIN?').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CmeError);
    expect((error as CmeError).code).toBe(10);
    expect((error as CmeError).message).toMatch(/AT\+CPIN\? failed: \+CME ERROR: 10 \(SIM not inserted\)/);
  });

  it('routes URCs before, inside and after responses, including between echo and OK', async () => {
    const { channel, urcs, peer } = replay('urc-interleaved.txt', { chunkBytes: 5 });
    const rdy = await channel.waitForUrc('RDY', 1000, { sinceMonoMs: 0 });
    expect(rdy.name).toBe('RDY');
    expect((await channel.send('AT+CEREG?')).lines).toEqual(['+CEREG: 0,1']);
    expect((await channel.send('AT+CSQ')).lines).toEqual(['+CSQ: 24,99']);
    expect((await channel.send('AT+QIACT?')).lines).toEqual(['+QIACT: 1,1,1,"10.171.134.243"']);
    expect(urcs.map((urc) => urc.line)).toEqual([
      'RDY',
      '+QIURC: "pdpdeact",1',
      '+CEREG: 1,"5A1C","01B3C2D4",7',
      '+CPIN: READY',
      '+QIND: "csq",20,99',
    ]);
    expect(peer.mismatches).toEqual([]);
  });

  it('hands out a +QNTP URC that came in the same chunk as OK, and a failed one', async () => {
    const { channel } = replay('qntp-dns-failed.txt');
    const since = performance.now();
    await channel.send('AT+QNTP=1,"ntp.invalid",123,1');
    const urc = await channel.waitForUrc('+QNTP:', 1000, { sinceMonoMs: since });
    expect(urc.line).toBe('+QNTP: 565');
  });
});

describe('AtChannel robustness', () => {
  it('tolerates bare \\r line endings, NULs and binary garbage', async () => {
    const pair = memoryLinkPair('garbage');
    const script = parseScript('AT+QIACT?\n+QIACT: 1,1,1,"10.171.134.243"\n\nOK\n');
    const peer = new ScriptedPeer(pair.board, script, { lineEnding: '\r', noise: Buffer.from([0, 0xff, 0xfe, 0x0d, 0x00]) });
    const channel = new AtChannel(pair.host);
    await peer.inject(Buffer.from([0x00, 0x80, 0x1b, 0x0d, 0x0d, 0x0a]));
    expect((await channel.send('AT+QIACT?')).lines).toEqual(['+QIACT: 1,1,1,"10.171.134.243"']);
  });

  it('runs one command at a time and queues the rest in order', async () => {
    const pair = memoryLinkPair('queue');
    const script = parseScript('AT+CSQ\n@delay 30ms\n+CSQ: 20,99\nOK\nATI\nQuectel\nOK\n');
    const peer = new ScriptedPeer(pair.board, script);
    const channel = new AtChannel(pair.host);
    const [csq, ati] = await Promise.all([channel.send('AT+CSQ'), channel.send('ATI')]);
    expect(csq.lines).toEqual(['+CSQ: 20,99']);
    expect(ati.lines).toEqual(['Quectel']);
    // ATI was written only after AT+CSQ's OK.
    expect(ati.hostSendMs).toBeGreaterThanOrEqual(csq.hostReceiveMs);
    expect(peer.mismatches).toEqual([]);
  });

  it('gives up on a silent AT+QIACT at its deadline, naming command, limit and transcript tail', async () => {
    const { channel } = replay('qiact-silent.txt', {}, { '+QIACT=': 150 });
    const startedAt = performance.now();
    const error = await channel.send('AT+QIACT=1').catch((e: unknown) => e);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(140);
    expect(error).toBeInstanceOf(AtTimeoutError);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    const timeout = error as AtTimeoutError;
    expect(timeout.command).toBe('AT+QIACT=1');
    expect(timeout.limitMs).toBe(150);
    expect(timeout.message).toContain('AT+QIACT=1');
    expect(timeout.message).toContain('150ms');
    expect(timeout.tail).toContain('AT+QIACT=1\r');
  });

  it('does not take the late OK of a timed-out command for the next command (echo on)', async () => {
    const pair = memoryLinkPair('late-ok');
    const script = parseScript('AT+QIACT=1\n@delay 150ms\nOK\nAT+CSQ\n+CSQ: 17,99\nOK\n');
    const peer = new ScriptedPeer(pair.board, script);
    const channel = new AtChannel(pair.host, { timeoutsMs: { '+QIACT=': 60 } });
    await expect(channel.send('AT+QIACT=1')).rejects.toBeInstanceOf(AtTimeoutError);
    expect((await channel.send('AT+CSQ')).lines).toEqual(['+CSQ: 17,99']);
    expect(peer.mismatches).toEqual([]);
  });

  it('does not take the late OK of a timed-out command for the next command (echo off): resyncs first', async () => {
    const pair = memoryLinkPair('late-ok-echo-off');
    // The board answers in order: AT+QIACT=1's OK comes after the next thing the host wrote.
    const script = parseScript(
      'AT+QIACT=1\n@delay 150ms\nOK\nAT+CMEE?\n+CMEE: 1\n\nOK\nAT+QIACT?\n+QIACT: 1,1,1,"10.171.134.243"\n\nOK\n',
    );
    const peer = new ScriptedPeer(pair.board, script, { echo: false });
    const channel = new AtChannel(pair.host, { timeoutsMs: { '+QIACT=': 60 } });
    const urcs: Urc[] = [];
    channel.onUrc((urc) => urcs.push(urc));
    await expect(channel.send('AT+QIACT=1')).rejects.toBeInstanceOf(AtTimeoutError);
    const read = await channel.send('AT+QIACT?');
    expect(read.lines).toEqual(['+QIACT: 1,1,1,"10.171.134.243"']);
    expect(peer.received).toEqual(['AT+QIACT=1', RESYNC_PROBE, 'AT+QIACT?']);
    expect(peer.mismatches).toEqual([]);
    expect(channel.notes.some((note) => note.startsWith('dropped OK while resynchronising after AT+QIACT=1'))).toBe(true);
    expect(urcs).toEqual([]);
    expect(peer.finished).toBe(true);
  });

  it('gives up a resync the board never answers at its own deadline, naming the port', async () => {
    const pair = memoryLinkPair('resync-silent');
    const peer = new ScriptedPeer(pair.board, parseScript('AT+QIACT=1\n@silent\nAT+CMEE?\n@silent\n'), { echo: false });
    const channel = new AtChannel(pair.host, { timeoutsMs: { '+QIACT=': 60 }, resyncTimeoutMs: 80 });
    await expect(channel.send('AT+QIACT=1')).rejects.toBeInstanceOf(AtTimeoutError);
    const startedAt = performance.now();
    const error = await channel.send('AT+CSQ').catch((e: unknown) => e);
    const elapsed = performance.now() - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(70);
    expect(elapsed).toBeLessThan(1000);
    expect(error).toBeInstanceOf(AtResyncError);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    const resync = error as AtResyncError;
    expect(resync.command).toBe('AT+CSQ');
    expect(resync.limitMs).toBe(80);
    expect(resync.message).toContain('mem://resync-silent');
    expect(resync.message).toContain(RESYNC_PROBE);
    expect(resync.message).toContain('AT+QIACT=1');
    // AT+CSQ itself was never written.
    expect(peer.received).toEqual(['AT+QIACT=1', RESYNC_PROBE]);
  });

  it('drops the late answer of a resync that timed out when it arrives during a later command (echo off)', async () => {
    const pair = memoryLinkPair('resync-late');
    const script = parseScript(
      'AT+QIACT=1\n@silent\nAT+CMEE?\n@delay 400ms\n+CMEE: 1\n\nOK\nAT+CMEE?\n+CMEE: 1\n\nOK\nAT+CSQ\n+CSQ: 17,99\n\nOK\n',
    );
    const peer = new ScriptedPeer(pair.board, script, { echo: false });
    // The first probe's answer comes after its 300 ms deadline, 100 ms into the second probe's (200 ms of margin).
    const channel = new AtChannel(pair.host, { timeoutsMs: { '+QIACT=': 60 }, resyncTimeoutMs: 300 });
    await expect(channel.send('AT+QIACT=1')).rejects.toBeInstanceOf(AtTimeoutError);
    await expect(channel.send('AT+CSQ')).rejects.toBeInstanceOf(AtResyncError);
    // The second probe takes the first probe's answer; its own answer comes while AT+CSQ runs.
    expect((await channel.send('AT+CSQ')).lines).toEqual(['+CSQ: 17,99']);
    expect(peer.received).toEqual(['AT+QIACT=1', RESYNC_PROBE, RESYNC_PROBE, 'AT+CSQ']);
    expect(peer.mismatches).toEqual([]);
    expect(channel.notes).toContain(`dropped OK: the final code of an earlier ${RESYNC_PROBE}`);
  });

  it('keeps URCs that arrive during a resync, and drops the late output of the unanswered command', async () => {
    const pair = memoryLinkPair('resync-urc');
    const script = parseScript(
      'ATI\n@delay 300ms\nQuectel\nEG25\nOK\nAT+CMEE?\n+CMEE: 1\nOK\nAT+CSQ\n+CSQ: 17,99\nOK\n',
    );
    const peer = new ScriptedPeer(pair.board, script, { echo: false });
    const channel = new AtChannel(pair.host, { timeoutsMs: { I: 40 } });
    const urcs: string[] = [];
    channel.onUrc((urc) => urcs.push(urc.line));
    await expect(channel.send('ATI')).rejects.toBeInstanceOf(AtTimeoutError);
    const csq = channel.send('AT+CSQ');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await peer.inject('\r\n+QIURC: "pdpdeact",1\r\n');
    expect((await csq).lines).toEqual(['+CSQ: 17,99']);
    // The board answers in order (ATI's late lines, the probe, AT+CSQ): the URC, written first, came before.
    expect(urcs).toEqual(['+QIURC: "pdpdeact",1']);
    expect(channel.notes).toEqual(
      expect.arrayContaining([
        'dropped Quectel while resynchronising after ATI: its late output',
        'dropped EG25 while resynchronising after ATI: its late output',
        'dropped OK while resynchronising after ATI: a late final code',
      ]),
    );
  });

  it('knows Quectel maximum response times and floors short commands', () => {
    expect(maxResponseMs('AT+QIACT=1')).toBe(150_000);
    expect(maxResponseMs('AT+QIDEACT=1')).toBe(40_000);
    expect(maxResponseMs('AT+CPIN?')).toBe(5_000);
    expect(maxResponseMs('AT+CFUN=1,1')).toBe(15_000);
    expect(maxResponseMs('AT+CSQ')).toBe(2_000);
    expect(maxResponseMs('AT+QIACT=1', { '+QIACT=': 10 })).toBe(10);
    expect(commandKey('at+cereg?')).toBe('+CEREG?');
    expect(commandKey('ATE0')).toBe('E0');
  });

  it('parses text CME errors (AT+CMEE=2) back to their code, and plain ERROR', async () => {
    const pair = memoryLinkPair('cmee2');
    const script = parseScript('AT+CPIN?\n+CME ERROR: SIM not inserted\nAT+FOO\nERROR\n');
    new ScriptedPeer(pair.board, script);
    const channel = new AtChannel(pair.host);
    const cme = await channel.execute('AT+CPIN?');
    expect(cme).toMatchObject({ final: 'CME ERROR', code: 10, meaning: 'SIM not inserted' });
    const plain = await channel.send('AT+FOO').catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(AtCommandError);
    expect(plain).not.toBeInstanceOf(CmeError);
    expect((plain as Error).message).toContain('AT+FOO failed: ERROR');
  });

  it('fails the running and queued commands and URC waits with LinkClosedError when the port vanishes', async () => {
    const pair = memoryLinkPair('vanish');
    const channel = new AtChannel(pair.host);
    const running = channel.send('AT+QIACT=1').catch((e: unknown) => e);
    const queued = channel.send('AT').catch((e: unknown) => e);
    const urc = channel.waitForUrc('RDY', 5000).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 10));
    pair.unplug();
    expect(await running).toBeInstanceOf(LinkClosedError);
    expect(await queued).toBeInstanceOf(LinkClosedError);
    expect(await urc).toBeInstanceOf(LinkClosedError);
  });

  it('times out a URC wait at its deadline', async () => {
    const pair = memoryLinkPair('urc-timeout');
    const channel = new AtChannel(pair.host);
    const error = await channel.waitForUrc('+QNTP:', 50).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toContain('+QNTP:');
  });
});

describe('AtChannel text, floods, cancellation', () => {
  it('reads UTF-8 lines (operator and server names) as the board sent them, split anywhere', async () => {
    const pair = memoryLinkPair('utf8');
    const peer = new ScriptedPeer(pair.board, parseScript('AT+COPS?\n+COPS: 0,0,"中国移动 😀",7\n\nOK\n'), { chunkBytes: 3 });
    const channel = new AtChannel(pair.host);
    expect((await channel.send('AT+COPS?')).lines).toEqual(['+COPS: 0,0,"中国移动 😀",7']);
    expect(peer.mismatches).toEqual([]);
  });

  it('shows bytes that are not text inside a line, trims them at its ends, and drops a line of noise', () => {
    expect(atLineOf('\x00\xff+CCLK: "26/12/01,10:00:00+0\x9c"\x00')).toEqual({ line: '+CCLK: "26/12/01,10:00:00+0\\x9c"', garbled: true });
    expect(atLineOf('+CSQ: 2\x074,99')).toEqual({ line: '+CSQ: 2\\x074,99', garbled: true });
    expect(atLineOf('\x00\x80\x1b')).toEqual({ line: '', garbled: true });
    expect(atLineOf(' OK ')).toEqual({ line: 'OK', garbled: false });
  });

  it('fails a command answered with garbled lines and no final code as the board\'s fault, quoting them', async () => {
    const pair = memoryLinkPair('garbled');
    new ScriptedPeer(pair.board, parseScript('AT+CSQ\n@silent\n'));
    const channel = new AtChannel(pair.host, { timeoutsMs: { '+CSQ': 100 } });
    const pending = channel.send('AT+CSQ').catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pair.board.write(Buffer.from('\r\n+CSQ: 2\x1b[2J\xff,99\r\nO\xfeK\r\n', 'latin1'));
    const error = await pending;
    expect(error).toBeInstanceOf(AtGarbledReplyError);
    expect(error).toBeInstanceOf(BoardError);
    expect((error as Error).message).toContain('garbled reply to AT+CSQ');
    expect((error as Error).message).not.toContain('\x1b');
  });

  it('says how many bytes came during a command that got no final code', async () => {
    const { channel } = replay('qiact-silent.txt', {}, { '+QIACT=': 100 });
    const error = (await channel.send('AT+QIACT=1').catch((e: unknown) => e)) as AtTimeoutError;
    expect(error).toBeInstanceOf(AtTimeoutError);
    expect(error.bytesReceived).toBe('AT+QIACT=1\r'.length);
    const pair = memoryLinkPair('silent');
    const silent = (await new AtChannel(pair.host, { timeoutsMs: { '+CSQ': 50 } }).send('AT+CSQ').catch((e: unknown) => e)) as AtTimeoutError;
    expect(silent.bytesReceived).toBe(0);
  });

  it('ends a command and a URC wait on a flood, within its cap, as the board\'s fault', async () => {
    const pair = memoryLinkPair('flood');
    const channel = new AtChannel(pair.host, { maxUnconsumedBytes: 16 * 1024 });
    const command = channel.send('AT+CSQ', { timeoutMs: 10_000 }).catch((e: unknown) => e);
    const urc = channel.waitForUrc('+QNTP:', 10_000).catch((e: unknown) => e);
    const lines = Buffer.from('+QIND: "csq",20,99\r\n'.repeat(200));
    for (let i = 0; i < 10; i++) await pair.board.write(lines);
    for (const error of [await command, await urc]) {
      expect(error).toBeInstanceOf(ReceiveFloodError);
      expect((error as Error).message).toMatch(/flooded \d+ bytes without (final result code for AT\+CSQ|URC \+QNTP:)/);
    }
    // A line that never ends is dropped at the cap, not kept growing.
    await pair.board.write(Buffer.alloc(40 * 1024, 'x'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(channel.notes.at(-1)).toMatch(/dropped \d+ bytes of a line longer than 16384 bytes/);
  });

  it('rejects an aborted command and URC wait with the signal reason', async () => {
    const pair = memoryLinkPair('abort');
    const channel = new AtChannel(pair.host);
    const controller = new AbortController();
    const reason = { stopped: 'by the runner' };
    const command = channel.send('AT+QIACT=1', { signal: controller.signal }).catch((e: unknown) => e);
    const urc = channel.waitForUrc('+QNTP:', 10_000, { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(reason), 20);
    expect(await command).toBe(reason);
    expect(await urc).toBe(reason);
    await expect(channel.waitForUrc('+QNTP:', 10_000, { signal: controller.signal })).rejects.toBe(reason);
  });
});

describe('AtChannel death strings: RDY mid-command', () => {
  it('RDY after the echo ends the command with AtRebootError; RDY before any echo is boot output, a URC', async () => {
    const pair = memoryLinkPair('rdy');
    const channel = new AtChannel(pair.host);
    const urcs: string[] = [];
    channel.onUrc((urc) => urcs.push(urc.line));
    // First command: RDY arrives before the echo (boot output racing the write), then the answer.
    pair.board.onData((bytes) => {
      const line = bytes.toString('latin1').trim();
      if (line === 'AT') void pair.board.write(Buffer.from('\r\nRDY\r\nAT\r\r\nOK\r\n'));
      else if (line === 'AT+CSQ') void pair.board.write(Buffer.from('AT+CSQ\r\r\nRDY\r\n'));
    });
    expect((await channel.send('AT')).final).toBe('OK');
    const error = await channel.send('AT+CSQ', { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AtRebootError);
    expect(error).toBeInstanceOf(BoardError);
    expect((error as Error).message).toBe('mem://rdy: the board rebooted (it said "RDY") while AT+CSQ ran; no answer will come');
    expect(urcs).toEqual(['RDY', 'RDY']);
    expect(channel.notes).toEqual([]);
  });
});

describe('AtChannel death strings: RDY during a resync', () => {
  it('RDY while resynchronising ends the resync (a rebooted board owes nothing); the next command runs, a late probe answer is dropped', async () => {
    const pair = memoryLinkPair('rdy-resync');
    const written: string[] = [];
    pair.board.onData((bytes) => {
      const line = bytes.toString('latin1').trim();
      written.push(line);
      // Echo off. AT+QIACT=1 gets no answer; the probe gets RDY (the board rebooted), then, after
      // booting, its answer; AT+CSQ is answered.
      if (line === RESYNC_PROBE) void pair.board.write(Buffer.from('\r\nRDY\r\n'));
      else if (line === 'AT+CSQ') void pair.board.write(Buffer.from('\r\n+CMEE: 1\r\n\r\nOK\r\n\r\n+CSQ: 17,99\r\n\r\nOK\r\n'));
    });
    const channel = new AtChannel(pair.host, { timeoutsMs: { '+QIACT=': 60 }, resyncTimeoutMs: 5000 });
    const urcs: string[] = [];
    channel.onUrc((urc) => urcs.push(urc.line));
    await expect(channel.send('AT+QIACT=1')).rejects.toBeInstanceOf(AtTimeoutError);
    const startedAt = performance.now();
    expect((await channel.send('AT+CSQ')).lines).toEqual(['+CSQ: 17,99']);
    // Well before the 5 s resync deadline: RDY ended the resync.
    expect(performance.now() - startedAt).toBeLessThan(2500);
    expect(written).toEqual(['AT+QIACT=1', RESYNC_PROBE, 'AT+CSQ']);
    expect(urcs).toEqual(['RDY']);
    expect(channel.notes).toEqual([
      'RDY while resynchronising after AT+QIACT=1: the board rebooted, so no late answer will come',
      `dropped +CMEE: 1: the answer of an earlier ${RESYNC_PROBE}`,
      `dropped OK: the final code of an earlier ${RESYNC_PROBE}`,
    ]);
  });
});
