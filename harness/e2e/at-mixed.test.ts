import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtBoardDriver } from '../board/at.js';
import type { LocaltimeReading } from '../board/board.js';
import { ReplBoardDriver } from '../board/repl.js';
import { AtChannel } from '../channel/at/channel.js';
import { ReplChannel } from '../channel/repl/repl.js';
import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import { openLink } from '../link/open.js';
import { startSimBoard, type SimBoard } from '../sim/board.js';
import { servePty, type ServedBoard } from '../sim/serve.js';

const hasSocat = ['/usr/bin/socat', '/bin/socat', '/usr/local/bin/socat'].some((path) => existsSync(path));
/** The reference server runs 3 s ahead of the host and the board starts 7 s behind: no accidental pass. */
const SERVER_OFFSET_MS = 3_000;
const BOARD_START_OFFSET_MS = -7_000;
/** PTY, worker and VM latency on a loaded CI host, on top of the reading's own interval. */
const SLACK_MS = 300;

/**
 * The board's offset from the host clock as an interval: the reading says second S at some host
 * instant in [hostSendMs, hostReceiveMs], so offset lies in (S - receive, S + 1 s - send).
 */
function offsetInterval(reading: LocaltimeReading, zoneMinutes: number): { lowMs: number; highMs: number } {
  const [year, month, mday, hour, minute, second] = reading.localtime;
  const boardUtcMs = Date.UTC(year, month - 1, mday, hour, minute, second) - zoneMinutes * 60_000;
  return { lowMs: boardUtcMs - reading.hostReceiveMs, highMs: boardUtcMs + 1000 - reading.hostSendMs };
}

describe.skipIf(!hasSocat && !process.env.CI)('AT and REPL ports share one clock (sim board over socat PTYs)', () => {
  let sntp: SntpServer;
  let board: SimBoard;
  let served: ServedBoard;
  let at: AtChannel;
  let repl: ReplChannel;
  let atDriver: AtBoardDriver;
  let replDriver: ReplBoardDriver;

  beforeAll(async () => {
    sntp = await startSntpServer({ offsetMs: SERVER_OFFSET_MS });
    board = await startSimBoard({
      profile: 'ec200u',
      clockOffsetMs: BOARD_START_OFFSET_MS,
      hosts: { 'ntp.test': `127.0.0.1:${sntp.port}` },
    });
    served = await servePty(board);
    at = new AtChannel(await openLink(served.ports.at));
    repl = new ReplChannel(await openLink(served.ports.repl));
    atDriver = new AtBoardDriver(at, { apn: board.profile.apn, cid: 1 });
    replDriver = new ReplBoardDriver(repl);
  });

  afterAll(async () => {
    await repl?.close().catch(() => undefined);
    await at?.close().catch(() => undefined);
    await served?.close();
    await board?.close();
    await sntp?.close();
  });

  it('syncs over AT (AT+QNTP) and the REPL utime.localtime() shows the synced clock', async () => {
    const before = offsetInterval(await atDriver.readLocaltime({ timeoutMs: 5000 }), board.profile.zoneQuarterHours * 15);
    expect(before.highMs).toBeLessThan(SERVER_OFFSET_MS - 5000);

    const dial = await atDriver.dial({ profile: 1, timeoutMs: 10_000 });
    expect(dial.address).toBe(board.profile.address);
    const sync = await atDriver.syncClock({ server: 'ntp.test', timezoneHours: 0, timeoutMs: 10_000 });
    expect(sync).toMatchObject({ ok: true, boardCode: '0' });

    // AT+QNTP wrote local time (UTC + the network's zone) into the RTC; the REPL reading carries no zone.
    const reading = await replDriver.readLocaltime({ timeoutMs: 10_000 });
    const viaRepl = offsetInterval(reading, board.profile.zoneQuarterHours * 15);
    expect(viaRepl.lowMs).toBeLessThanOrEqual(SERVER_OFFSET_MS + SLACK_MS);
    expect(viaRepl.highMs).toBeGreaterThanOrEqual(SERVER_OFFSET_MS - SLACK_MS);
  });

  it('syncs over the REPL (ntptime.settime) and AT+CCLK? shows it', async () => {
    await board.control.setClockOffset(BOARD_START_OFFSET_MS);
    const zoneHours = board.profile.zoneQuarterHours / 4;
    const sync = await replDriver.syncClock({ server: 'ntp.test', timezoneHours: zoneHours, timeoutMs: 15_000 });
    expect(sync).toMatchObject({ ok: true });
    const reading = await atDriver.readLocaltime({ timeoutMs: 5000 });
    expect(reading.zoneQuarterHours).toBe(board.profile.zoneQuarterHours);
    const viaAt = offsetInterval(reading, (reading.zoneQuarterHours ?? 0) * 15);
    expect(viaAt.lowMs).toBeLessThanOrEqual(SERVER_OFFSET_MS + SLACK_MS);
    expect(viaAt.highMs).toBeGreaterThanOrEqual(SERVER_OFFSET_MS - SLACK_MS);
  });
});
