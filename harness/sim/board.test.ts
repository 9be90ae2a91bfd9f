/**
 * The simulated board end to end in-process, over raw bytes on its host links: isolation, reboots,
 * serving, faults.
 * The board's workers run from dist/ (see board.ts): `npm test` builds first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../channel/receiver.js';
import type { SimBoard, StartSimBoardOptions } from './board.js';
import { resolveBoardProfile, startSimBoard } from './board.js';
import { serveTcp } from './serve.js';
import { TcpLink } from '../link/tcp.js';
import { limits, RawPeer, SimFixtures } from '../testing/sim-board.js';

const fixtures = new SimFixtures();
afterEach(() => fixtures.cleanup());
const board = (options: Partial<StartSimBoardOptions> = {}): Promise<SimBoard> => fixtures.board(options);

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
    fixtures.served.push(tcp);
    expect(tcp.ports.repl).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const first = await TcpLink.open(tcp.ports.repl);
    fixtures.links.push(first);
    const rx1 = new Receiver(first);
    await rx1.waitFor('>>> ', limits('banner over TCP'));
    const firstClosed = new Promise<void>((resolve) => first.onClose(() => resolve()));
    const second = await TcpLink.open(tcp.ports.repl);
    fixtures.links.push(second);
    await firstClosed;
    const rx2 = new Receiver(second);
    await rx2.write('6 * 7\r');
    expect((await rx2.waitFor('>>> ', limits('answer'))).text).toContain('42');
    const at = await TcpLink.open(tcp.ports.at);
    fixtures.links.push(at);
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
