/**
 * The IoT platform's NTP messages (seeds 002 and 004, reference/protocols.md):
 *
 *   request   `/ext/ntp/${ProductKey}/${DeviceName}/request`   `{"deviceSendTime":"1571724098000"}`
 *   response  `/ext/ntp/${ProductKey}/${DeviceName}/response`  deviceSendTime, serverRecvTime, serverSendTime
 *
 * All timestamps in ms; the response uses the type the request used (Long or String), and echoes
 * deviceSendTime exactly as it came.
 */

export const REQUEST_TOPIC_FILTER = '/ext/ntp/+/+/request';

export function requestTopic(productKey: string, deviceName: string): string {
  return `/ext/ntp/${productKey}/${deviceName}/request`;
}

export function responseTopic(productKey: string, deviceName: string): string {
  return `/ext/ntp/${productKey}/${deviceName}/response`;
}

/** ProductKey and DeviceName of a request topic, or undefined when it is not one. */
export function parseRequestTopic(topic: string): { productKey: string; deviceName: string } | undefined {
  const match = /^\/ext\/ntp\/([^/]+)\/([^/]+)\/request$/.exec(topic);
  return match ? { productKey: match[1] ?? '', deviceName: match[2] ?? '' } : undefined;
}

export type TimestampType = 'long' | 'string';

export interface NtpRequest {
  /** deviceSendTime exactly as the device wrote it (digits, without quotes). */
  deviceSendTimeText: string;
  type: TimestampType;
}

/** Largest request the responder reads: a device's one-key JSON is tens of bytes. */
export const MAX_REQUEST_BYTES = 1024;

/** A request payload, or a reason it is none: not JSON, no deviceSendTime, or not an integer in ms. */
export function parseNtpRequest(payload: Buffer | string): NtpRequest | { problem: string } {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  if (text.length > MAX_REQUEST_BYTES) return { problem: `request of ${text.length} bytes (at most ${MAX_REQUEST_BYTES})` };
  let value: unknown;
  try {
    value = (JSON.parse(text) as Record<string, unknown> | null)?.deviceSendTime;
  } catch {
    return { problem: 'request is not JSON' };
  }
  if (typeof value === 'string' && /^-?\d{1,19}$/.test(value)) return { deviceSendTimeText: value, type: 'string' };
  if (typeof value === 'number') {
    // JSON.parse would round digits beyond 2^53: echo the digits as they came.
    const raw = /"deviceSendTime"\s*:\s*(-?\d{1,19})\s*[,}]/.exec(text)?.[1];
    if (raw !== undefined) return { deviceSendTimeText: raw, type: 'long' };
  }
  return { problem: 'request has no deviceSendTime in ms (an integer, Long or String)' };
}

/** What a response says, field by field; any may be replaced by a fault. */
export interface NtpResponseFields {
  deviceSendTime?: string;
  serverRecvTime?: string;
  serverSendTime?: string;
}

/** The response JSON in the request's type: Long fields as bare numbers, String fields quoted. */
export function formatNtpResponse(fields: NtpResponseFields, type: TimestampType): string {
  const parts: string[] = [];
  for (const key of ['deviceSendTime', 'serverRecvTime', 'serverSendTime'] as const) {
    const value = fields[key];
    if (value === undefined) continue;
    const numeric = /^-?\d+$/.test(value);
    parts.push(`"${key}":${type === 'long' && numeric ? value : JSON.stringify(value)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * The device's time at `deviceRecvTime`, as the seeds give it, in integer ms (the C SDK divides in
 * integers): (serverRecvTime + serverSendTime + deviceRecvTime - deviceSendTime) / 2. BigInt, so a
 * 19-digit String timestamp loses nothing.
 */
export function platformDeviceTimeMs(t: { deviceSendTime: bigint; serverRecvTime: bigint; serverSendTime: bigint; deviceRecvTime: bigint }): bigint {
  return (t.serverRecvTime + t.serverSendTime + t.deviceRecvTime - t.deviceSendTime) / 2n;
}

/**
 * The same exchange as NTP sees it (seed 003): θ = ((t1 − t0) + (t2 − t3)) / 2, the platform's clock
 * minus the device's, with t0 = deviceSendTime, t1 = serverRecvTime, t2 = serverSendTime,
 * t3 = deviceRecvTime; δ = (t3 − t0) − (t2 − t1), the round trip without the platform's own time.
 * deviceRecvTime + θ is platformDeviceTimeMs.
 */
export function platformOffsetMs(t: { deviceSendTime: number; serverRecvTime: number; serverSendTime: number; deviceRecvTime: number }): { thetaMs: number; delayMs: number } {
  return {
    thetaMs: (t.serverRecvTime - t.deviceSendTime + (t.serverSendTime - t.deviceRecvTime)) / 2,
    delayMs: t.deviceRecvTime - t.deviceSendTime - (t.serverSendTime - t.serverRecvTime),
  };
}
