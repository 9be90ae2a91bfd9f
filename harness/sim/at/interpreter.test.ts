import { createSocket } from 'node:dgram';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSntpServer, type SntpServer } from '../../clock/sntp/server.js';
import { AtChannel, type Urc } from '../../channel/at/channel.js';
import { CmeError } from '../../channel/at/errors.js';
import { BoardEnvironmentError } from '../../core/errors.js';
import { AtBoardDriver } from '../../board/at.js';
import { memoryLinkPair } from '../../link/memory.js';
import { ModemModel } from '../modem.js';
import { firmwareNtpQuery } from '../ntp.js';
import { parseBoardProfile } from '../profile.js';
import { NO_NTP, PROFILE, rawPort, ZONE_QUARTER_HOURS } from '../../testing/sim-at.js';
import { createAtPort, type AtPort } from './port.js';

const SERVER_OFFSET_MS = 3_000;

/** A firmware-like SNTP query: one v3 request, time at arrival = T3 + half the round trip. */
function sntpUtcMs(modem: ModemModel, host: string, timeoutMs: number): Promise<number> {
  const [name = host, portText] = host.split(':');
  const target = modem.resolve(name, portText ? Number(portText) : 123);
  if (!target) return Promise.reject(new Error(`cannot resolve ${host}`));
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('timeout'));
    }, timeoutMs);
    const request = Buffer.alloc(48);
    request[0] = 0x1b;
    const sentMs = Date.now();
    socket.on('message', (reply) => {
      const receivedMs = Date.now();
      clearTimeout(timer);
      socket.close();
      const transmitMs = (reply.readUInt32BE(40) - 2_208_988_800) * 1000 + (reply.readUInt32BE(44) / 2 ** 32) * 1000;
      resolve(transmitMs + (receivedMs - sentMs) / 2);
    });
    socket.send(request, target.port, target.address);
  });
}


/** Local wall time in a `+QNTP`/`+QLTS` time (`YYYY/MM/DD,hh:mm:ss±zz`) back to UTC ms. */
function boardTimeToUtcMs(text: string): number {
  const match = /^(\d{4})\/(\d{2})\/(\d{2}),(\d{2}):(\d{2}):(\d{2})([+-]\d{2})$/.exec(text);
  if (!match) throw new Error(`not a board time: ${text}`);
  const [year, month, day, hour, minute, second, zone] = match.slice(1).map(Number) as [
    number, number, number, number, number, number, number,
  ];
  return Date.UTC(year, month - 1, day, hour, minute, second) - zone * 15 * 60_000;
}


