import { afterEach, describe, expect, it } from 'vitest';
import { BoardEnvironmentError } from '../core/errors.js';
import { ReplChannel } from '../channel/repl/repl.js';
import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import { resolveBoardProfile, startSimBoard, type SimBoard } from '../sim/board.js';
import { Gate } from '../core/gate.js';
import type { TickExchange } from './edge.js';
import { ReplBoardDriver, type ReplBoardOptions } from './repl.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function driverFor(options: Parameters<typeof startSimBoard>[0], driverOptions: ReplBoardOptions = {}): Promise<{ driver: ReplBoardDriver; board: SimBoard }> {
  const board = await startSimBoard(options);
  cleanups.push(() => board.close());
  return { driver: new ReplBoardDriver(new ReplChannel(board.hostLink('repl')), driverOptions), board };
}

async function ntpServer(offsetMs: number): Promise<SntpServer> {
  const server = await startSntpServer({ offsetMs });
  cleanups.push(() => server.close());
  return server;
}

describe('ReplBoardDriver on the simulated QuecPython board', () => {
  it('identifies the board: model, firmware, QuecPython version, IMEI', async () => {
    const { driver } = await driverFor({ profile: 'ec100y' });
    const identity = await driver.identify(5000);
    expect(identity.firmware).toBe('EC100YCNAAR01A01M16_OCPU_PY');
    expect(identity.quecpython).toMatch(/^v\d/);
    expect(identity.model).toMatch(/EC100Y/);
  });

  it('reads localtime as an 8-tuple between the host send and receive times', async () => {
    const { driver } = await driverFor({ profile: { ...resolveBoardProfile('ec200u'), zoneQuarterHours: 0 }, clockOffsetMs: -7000 });
    const reading = await driver.readLocaltime({ timeoutMs: 5000 });
    expect(reading.localtime).toHaveLength(8);
    const [y, mo, d, h, mi, s] = reading.localtime;
    const boardMs = Date.UTC(y, mo - 1, d, h, mi, s);
    // The board is 7 s slow: its second lies 7 s behind the host window, give or take the second.
    expect(boardMs).toBeGreaterThanOrEqual(reading.hostSendMs - 7000 - 1000);
    expect(boardMs).toBeLessThanOrEqual(reading.hostReceiveMs - 7000);
  });

  it('dials: reports a call that is already up, and brings one up when it is down', async () => {
    const { driver } = await driverFor({ profile: 'ec200u' });
    const up = await driver.dial({ profile: 1, apn: 'internet', timeoutMs: 10_000 });
    expect(up.address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const { driver: cold } = await driverFor({ profile: { ...resolveBoardProfile('ec200u'), autoDial: false } });
    const dialled = await cold.dial({ profile: 1, apn: 'internet', timeoutMs: 10_000 });
    expect(dialled.alreadyUp).toBe(false);
    expect(dialled.address).not.toBe('0.0.0.0');
  });

  it('fails to dial without network within its deadline, saying what the network said', async () => {
    const { driver } = await driverFor({ profile: { ...resolveBoardProfile('ec200u'), autoDial: false }, faults: ['no-network'] });
    const startedAt = performance.now();
    const error = await driver.dial({ profile: 1, apn: 'internet', timeoutMs: 4000 }).catch((e: unknown) => e);
    expect(performance.now() - startedAt).toBeLessThan(5000);
    // No coverage is the rig's or the network's state, not the firmware's failure.
    expect(error).toBeInstanceOf(BoardEnvironmentError);
    expect((error as Error).message).toMatch(/not registered on the network/);
  });

  it('fails to dial without a SIM, saying so', async () => {
    const { driver } = await driverFor({ profile: { ...resolveBoardProfile('ec200u'), autoDial: false }, faults: ['no-sim'] });
    const error = await driver.dial({ profile: 1, apn: 'internet', timeoutMs: 4000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BoardEnvironmentError);
    expect((error as Error).message).toMatch(/no SIM/);
  });

  it('syncs a board whose ntptime.settime() takes no timezone (generation core) at UTC, and says why at another zone', async () => {
    const server = await ntpServer(3000);
    const { driver } = await driverFor({ profile: { ...resolveBoardProfile('ec200u'), ntptime: 'core' }, hosts: { 'time.lab.example': `127.0.0.1:${server.port}` } });
    await driver.dial({ profile: 1, apn: 'internet', timeoutMs: 10_000 });
    expect(await driver.syncClock({ server: 'time.lab.example', timezoneHours: 0, timeoutMs: 20_000 })).toMatchObject({ ok: true });
    const atZone = await driver.syncClock({ server: 'time.lab.example', timezoneHours: 8, timeoutMs: 20_000 });
    expect(atZone).toMatchObject({ ok: false, boardCode: 'TypeError' });
  });

  it('syncs with the server it names and records the server it used', async () => {
    const server = await ntpServer(3000);
    const { driver, board } = await driverFor({ profile: 'ec200u', hosts: { 'time.lab.example': `127.0.0.1:${server.port}` } });
    // NTP needs the data call the firmware brings up by itself after boot: wait for it, as a scenario's dial does.
    await driver.dial({ profile: 1, apn: 'internet', timeoutMs: 10_000 });
    const result = await driver.syncClock({ server: 'time.lab.example', timezoneHours: 0, timeoutMs: 20_000 });
    expect(result).toMatchObject({ ok: true, usedServer: 'time.lab.example' });
    const rtcMs = await board.control.readRtcMs();
    // Whole seconds only, as the firmware's ntptime: 0-1 s behind the server.
    expect(Date.now() + 3000 - rtcMs).toBeGreaterThan(-100);
    expect(Date.now() + 3000 - rtcMs).toBeLessThan(1100);
  });

  it('records the fall-back server when the named one does not resolve', async () => {
    const server = await ntpServer(0);
    const { driver } = await driverFor({ profile: 'ec200u', hosts: { 'pool.ntp.org': `127.0.0.1:${server.port}` } });
    await driver.dial({ profile: 1, apn: 'internet', timeoutMs: 10_000 });
    const result = await driver.syncClock({ server: 'ntp.unknown.example', timezoneHours: 0, timeoutMs: 30_000 });
    expect(result.ok).toBe(true);
    expect(result.usedServer).toBe('pool.ntp.org');
  });

  it('treats the OSError after every fall-back as a failed sync with the reason', async () => {
    const { driver } = await driverFor({ profile: 'ec200u' });
    const result = await driver.syncClock({ server: 'ntp.unknown.example', timezoneHours: 0, timeoutMs: 30_000 });
    expect(result.ok).toBe(false);
    expect(result.reason).toBe('OSError: Server connection failed!');
  });

  it('times edges in turns: boards sharing one timing slot never exchange ticks at the same time', async () => {
    const slots = new Gate(1);
    // Same offset, same edge: without turns all three would exchange in the same few ms.
    const drivers = await Promise.all([0, 1, 2].map(async () => (await driverFor({ profile: 'ec200u' }, { timingSlots: slots })).driver));
    const readings = await Promise.all(drivers.map((driver) => driver.readLocaltime({ timeoutMs: 10_000, precision: 'edge' })));
    const windows = readings
      .map((reading) => {
        const exchanges = (reading.edge?.evidence as { exchanges: TickExchange[] } | undefined)?.exchanges ?? [];
        expect(exchanges.length).toBeGreaterThanOrEqual(4);
        return [exchanges[0]!.hostSendMs, exchanges.at(-1)!.hostReceiveMs] as const;
      })
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < windows.length; i++) expect(windows[i]![0], JSON.stringify(windows)).toBeGreaterThanOrEqual(windows[i - 1]![1]);
    expect(slots.state).toEqual({ busy: 0, waiting: 0 });
  });

  it('reads the edge without a turn when none comes in time: a held turn delays a reading, never stops it', async () => {
    const slots = new Gate(1);
    const held = await slots.acquire();
    const { driver } = await driverFor({ profile: 'ec200u' }, { timingSlots: slots });
    const startedMs = performance.now();
    const reading = await driver.readLocaltime({ timeoutMs: 10_000, precision: 'edge' });
    expect(reading.edge?.method).toBe('repl-ticks');
    expect(performance.now() - startedMs).toBeLessThan(3000);
    expect(slots.state).toEqual({ busy: 1, waiting: 0 });
    held.release();
  });

  it('tries the next second when the board loop was wide at the edge, keeps the narrower and records the one passed over', async () => {
    // A module busy for 9 ms at every second tick: every loop is about 9 ms wide, wider than the default 6.
    // The sim's clock is the host's: start mid-second, so the first edge comes well within the time a second try needs.
    const { driver } = await driverFor({ profile: { ...resolveBoardProfile('ec200u'), edgeStall: 9 }, clockOffsetMs: 0 });
    await new Promise((resolve) => setTimeout(resolve, (1400 - (Date.now() % 1000)) % 1000));
    const reading = await driver.readLocaltime({ timeoutMs: 10_000, precision: 'edge' });
    const evidence = reading.edge?.evidence as { loop: { ticksBeforeMs: number; ticksAfterMs: number }; passedOver?: { ticksBeforeMs: number; ticksAfterMs: number }[] };
    const width = (loop: { ticksBeforeMs: number; ticksAfterMs: number }): number => loop.ticksAfterMs - loop.ticksBeforeMs;
    expect(width(evidence.loop)).toBeGreaterThanOrEqual(9);
    expect(evidence.passedOver?.length).toBeGreaterThanOrEqual(1);
    for (const wide of evidence.passedOver ?? []) expect(width(wide)).toBeGreaterThanOrEqual(width(evidence.loop));
    // widest-loop: 25ms keeps the first one: no second spent.
    const kept = await driver.readLocaltime({ timeoutMs: 10_000, precision: 'edge', widestLoopMs: 25 });
    const keptEvidence = kept.edge?.evidence as { loop: { ticksBeforeMs: number; ticksAfterMs: number }; passedOver?: unknown };
    expect(width(keptEvidence.loop)).toBeGreaterThanOrEqual(9);
    expect(keptEvidence.passedOver).toBeUndefined();
  });
});
