import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BoardEnvironmentError, BoardError, WaitTimeoutError } from '../core/errors.js';
import { memoryLinkPair } from '../link/memory.js';
import { AtChannel } from '../channel/at/channel.js';
import { AtGarbledReplyError, AtTimeoutError, CmeError } from '../channel/at/errors.js';
import { loadScript, parseScript, ScriptedPeer, type Script } from '../channel/at/scripted-peer.js';
import { AtBoardDriver, parseCclk, parseQntpUrc } from './at.js';
import { toLocaltimeTuple } from './repl.js';

const TRANSCRIPTS = join(import.meta.dirname, '../../fixtures/transcripts');

const READY = `AT+CPIN?\n+CPIN: READY\n\nOK\nAT+CSQ\n+CSQ: 24,99\n\nOK\nAT+CEREG?\n+CEREG: 0,1\n\nOK\n`;

function board(script: Script | string, apn = 'CMNET') {
  const pair = memoryLinkPair('at-board');
  const peer = new ScriptedPeer(pair.board, typeof script === 'string' ? parseScript(script) : script);
  const channel = new AtChannel(pair.host, { timeoutsMs: { '+QIACT=': 200 } });
  return { peer, channel, driver: new AtBoardDriver(channel, { apn, cid: 1, registrationPollMs: 10 }) };
}