describe('sim AT interpreter on the modem model', () => {
  let server: SntpServer;
  let modem: ModemModel;
  let port: AtPort;
  let channel: AtChannel;
  let driver: AtBoardDriver;
  let urcs: Urc[];

  beforeEach(async () => {
    server = await startSntpServer({ offsetMs: SERVER_OFFSET_MS });
    modem = new ModemModel(
      parseBoardProfile({ ...PROFILE, hosts: { 'ntp.test': `127.0.0.1:${server.port}`, 'ntp.dead': '127.0.0.1:9' } }),
    );
    const pair = memoryLinkPair('sim-at');
    port = createAtPort(modem, (bytes) => void pair.board.write(bytes), {
      // The worker's own query (uncompensated, failure codes), as the sim board gives it.
      ntpQuery: (host, timeoutMs) => firmwareNtpQuery(modem, host, timeoutMs),
      ntpQueryUtcMs: (host, timeoutMs) => sntpUtcMs(modem, host, timeoutMs),
    });
    pair.board.onData((bytes) => port.receive(bytes));
    channel = new AtChannel(pair.host);
    driver = new AtBoardDriver(channel, { apn: 'internet', cid: 1, registrationPollMs: 10 });
    urcs = [];
    channel.onUrc((urc) => urcs.push(urc));
  });

  afterEach(async () => {
    port.dispose();
    await server.close();
  });

  it('configures and activates a context and reports its address', async () => {
    await channel.send('AT+QICSGP=1,1,"CMNET"');
    expect(modem.context(1).apn).toBe('CMNET');
    expect((await channel.send('AT+QIACT?')).lines).toEqual([]);
    await channel.send('AT+QIACT=1');
    expect((await channel.send('AT+QIACT?')).lines).toEqual(['+QIACT: 1,1,1,"10.171.134.243"']);
    expect((await channel.send('AT+CGPADDR=1')).lines).toEqual(['+CGPADDR: 1,"10.171.134.243"']);
    // A second activation of an active context is refused, as on a real module.
    expect((await channel.execute('AT+QIACT=1')).final).toBe('ERROR');
    await channel.send('AT+QIDEACT=1');
    expect(modem.context(1).active).toBe(false);
  });

  it('dials through the AtBoardDriver, then says alreadyUp', async () => {
    expect(await driver.dial({ profile: 1, timeoutMs: 5000 })).toEqual({
      profile: 1,
      address: '10.171.134.243',
      alreadyUp: false,
      dns: ['58.242.2.2', '218.104.78.2'],
    });
    expect((await driver.dial({ profile: 1, timeoutMs: 5000 })).alreadyUp).toBe(true);
  });

  it('reports the network drop as +QIURC "pdpdeact" and the driver re-dials', async () => {
    await driver.dial({ profile: 1, timeoutMs: 5000 });
    modem.dropContext(1);
    await channel.waitForUrc('+QIURC: "pdpdeact",1', 1000, { sinceMonoMs: 0 });
    const again = await driver.dial({ profile: 1, timeoutMs: 5000 });
    expect(again).toMatchObject({ alreadyUp: false, address: '10.171.134.243' });
  });

  it('reads AT+CCLK? with a 2-digit year and the modem zone', async () => {
    const reading = await driver.readLocaltime({ timeoutMs: 2000 });
    expect(reading.raw).toMatch(/^\+CCLK: "\d{2}\/\d{2}\/\d{2},\d{2}:\d{2}:\d{2}-16"$/);
    expect(reading.zoneQuarterHours).toBe(ZONE_QUARTER_HOURS);
    const boardUtcMs = Date.UTC(reading.localtime[0], reading.localtime[1] - 1, reading.localtime[2], reading.localtime[3], reading.localtime[4], reading.localtime[5]) - ZONE_QUARTER_HOURS * 15 * 60_000;
    expect(Math.abs(boardUtcMs - reading.hostSendMs)).toBeLessThan(2000);
  });

  it('reads the clock for AT+CCLK? when its delay is up, but never past the host clock (a timer may fire early)', async () => {
    let nowMs = 1_800_000_000_000;
    const clocked = new ModemModel(parseBoardProfile({ ...PROFILE, atDelays: { 'AT+CCLK': 5 } }), () => nowMs);
    // The RTC's second changes 4.5 ms from now.
    clocked.setRtcReadingMs(Math.ceil(nowMs / 1000) * 1000 + 1000 - 4.5);
    const second = (text: string): number => Number(/:(\d{2})[+-]\d+"/.exec(text)?.[1]);
    const early = rawPort(clocked, NO_NTP);
    early.port.receive(Buffer.from('AT+CCLK?\r'));
    // The delay's timer fires with the host clock only 4 ms on: the board reads the old second.
    nowMs += 4;
    await early.until('OK');
    const late = rawPort(clocked, NO_NTP);
    late.port.receive(Buffer.from('AT+CCLK?\r'));
    // A timer that fires a second late (a starved host): the board read its clock when its delay was
    // up, at +9 ms, in the next second, not two seconds on.
    nowMs += 1006;
    await late.until('OK');
    expect((second(late.output()) - second(early.output()) + 60) % 60).toBe(1);
  });

  it('sets the RTC with AT+CCLK= and reads it back', async () => {
    await channel.send('AT+CCLK="30/01/02,03:04:05+32"');
    expect((await channel.send('AT+CCLK?')).lines).toEqual(['+CCLK: "30/01/02,03:04:05+32"']);
    expect(modem.zoneQuarterHours).toBe(32);
  });

  it('answers without SIM with +CME ERROR: 10 in each CMEE mode', async () => {
    modem.sim = 'absent';
    const error = await driver.dial({ profile: 1, timeoutMs: 2000 }).catch((e: unknown) => e);
    // The driver reports a missing SIM as the rig's (no verdict on the firmware), the board's own error kept as the cause.
    expect(error).toBeInstanceOf(BoardEnvironmentError);
    expect((error as Error & { cause?: unknown }).cause).toBeInstanceOf(CmeError);
    expect((error as Error).message).toContain('+CME ERROR: 10 (SIM not inserted)');
    await channel.send('AT+CMEE=2');
    expect(await channel.execute('AT+CPIN?')).toMatchObject({ final: 'CME ERROR', codeText: 'SIM not inserted', code: 10 });
    await channel.send('AT+CMEE=0');
    expect((await channel.execute('AT+QIACT=1')).final).toBe('ERROR');
  });

  it('refuses QIACT with +CME ERROR: 30 when not registered', async () => {
    modem.network = 'searching';
    expect(await channel.execute('AT+QIACT=1')).toMatchObject({ final: 'CME ERROR', code: 30 });
    expect((await channel.send('AT+CEREG?')).lines).toEqual(['+CEREG: 0,2']);
  });

  it('keeps the NTP fraction when the profile says AT+QNTP does (qntpKeepsFraction)', async () => {
    modem = new ModemModel(parseBoardProfile({ ...PROFILE, qntpKeepsFraction: true, hosts: { 'ntp.test': `127.0.0.1:${server.port}` } }));
    port.dispose();
    const pair = memoryLinkPair('sim-at-fraction');
    port = createAtPort(modem, (bytes) => void pair.board.write(bytes), { ntpQuery: (host, timeoutMs) => firmwareNtpQuery(modem, host, timeoutMs), ntpQueryUtcMs: (host, timeoutMs) => sntpUtcMs(modem, host, timeoutMs) });
    pair.board.onData((bytes) => port.receive(bytes));
    const fractionDriver = new AtBoardDriver(new AtChannel(pair.host), { apn: 'internet', cid: 1, registrationPollMs: 10 });
    await fractionDriver.dial({ profile: 1, timeoutMs: 5000 });
    expect(await fractionDriver.syncClock({ server: 'ntp.test', timezoneHours: 0, timeoutMs: 5000 })).toMatchObject({ ok: true });
    const boardUtc = modem.rtcReadingMs() - ZONE_QUARTER_HOURS * 15 * 60_000;
    expect(Math.abs(boardUtc - (Date.now() + SERVER_OFFSET_MS))).toBeLessThan(50);
  });

  it('syncs the modem RTC over real SNTP to the server (+3 s) in whole seconds (0-1 s behind), keeping the zone', async () => {
    await driver.dial({ profile: 1, timeoutMs: 5000 });
    const boardUtcBefore = modem.rtcReadingMs() - ZONE_QUARTER_HOURS * 15 * 60_000;
    expect(Math.abs(boardUtcBefore - (Date.now() + SERVER_OFFSET_MS))).toBeGreaterThan(2000);
    const sync = await driver.syncClock({ server: 'ntp.test', timezoneHours: 0, timeoutMs: 5000 });
    expect(sync).toMatchObject({ ok: true, boardCode: '0' });
    expect(sync.reportedTime).toMatch(/^\d{4}\/\d{2}\/\d{2},\d{2}:\d{2}:\d{2}-16$/);
    const boardUtcAfter = modem.rtcReadingMs() - ZONE_QUARTER_HOURS * 15 * 60_000;
    // The fraction of the server's second is dropped (profile qntpKeepsFraction: false).
    const behindMs = Date.now() + SERVER_OFFSET_MS - boardUtcAfter;
    expect(behindMs).toBeGreaterThan(-50);
    expect(behindMs).toBeLessThan(1050);
    expect(server.requests).toBeGreaterThanOrEqual(1);
  });

  it('fails QNTP with 561 before a dial, 565 for an unknown name, 569 when the server is silent', async () => {
    expect(await driver.syncClock({ server: 'ntp.test', timezoneHours: 0, timeoutMs: 2000 })).toMatchObject({
      ok: false,
      boardCode: '561',
      reason: '+QNTP: 561 PDP open failed',
    });
    await driver.dial({ profile: 1, timeoutMs: 5000 });
    expect(await driver.syncClock({ server: 'ntp.nowhere', timezoneHours: 0, timeoutMs: 2000 })).toMatchObject({
      ok: false,
      boardCode: '565',
      reason: '+QNTP: 565 DNS parse failed',
    });
    const before = modem.rtcReadingMs();
    modem.faults.ntpSilent = true;
    expect(await driver.syncClock({ server: 'ntp.test', timezoneHours: 0, timeoutMs: 2000 })).toMatchObject({
      ok: false,
      boardCode: '569',
    });
    // A failed sync leaves the clock alone.
    expect(Math.abs(modem.rtcReadingMs() - before - 300)).toBeLessThan(200);
  });

  it('turns echo off with ATE0, answers unknown commands with ERROR, identifies itself', async () => {
    await channel.send('ATE0');
    const raw: string[] = [];
    channel.link.onData((bytes) => raw.push(bytes.toString('latin1')));
    await channel.send('AT');
    expect(raw.join('')).toBe('\r\nOK\r\n');
    expect((await channel.execute('AT+NOSUCH')).final).toBe('ERROR');
    expect(await driver.identify(2000)).toMatchObject({ model: 'EC200U', firmware: 'EC200UEUAAR03A01M08_OCPU_QPY', imei: '864430010001234' });
  });

  it('reboots on AT+CFUN=1,1: OK, then RDY, echo back on', async () => {
    await channel.send('ATE0');
    const since = performance.now();
    await channel.send('AT+CFUN=1,1');
    await channel.waitForUrc('RDY', 2000, { sinceMonoMs: since });
    const raw: string[] = [];
    channel.link.onData((bytes) => raw.push(bytes.toString('latin1')));
    await channel.send('AT');
    expect(raw.join('')).toBe('AT\r\r\nOK\r\n');
  });

  it('answers AT+QLTS with the network time, or "" when not registered', async () => {
    const line = (await channel.send('AT+QLTS=2')).lines[0] ?? '';
    expect(line).toMatch(/^\+QLTS: "\d{4}\/\d{2}\/\d{2},\d{2}:\d{2}:\d{2}-16,0"$/);
    modem.network = 'denied';
    expect((await channel.send('AT+QLTS')).lines).toEqual(['+QLTS: ""']);
  });
  it('QNTP reports the time the server gave, with autosettime 0 leaving the RTC alone', async () => {
    const hourAhead = await startSntpServer({ offsetMs: 3_600_000 });
    try {
      modem.hosts.set('ntp.aliyun.com', `127.0.0.1:${hourAhead.port}`);
      await driver.dial({ profile: 1, timeoutMs: 5000 });
      const rtcBefore = modem.rtcReadingMs();
      const since = performance.now();
      await channel.send('AT+QNTP=1,"ntp.aliyun.com",123,0');
      const urc = await channel.waitForUrc((u) => u.name === '+QNTP', 2000, { sinceMonoMs: since });
      const match = /^\+QNTP: 0,"(.*)"$/.exec(urc.line);
      expect(match).not.toBeNull();
      expect(match?.[1]).toMatch(/-16$/);
      // The server's time (+1 h), not the board's own.
      expect(Math.abs(boardTimeToUtcMs(match?.[1] ?? '') - (Date.now() + 3_600_000))).toBeLessThan(2000);
      // autosettime 0: the RTC keeps running where it was.
      expect(Math.abs(modem.rtcReadingMs() - rtcBefore)).toBeLessThan(1000);

      // autosettime 1 (the default) sets the RTC and reports the same server time.
      const again = performance.now();
      await channel.send('AT+QNTP=1,"ntp.aliyun.com"');
      const set = await channel.waitForUrc((u) => u.name === '+QNTP', 2000, { sinceMonoMs: again });
      const reported = boardTimeToUtcMs(/"(.*)"/.exec(set.line)?.[1] ?? '');
      expect(Math.abs(reported - (Date.now() + 3_600_000))).toBeLessThan(2000);
      const boardUtc = modem.rtcReadingMs() - ZONE_QUARTER_HOURS * 15 * 60_000;
      const behindMs = Date.now() + 3_600_000 - boardUtc;
      expect(behindMs).toBeGreaterThan(-100);
      expect(behindMs).toBeLessThan(1100);
    } finally {
      await hourAhead.close();
    }
  });

  it('maps the NTP service failures to +QNTP codes: dns 565, refused 566, timeout 569', async () => {
    // A name the modem's map knows but the firmware resolver does not (not loopback): a DNS failure.
    modem.hosts.set('ntp.outside', '192.0.2.1');
    await driver.dial({ profile: 1, timeoutMs: 5000 });
    // 127.0.0.1:9 has nobody listening: the connected socket hears ICMP port unreachable.
    expect(await driver.syncClock({ server: 'ntp.dead', timezoneHours: 0, timeoutMs: 2000 })).toMatchObject({
      ok: false,
      boardCode: '566',
    });
    expect(await driver.syncClock({ server: 'ntp.outside', timezoneHours: 0, timeoutMs: 2000 })).toMatchObject({
      ok: false,
      boardCode: '565',
    });
  });

});
