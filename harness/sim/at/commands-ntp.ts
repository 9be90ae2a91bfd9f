/** AT+QNTP's query: the modem's view of the server (host map, `ntp-silent`) and the board's NTP service. */
import type { ModemModel } from '../modem.js';
import type { NtpFailureCode } from '../services.js';
import type { AtServices } from './interpreter.js';

/** `+QNTP: <err>` for each way the NTP service can fail (TCP/IP application note, chapter 4). */
const QNTP_FAILURE: Record<NtpFailureCode, number> = { dns: 565, refused: 566, timeout: 569 };

/** The server's UTC ms, or the `+QNTP` error code. */
export async function queryNtp(
  modem: ModemModel,
  services: AtServices,
  server: string,
  port: number,
  sleep: (ms: number) => Promise<void>,
): Promise<{ utcMs: number } | number> {
  if (!modem.resolve(server, port)) return QNTP_FAILURE.dns;
  const timeoutMs = modem.profile.ntpTimeout;
  if (modem.faults.ntpSilent) {
    await sleep(timeoutMs);
    return QNTP_FAILURE.timeout;
  }
  const host = port === 123 ? server : `${server}:${port}`;
  if (services.ntpQuery) {
    try {
      const result = await services.ntpQuery(host, timeoutMs);
      return result.ok ? { utcMs: result.unixMs } : QNTP_FAILURE[result.code];
    } catch {
      return 550; // unknown error: the service broke its contract
    }
  }
  try {
    return { utcMs: await services.ntpQueryUtcMs(host, timeoutMs) };
  } catch {
    // This service does not say why it failed: report what a silent server gives.
    return QNTP_FAILURE.timeout;
  }
}
