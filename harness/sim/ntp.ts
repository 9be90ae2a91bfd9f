import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import type { ModemModel } from './modem.js';
import type { NtpQueryResult } from './services.js';
import { sleep } from '../core/sleep.js';
import { ntpToUnixMs } from '../clock/sntp/packet.js';

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_PACKET_BYTES = 48;

/**
 * NETWORK SAFETY: the simulated board only ever talks to the host it runs on. 127.0.0.0/8 and ::1
 * pass; every other address, and every name the modem's host map does not know, fails like DNS.
 */
export function isLoopbackAddress(address: string): boolean {
  if (isIP(address) === 4) return address.split('.')[0] === '127';
  if (isIP(address) === 6) return address === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(address);
  return false;
}

/** Splits `host`, `host:port`, `[v6]:port`; the port defaults to 123. */
function splitHostPort(text: string): { host: string; port: number | undefined } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) return { host: v6[1] ?? '', port: v6[2] ? Number(v6[2]) : undefined };
  const match = /^([^:]+)(?::(\d+))?$/.exec(text);
  if (match) return { host: match[1] ?? text, port: match[2] ? Number(match[2]) : undefined };
  return { host: text, port: undefined };
}

/**
 * Resolves `host` the way the board's DNS would: through the modem's host map only (never a real
 * DNS lookup), then refuses anything off loopback. Undefined means "DNS failed".
 */
export function resolveLoopback(modem: ModemModel, hostText: string): { address: string; port: number } | undefined {
  const { host, port } = splitHostPort(hostText.trim());
  const mapped = modem.hosts.get(host);
  let target: { address: string; port: number } | undefined;
  if (mapped !== undefined) {
    const inner = splitHostPort(mapped);
    target = { address: inner.host, port: port ?? inner.port ?? 123 };
  } else if (isIP(host)) {
    target = { address: host, port: port ?? 123 };
  }
  if (!target || !isLoopbackAddress(target.address)) return undefined;
  return target;
}

/** Reads a 64-bit NTP timestamp (seconds since 1900, 32.32 fixed point) as Unix ms, in the era nearest the host's "now". */
export function ntpTimestampToUnixMs(packet: Buffer, offset: number, hostNowMs: number): number {
  return ntpToUnixMs(packet.readBigUInt64BE(offset), hostNowMs);
}

export { FIRMWARE_NTP_FALLBACKS, FIRMWARE_NTP_HOST } from './ntp-hosts.js';

export interface NtpQueryOptions {
  /** Cancels the wait (a Ctrl-C on the REPL): resolves as a timeout at once. */
  signal?: AbortSignal;
  hostNowMs?: () => number;
  /**
   * The UniRTOS ntptime's checks: only a reply whose first byte is 0x1C (LI 0, version 3, mode 4),
   * with stratum 1-15 and a non-zero transmit timestamp (no kiss-of-death) counts; others fail.
   */
  strictReply?: boolean;
}

/**
 * What the firmware keeps of a server's time: the transmit timestamp's seconds word only
 * (`msg[40:44]`, all three ntptime generations), so the fraction, 0-1 s, is lost.
 */
export function wholeSecondsMs(unixMs: number): number {
  return Math.floor(unixMs / 1000) * 1000;
}

/**
 * One SNTP query as QuecPython's ntptime.py makes it: a 48-byte request whose first byte is 0x1b,
 * then the reply's transmit timestamp (bytes 40..47) taken as the time, with no round-trip
 * compensation. Needs a registered network and an active data call, as on the module.
 */
export async function firmwareNtpQuery(
  modem: ModemModel,
  host: string,
  timeoutMs: number,
  options: NtpQueryOptions = {},
): Promise<NtpQueryResult> {
  const hostNowMs = options.hostNowMs ?? Date.now;
  const anyCallUp = [...modem.contexts.values()].some((context) => context.active);
  if (!modem.registered || !anyCallUp) {
    return { ok: false, code: 'dns', reason: `cannot resolve ${host}: no data call (network ${modem.network}, SIM ${modem.sim})` };
  }
  const target = resolveLoopback(modem, host);
  if (!target) return { ok: false, code: 'dns', reason: `cannot resolve ${host}: unknown to the simulated board's DNS (loopback only)` };
  const server = `${target.address}:${target.port}`;
  if (modem.faults.ntpSilent) {
    await sleep(timeoutMs, options.signal);
    return { ok: false, code: 'timeout', reason: `no answer from ${host} (${server}) within ${timeoutMs}ms (ntp-silent fault)` };
  }
  const socket = createSocket(isIP(target.address) === 6 ? 'udp6' : 'udp4');
  try {
    return await new Promise<NtpQueryResult>((resolve) => {
      const finish = (result: NtpQueryResult): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const timer = setTimeout(
        () => finish({ ok: false, code: 'timeout', reason: `no answer from ${host} (${server}) within ${timeoutMs}ms` }),
        timeoutMs,
      );
      const onAbort = (): void => finish({ ok: false, code: 'timeout', reason: `query to ${host} interrupted` });
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        finish(
          error.code === 'ECONNREFUSED'
            ? { ok: false, code: 'refused', reason: `${host} (${server}) refused the query (port unreachable)` }
            : { ok: false, code: 'timeout', reason: `query to ${host} (${server}) failed: ${error.message}` },
        );
      });
      socket.on('message', (reply: Buffer) => {
        // A connected socket only hears from the address and port it asked.
        if (reply.length < NTP_PACKET_BYTES) return;
        if (options.strictReply && (reply[0] !== 0x1c || (reply[1] ?? 0) < 1 || (reply[1] ?? 0) > 15 || reply.readBigUInt64BE(40) === 0n)) {
          finish({ ok: false, code: 'refused', reason: `${host} (${server}) sent a reply ntptime rejects: first byte 0x${(reply[0] ?? 0).toString(16)}, stratum ${reply[1] ?? 0}` });
          return;
        }
        finish({ ok: true, unixMs: ntpTimestampToUnixMs(reply, 40, hostNowMs()), server });
      });
      socket.connect(target.port, target.address, () => {
        const request = Buffer.alloc(NTP_PACKET_BYTES);
        request[0] = 0x1b;
        socket.send(request);
      });
    });
  } finally {
    socket.close();
  }
}


export interface NtptimeSetOptions {
  /** Hours added to the server's UTC (`settime(timezone)`). */
  zoneHours: number;
  timeoutMs: number;
  strictReply?: boolean;
  signal?: AbortSignal;
}

/**
 * One server tried by `ntptime.settime()`: the query, then the RTC set to the server's UTC in whole
 * seconds (wholeSecondsMs) plus the zone. The Python side (micropython/modules.ts) does the
 * generation's fall-backs and return values. Resolves to the failure's reason, or undefined when set.
 */
export async function ntptimeSetFrom(modem: ModemModel, host: string, options: NtptimeSetOptions): Promise<string | undefined> {
  const result = await firmwareNtpQuery(modem, host, options.timeoutMs, { signal: options.signal, strictReply: options.strictReply });
  if (!result.ok) return result.reason;
  modem.setRtcReadingMs(wholeSecondsMs(result.unixMs) + options.zoneHours * 3_600_000);
  return undefined;
}