describe('AtBoardDriver', () => {
  it('identifies an EG25 from ATI, AT+QGMR and AT+CGSN', async () => {
    const { driver } = board(loadScript(join(TRANSCRIPTS, 'identify-eg25.txt')));
    const identity = await driver.identify(5000);
    expect(identity).toMatchObject({ model: 'EG25', firmware: 'EG25GGBR07A08M2G_30.203.30.203', imei: '866425031234567' });
    expect(identity.details.revision).toBe('EG25GGBR07A08M2G');
  });

  it('dials as in the EC200U application note and reports the address', async () => {
    const dial = loadScript(join(TRANSCRIPTS, 'ec200u-dial.txt'));
    const script = parseScript(`${READY}AT+QIACT?\nOK\n`);
    script.exchanges.push(...dial.exchanges, ...parseScript('AT+QIDNSCFG=1\n+QIDNSCFG: 1,"58.242.2.2","218.104.78.2"\nOK\n').exchanges);
    const { driver, peer } = board(script);
    const result = await driver.dial({ profile: 1, timeoutMs: 5000 });
    expect(result).toEqual({ profile: 1, address: '10.171.134.243', alreadyUp: false, dns: ['58.242.2.2', '218.104.78.2'] });
    expect(peer.mismatches).toEqual([]);
  });

  it('polls registration until the board is registered', async () => {
    const script = `AT+CPIN?\n+CPIN: READY\nOK\nAT+CSQ\n+CSQ: 10,99\nOK\nAT+CEREG?\n+CEREG: 0,2\nOK\nAT+CEREG?\n+CEREG: 0,5\nOK\nAT+QIACT?\n+QIACT: 1,1,1,"10.0.0.9"\nOK\nAT+QIDNSCFG=1\nERROR\n`;
    const { driver, peer } = board(script);
    expect(await driver.dial({ profile: 1, timeoutMs: 5000 })).toEqual({ profile: 1, address: '10.0.0.9', alreadyUp: true, dns: [] });
    expect(peer.mismatches).toEqual([]);
  });

  it('deactivates a context the network dropped (+QIURC "pdpdeact") before dialling again', async () => {
    const script = `${READY}AT+QIDEACT=1\nOK\nAT+QIACT?\nOK\nAT+QICSGP=1,1,"internet"\nOK\nAT+QIACT=1\nOK\nAT+QIACT?\n+QIACT: 1,1,1,"10.171.134.244"\nOK\nAT+QIDNSCFG=1\nERROR\n`;
    const { driver, peer } = board(script, 'internet');
    await peer.inject('\r\n+QIURC: "pdpdeact",1\r\n');
    await new Promise((resolve) => setTimeout(resolve, 10));
    const result = await driver.dial({ profile: 1, timeoutMs: 5000 });
    expect(result.address).toBe('10.171.134.244');
    expect(peer.received).toContain('AT+QIDEACT=1');
    expect(peer.mismatches).toEqual([]);
  });

  it('takes a context the board activated by itself meanwhile (AT+QIACT= answers ERROR) as up', async () => {
    const script = `${READY}AT+QIACT?\nOK\nAT+QICSGP=1,1,"cmnet"\nOK\nAT+QIACT=1\nERROR\nAT+QIACT?\n+QIACT: 1,1,1,"10.91.44.177"\nOK\nAT+QIDNSCFG=1\nERROR\n`;
    const { driver, peer } = board(script, 'cmnet');
    expect(await driver.dial({ profile: 1, timeoutMs: 5000 })).toEqual({ profile: 1, address: '10.91.44.177', alreadyUp: true, dns: [] });
    expect(peer.mismatches).toEqual([]);
  });

  it('fails a dial whose AT+QIACT= answers ERROR with no context up', async () => {
    const script = `${READY}AT+QIACT?\nOK\nAT+QICSGP=1,1,"cmnet"\nOK\nAT+QIACT=1\nERROR\nAT+QIACT?\nOK\n`;
    const { driver } = board(script, 'cmnet');
    await expect(driver.dial({ profile: 1, timeoutMs: 5000 })).rejects.toThrow(/AT\+QIACT=1 \(APN "cmnet"\) failed: ERROR/);
  });

  it('fails a dial without SIM as "SIM not inserted"', async () => {
    const { driver } = board(loadScript(join(TRANSCRIPTS, 'no-sim.txt')));
    const error = await driver.dial({ profile: 1, timeoutMs: 5000 }).catch((e: unknown) => e);
    // A missing SIM is the rig's: no verdict on the firmware.
    expect(error).toBeInstanceOf(BoardEnvironmentError);
    expect((error as Error & { cause?: unknown }).cause).toBeInstanceOf(CmeError);
    expect((error as Error).message).toContain('SIM not inserted');
  });

  it('ends a dial whose AT+QIACT never answers at the deadline, with the transcript tail', async () => {
    const { driver } = board(`${READY}AT+QIACT?\nOK\nAT+QICSGP=1,1,"CMNET"\nOK\nAT+QIACT=1\n@silent\n`);
    const error = await driver.dial({ profile: 1, timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AtTimeoutError);
    expect((error as AtTimeoutError).message).toMatch(/AT\+QIACT=1.*200ms/);
    expect((error as AtTimeoutError).tail).toContain('AT+QIACT=1');
  });

  it('syncs with AT+QNTP and reads AT+CCLK? with its -16 zone (recorded transcript)', async () => {
    const { driver, peer } = board(loadScript(join(TRANSCRIPTS, 'qntp-sync.txt')));
    const sync = await driver.syncClock({ server: 'ntp.aliyun.com', timezoneHours: 0, timeoutMs: 5000 });
    expect(sync).toEqual({
      ok: true,
      requestedServer: 'ntp.aliyun.com',
      usedServer: 'ntp.aliyun.com',
      boardCode: '0',
      reportedTime: '2022/06/20,21:32:20-16',
    });
    const before = Date.now();
    const reading = await driver.readLocaltime({ timeoutMs: 2000 });
    expect(reading.localtime).toEqual([2022, 6, 20, 21, 32, 21, 0, 171]);
    expect(reading.zoneQuarterHours).toBe(-16);
    expect(reading.hostSendMs).toBeGreaterThanOrEqual(before);
    expect(reading.hostReceiveMs).toBeGreaterThanOrEqual(reading.hostSendMs);
    expect(reading.raw).toBe('+CCLK: "22/06/20,21:32:21-16"');
    expect(peer.mismatches).toEqual([]);
  });

  it('fails a sync whose +QNTP URC says 565 as a DNS failure', async () => {
    const { driver } = board(loadScript(join(TRANSCRIPTS, 'qntp-dns-failed.txt')));
    const sync = await driver.syncClock({ server: 'ntp.invalid', timezoneHours: 0, timeoutMs: 5000 });
    expect(sync).toMatchObject({ ok: false, reason: '+QNTP: 565 DNS parse failed', boardCode: '565' });
  });

  it('ends a sync with no +QNTP URC at the sync deadline', async () => {
    const { driver } = board('AT+QNTP=1,"10.0.0.1",11123,1\nOK\n');
    const error = await driver.syncClock({ server: '10.0.0.1:11123', timezoneHours: 0, timeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toContain('+QNTP:');
  });
});

describe('parseCclk', () => {
  it('accepts 4-digit years and positive zones, and computes weekday and yearday', () => {
    expect(parseCclk('+CCLK: "2024/12/31,23:59:59+32"')).toEqual({
      localtime: [2024, 12, 31, 23, 59, 59, 1, 366],
      zoneQuarterHours: 32,
    });
    expect(parseCclk('+CCLK: "80/01/06,00:00:00+00"')?.localtime).toEqual([2080, 1, 6, 0, 0, 0, 5, 6]);
    expect(parseCclk('+CCLK: garbage')).toBeUndefined();
  });

  it('leaves the zone undefined (the scenario timezone applies) when +CCLK has no zone field', () => {
    const parsed = parseCclk('+CCLK: "24/03/01,12:00:00"');
    expect(parsed?.localtime).toEqual([2024, 3, 1, 12, 0, 0, 4, 61]);
    expect(parsed?.zoneQuarterHours).toBeUndefined();
    expect(parseCclk('+CCLK: "24/03/01,12:00:00+00"')?.zoneQuarterHours).toBe(0);
  });

  it('reads AT+CCLK? without a zone as a reading with no zone', async () => {
    const { driver } = board('AT+CCLK?\n+CCLK: "24/03/01,12:00:00"\n\nOK\n');
    const reading = await driver.readLocaltime({ timeoutMs: 2000 });
    expect(reading.localtime).toEqual([2024, 3, 1, 12, 0, 0, 4, 61]);
    expect(reading.zoneQuarterHours).toBeUndefined();
  });
});

describe('readings parse strictly: a line that lost or changed bytes is a garbled reply', () => {
  it('rejects +CCLK lines with a cut zone, wrong widths, fields out of range or trailing bytes', () => {
    expect(parseCclk('+CCLK: "26/12/01,10:00:00+04"')?.zoneQuarterHours).toBe(4);
    for (const line of [
      '+CCLK: "26/12/01,10:00:00+0"',
      '+CCLK: "26/12/01,10:00:00+004"',
      '+CCLK: "26/12/1,10:00:00+04"',
      '+CCLK: "26/12/01,10:0:00+04"',
      '+CCLK: "26/13/01,10:00:00+04"',
      '+CCLK: "26/02/30,10:00:00+04"',
      '+CCLK: "26/12/01,24:00:00+04"',
      '+CCLK: "26/12/01,10:60:00+04"',
      '+CCLK: "26/12/01,10:00:60+04"',
      '+CCLK: "26/12/01,10:00:00+60"',
      '+CCLK: "26/12/01,10:00:00+04"x',
      '+CCLK: "26/12/01,10:00:00+04',
      '+CCLK: "26/12/01,10:00:00+0\\x9c"',
    ]) {
      expect(parseCclk(line), line).toBeUndefined();
    }
  });

  it('fails AT+CCLK? whose zone lost a byte on the way as a garbled reply, not a false hour', async () => {
    const pair = memoryLinkPair('garbled-cclk');
    const peer = new ScriptedPeer(pair.board, parseScript('AT+CCLK?\n@silent\n'));
    const driver = new AtBoardDriver(new AtChannel(pair.host), { apn: '' });
    const reading = driver.readLocaltime({ timeoutMs: 2000 }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The sim's garbled-output fault: '4' replaced by a byte that is not text.
    await peer.inject(Buffer.from('\r\n+CCLK: "26/12/01,10:00:00+0\x9c"\r\n\r\nOK\r\n', 'latin1'));
    const error = await reading;
    expect(error).toBeInstanceOf(AtGarbledReplyError);
    expect(error).toBeInstanceOf(BoardError);
    expect((error as Error).message).toMatch(/garbled reply to AT\+CCLK\?: .*\+0\\\\x9c/);
  });

  it('parses +QNTP strictly and fails a sync whose URC is garbled', async () => {
    expect(parseQntpUrc('+QNTP: 0,"2022/06/20,21:32:20-16"')).toEqual({ code: 0, time: '2022/06/20,21:32:20-16' });
    expect(parseQntpUrc('+QNTP: 0,"2022/06/20,21:32:20-1"')).toBeUndefined();
    expect(parseQntpUrc('+QNTP: 0,"2022/06/20,21:32:20"')).toBeUndefined();
    expect(parseQntpUrc('+QNTP: 5x5')).toBeUndefined();
    const { driver } = board('AT+QNTP=1,"10.0.0.1",123,1\nOK\n\n+QNTP: 0,"2022/06/20,21:32:2-16"\n');
    const error = await driver.syncClock({ server: '10.0.0.1', timezoneHours: 0, timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BoardError);
    expect((error as Error).message).toContain('garbled reply to AT+QNTP=1,"10.0.0.1",123,1');
  });

  it('fails a readiness check whose +CSQ is garbled', async () => {
    const { driver } = board('AT+CPIN?\n+CPIN: READY\nOK\nAT+CSQ\n+CSQ: 2499\nOK\n');
    await expect(driver.checkReady(2000)).rejects.toThrow(/garbled reply to AT\+CSQ: "\+CSQ: 2499"/);
  });

  it('accepts only 8 integers in range as a REPL localtime tuple', () => {
    expect(toLocaltimeTuple([2024, 2, 29, 23, 59, 59, 3, 60], '')).toEqual([2024, 2, 29, 23, 59, 59, 3, 60]);
    for (const tuple of [
      [2024, 2, 29, 23, 59, 59, 3],
      [2024, 2, 29, 23, 59, 59, 3, 60, 0],
      [2023, 2, 29, 23, 59, 59, 3, 60],
      [2024, 13, 1, 0, 0, 0, 0, 1],
      [2024, 1, 1, 24, 0, 0, 0, 1],
      [2024, 1, 1, 0, 0, 0, 7, 1],
      [2024, 1, 1, 0, 0, 0, 0, 367],
      [2024, 1, 1, 0, 0, 0.5, 0, 1],
    ]) {
      expect(() => toLocaltimeTuple(tuple, String(tuple)), String(tuple)).toThrow(/garbled reply: utime.localtime\(\)/);
    }
  });
});

describe('AtBoardDriver cancellation', () => {
  it('ends a dial polling registration at once when its signal aborts, with the signal reason', async () => {
    const polls = 'AT+CEREG?\n+CEREG: 0,2\nOK\n'.repeat(200);
    const pair = memoryLinkPair('abort-dial');
    new ScriptedPeer(pair.board, parseScript(`AT+CPIN?\n+CPIN: READY\nOK\nAT+CSQ\n+CSQ: 10,99\nOK\n${polls}`));
    const driver = new AtBoardDriver(new AtChannel(pair.host), { apn: '', registrationPollMs: 5000 });
    const controller = new AbortController();
    const reason = new Error('scenario deadline');
    const dial = driver.dial({ profile: 1, timeoutMs: 60_000, signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(reason), 100);
    const startedAt = performance.now();
    expect(await dial).toBe(reason);
    expect(performance.now() - startedAt).toBeLessThan(1000);
  });

  it('ends identify at once when its signal aborts', async () => {
    const { driver } = board('ATI\n@silent\n');
    const controller = new AbortController();
    const identify = driver.identify(60_000, controller.signal).catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('stopped')), 50);
    expect(((await identify) as Error).message).toBe('stopped');
  });
});
