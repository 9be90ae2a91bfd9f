/**
 * The IoT platform's device sign-in (classic MQTT-TCP scheme, reference/protocols.md):
 *
 *   clientId  `<id>|securemode=<2 TLS | 3 TCP>,signmethod=<hmacmd5|hmacsha1|hmacsha256>[,timestamp=<ms>]|`
 *   username  `<DeviceName>&<ProductKey>`
 *   password  hex HMAC(DeviceSecret, content), content = the parameters productKey, deviceName,
 *             timestamp, clientId (those present) sorted by name, each as name + value.
 *
 * Hex is compared case-insensitively: the docs print uppercase, QuecPython lowercase.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGN_METHODS = ['hmacmd5', 'hmacsha1', 'hmacsha256'] as const;
export type SignMethod = (typeof SIGN_METHODS)[number];

const HASH_OF: Record<SignMethod, string> = { hmacmd5: 'md5', hmacsha1: 'sha1', hmacsha256: 'sha256' };

/** MQTT 3.1.1 CONNACK return codes the platform refuses a sign-in with. */
export const CONNACK = { identifierRejected: 2, badUsernameOrPassword: 4, notAuthorized: 5 } as const;

export function connackMeaning(code: number): string {
  switch (code) {
    case 1:
      return 'unacceptable protocol version';
    case 2:
      return 'identifier rejected';
    case 3:
      return 'server unavailable';
    case 4:
      return 'bad user name or password';
    case 5:
      return 'not authorized';
    default:
      return 'unknown refusal';
  }
}

export interface DeviceCredentials {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
}

/** What a device sends in CONNECT. */
export interface SignIn {
  clientId: string;
  username: string;
  password: string;
}

/** The string the platform signs: the present parameters sorted by name, name + value each. */
export function signContent(params: { productKey: string; deviceName: string; clientId?: string; timestamp?: string }): string {
  return Object.entries(params)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => name + value)
    .join('');
}

export function hmacHex(method: SignMethod, secret: string, content: string): string {
  return createHmac(HASH_OF[method], secret).update(content).digest('hex');
}

/** A device's CONNECT fields, as a device SDK builds them. `timestampMs` is optional in the scheme. */
export function deviceSignIn(
  device: DeviceCredentials,
  options: { id?: string; method?: SignMethod; timestampMs?: number; secureMode?: 2 | 3 } = {},
): SignIn {
  const id = options.id ?? `${device.productKey}.${device.deviceName}`;
  const method = options.method ?? 'hmacmd5';
  const timestamp = options.timestampMs === undefined ? undefined : String(Math.trunc(options.timestampMs));
  const extra = timestamp === undefined ? '' : `,timestamp=${timestamp}`;
  return {
    clientId: `${id}|securemode=${options.secureMode ?? 3},signmethod=${method}${extra}|`,
    username: `${device.deviceName}&${device.productKey}`,
    password: hmacHex(method, device.deviceSecret, signContent({ productKey: device.productKey, deviceName: device.deviceName, clientId: id, timestamp })),
  };
}

export interface ParsedClientId {
  id: string;
  method: SignMethod;
  secureMode?: string;
  timestamp?: string;
}

/** Parses `<id>|k=v,k=v|`; undefined when it is not in the platform's form or names an unknown method. */
export function parseClientId(clientId: string): ParsedClientId | undefined {
  const match = /^([^|]*)\|([^|]*)\|$/.exec(clientId);
  if (!match) return undefined;
  const params = new Map<string, string>();
  for (const pair of (match[2] ?? '').split(',')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) return undefined;
    params.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const method = params.get('signmethod') ?? 'hmacmd5';
  if (!(SIGN_METHODS as readonly string[]).includes(method)) return undefined;
  return { id: match[1] ?? '', method: method as SignMethod, secureMode: params.get('securemode'), timestamp: params.get('timestamp') };
}

export type SignInVerdict = { ok: true; device: DeviceCredentials } | { ok: false; returnCode: number; reason: string };

/** The platform's check of a CONNECT against the devices it knows. The reason never holds a secret. */
export function verifySignIn(devices: readonly DeviceCredentials[], clientId: string, username: string | undefined, password: Buffer | string | undefined): SignInVerdict {
  const parsed = parseClientId(clientId);
  if (!parsed) return { ok: false, returnCode: CONNACK.identifierRejected, reason: `client id not in the form <id>|securemode=..,signmethod=..|` };
  const amp = (username ?? '').indexOf('&');
  const deviceName = amp < 0 ? '' : (username ?? '').slice(0, amp);
  const productKey = amp < 0 ? '' : (username ?? '').slice(amp + 1);
  const device = devices.find((d) => d.productKey === productKey && d.deviceName === deviceName);
  if (!device) return { ok: false, returnCode: CONNACK.notAuthorized, reason: `no device ${deviceName}&${productKey} on this platform` };
  const expected = hmacHex(parsed.method, device.deviceSecret, signContent({ productKey, deviceName, clientId: parsed.id, timestamp: parsed.timestamp }));
  const given = Buffer.from(String(password ?? '').toLowerCase());
  const wanted = Buffer.from(expected);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    return { ok: false, returnCode: CONNACK.badUsernameOrPassword, reason: `password is not the ${parsed.method} signature of ${deviceName}&${productKey}'s secret` };
  }
  return { ok: true, device };
}
