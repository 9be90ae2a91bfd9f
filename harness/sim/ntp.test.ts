import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import { resolveBoardProfile } from './board.js';
import { ModemModel } from './modem.js';
import { firmwareNtpQuery, isLoopbackAddress, ntpTimestampToUnixMs, ntptimeSetFrom, resolveLoopback, wholeSecondsMs } from './ntp.js';

const servers: SntpServer[] = [];
afterEach(async () => {
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});

function modemWithCall(hosts: Record<string, string> = {}): ModemModel {
  const modem = new ModemModel({ ...resolveBoardProfile('ec200u'), hosts });
  const context = modem.context(1);
  context.active = true;
  return modem;
}

describe('sim NTP query', () => {
  it('knows loopback from everything else', () => {
    expect(isLoopbackAddress('127.0.0.1')).toBe(true);
    expect(isLoopbackAddress('127.5.6.7')).toBe(true);
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(isLoopbackAddress('10.0.0.1')).toBe(false);
    expect(isLoopbackAddress('128.0.0.1')).toBe(false);
    expect(isLoopbackAddress('::2')).toBe(false);
    expect(isLoopbackAddress('localhost')).toBe(false);
  });

  it('resolves through the host map only and refuses non-loopback targets', () => {
    const modem = modemWithCall({ 'ntp.aliyun.com': '127.0.0.1:11123', 'evil.example': '8.8.8.8' });
    expect(resolveLoopback(modem, 'ntp.aliyun.com')).toEqual({ address: '127.0.0.1', port: 11123 });
    expect(resolveLoopback(modem, '127.0.0.1:999')).toEqual({ address: '127.0.0.1', port: 999 });
    expect(resolveLoopback(modem, 'evil.example')).toBeUndefined();
    expect(resolveLoopback(modem, '8.8.8.8')).toBeUndefined();
    expect(resolveLoopback(modem, 'pool.ntp.org')).toBeUndefined();
  });

  it('reads the transmit timestamp with its fraction, in the era nearest now', () => {
    const packet = Buffer.alloc(48);
    const unixS = 1_800_000_000;
    packet.writeUInt32BE((unixS + 2_208_988_800) % 2 ** 32, 40);
    packet.writeUInt32BE(2 ** 31, 44);
    expect(ntpTimestampToUnixMs(packet, 40, unixS * 1000)).toBe(unixS * 1000 + 500);
    // 2040 is past the 2036 era rollover: the 32-bit seconds wrapped.
    const unix2040S = 2_210_000_000;
    packet.writeUInt32BE((unix2040S + 2_208_988_800) % 2 ** 32, 40);
    packet.writeUInt32BE(0, 44);
    expect(ntpTimestampToUnixMs(packet, 40, unix2040S * 1000)).toBe(unix2040S * 1000);
  });

  it('asks like ntptime.py (48 bytes, 0x1b) and takes the server time without compensation', async () => {
    const server = await startSntpServer({ offsetMs: 3000 });
    servers.push(server);
    const modem = modemWithCall({ 'ntp.aliyun.com': `127.0.0.1:${server.port}` });
    const result = await firmwareNtpQuery(modem, 'ntp.aliyun.com', 1000);
    if (!result.ok) throw new Error(result.reason);
    expect(Math.abs(result.unixMs - (Date.now() + 3000))).toBeLessThan(50);
    expect(result.server).toBe(`127.0.0.1:${server.port}`);
  });

  it('sends exactly the firmware request', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const received = new Promise<Buffer>((resolve) => socket.once('message', (message) => resolve(message)));
    const modem = modemWithCall({ 'ntp.aliyun.com': `127.0.0.1:${socket.address().port}` });
    const query = firmwareNtpQuery(modem, 'ntp.aliyun.com', 200);
    const request = await received;
    expect(request.length).toBe(48);
    expect(request[0]).toBe(0x1b);
    expect(request.subarray(1).every((byte) => byte === 0)).toBe(true);
    expect(await query).toMatchObject({ ok: false, code: 'timeout' });
    socket.close();
  });

  it('fails like DNS without a data call, and honours ntp-silent', async () => {
    const server = await startSntpServer({});
    servers.push(server);
    const modem = modemWithCall({ 'ntp.aliyun.com': `127.0.0.1:${server.port}` });
    modem.deactivate(1);
    expect(await firmwareNtpQuery(modem, 'ntp.aliyun.com', 1000)).toMatchObject({ ok: false, code: 'dns' });
    modem.context(1).active = true;
    modem.faults.ntpSilent = true;
    const startedMs = performance.now();
    expect(await firmwareNtpQuery(modem, 'ntp.aliyun.com', 150)).toMatchObject({ ok: false, code: 'timeout' });
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(140);
    expect(server.requests).toBe(0);
  });
});

describe('ntptime.settime() as the firmware sets the RTC', () => {
  /** A modem whose host clock stands still, so the RTC shows exactly what the sync wrote. */
  function frozenModem(hosts: Record<string, string>): ModemModel {
    const frozenMs = Date.now() + 0.25;
    const modem = new ModemModel({ ...resolveBoardProfile('ec200u'), hosts }, () => frozenMs);
    modem.context(1).active = true;
    return modem;
  }

  it('keeps only the seconds word of the transmit timestamp, then adds the zone', async () => {
    const server = await startSntpServer({ offsetMs: 3000 });
    servers.push(server);
    const modem = frozenModem({ 'ntp.test': `127.0.0.1:${server.port}` });
    const failure = await ntptimeSetFrom(modem, 'ntp.test', { zoneHours: 8, timeoutMs: 2000 });
    expect(failure).toBeUndefined();
    // A whole second: the fraction (almost never zero to the microsecond) was dropped.
    expect(modem.rtcReadingMs() % 1000).toBe(0);
    expect(Math.abs(modem.rtcReadingMs() - 8 * 3_600_000 - (Date.now() + 3000))).toBeLessThan(1100);
    expect(wholeSecondsMs(1_700_000_000_999.9)).toBe(1_700_000_000_000);
  });

  it('rejects, in the UniRTOS generation, a reply that is not LI 0 version 3 mode 4 at stratum 1-15', async () => {
    const server = await startSntpServer({ stratum: 0 });
    servers.push(server);
    const modem = frozenModem({ 'ntp.test': `127.0.0.1:${server.port}` });
    const before = modem.rtcReadingMs();
    expect(await ntptimeSetFrom(modem, 'ntp.test', { zoneHours: 0, timeoutMs: 2000, strictReply: true })).toMatch(/rejects: first byte 0x\w+, stratum 0/);
    expect(modem.rtcReadingMs()).toBe(before);
    // The older generations take the same reply.
    expect(await ntptimeSetFrom(modem, 'ntp.test', { zoneHours: 0, timeoutMs: 2000 })).toBeUndefined();
  });
});
