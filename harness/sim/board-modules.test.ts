/**
 * The simulated board end to end in-process, over raw bytes on its host links: the QuecPython
 * modules.
 * The board's workers run from dist/ (see board.ts): `npm test` builds first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SimBoard, StartSimBoardOptions } from './board.js';
import { resolveBoardProfile } from './board.js';
import { RawPeer, SimFixtures, tuple, tupleMs } from '../testing/sim-board.js';

const fixtures = new SimFixtures();
afterEach(() => fixtures.cleanup());
const board = (options: Partial<StartSimBoardOptions> = {}): Promise<SimBoard> => fixtures.board(options);
const sntp = (offsetMs: number) => fixtures.sntp(offsetMs);

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

  it('a loop polling localtime() sees each second change within a few ms, in a few dozen passes, not thousands', async () => {
    const sim = await board();
    const peer = new RawPeer(sim.hostLink('repl'));
    await peer.enterRaw();
    // As the harness's edge loop: ticks before the last read of the old second, after the first of the new.
    const code = [
      'import utime',
      'tk = utime.ticks_ms',
      'lt = utime.localtime',
      'for k in range(3):',
      '    s0 = lt()',
      '    p = c = tk()',
      '    n = 0',
      '    while True:',
      '        a = tk()',
      '        s = lt()',
      '        c = tk()',
      '        n += 1',
      '        if s != s0:',
      '            break',
      '        p = a',
      "    print(utime.ticks_diff(c, p), n, s[5] - s0[5])",
    ].join('\n');
    const { stdout, stderr } = await peer.exec(code, 10_000);
    expect(stderr).toBe('');
    const loops = stdout.trim().split('\n').map((line) => line.split(' ').map(Number));
    expect(loops).toHaveLength(3);
    for (const [widthMs = NaN, passes = NaN, step = NaN] of loops) {
      // The sim sleeps a polling loop most of the way to the edge, never past it (a wide edge here
      // was a wait that began after the second had already changed).
      expect(widthMs).toBeLessThan(100);
      expect(passes).toBeLessThan(400);
      expect([1, -59]).toContain(step);
    }
  });
});
