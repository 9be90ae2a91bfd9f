/**
 * The reference query against forged SNTP servers on loopback: a bare dgram socket in the test answers
 * each request with crafted bytes. Every implausible answer is a bad sample with a reason naming the
 * server, and a query with no plausible answer is the rig's error (InfrastructureError), never a
 * number a board could be failed by.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { faultOf, InfrastructureError, InputError } from '../core/errors.js';
import { queryReference, ReferenceUnavailableError, type ReferenceQueryOptions } from './reference.js';
import { hostClock } from './hostclock.js';
import { createKissState } from './sntp/client.js';
import type { SntpKey } from './sntp/keys.js';
import { startSntpServer } from './sntp/server.js';
import { decodeNtpPacket, encodeNtpHeader, encodeRefId, unixNsToNtp, type NtpHeader, type NtpPacket } from './sntp/packet.js';

/**
 * A crafted datagram and the socket it leaves from: the server's own, another port, another address;
 * sent `delayMs` after the request came (default: at once).
 */
interface Forgery {
  bytes: Buffer;
  via?: 'server' | 'other-port' | 'other-address';
  delayMs?: number;
}

/** What the forger sends for one request; `nowNs` is the host wall clock (Unix ns) at its receipt. */
type Craft = (request: NtpPacket, nowNs: bigint) => Forgery[];

interface Forger {
  spec: string;
  port: number;
  requests: number;
}

const sockets: Socket[] = [];
const timers = new Set<NodeJS.Timeout>();
afterEach(async () => {
  for (const timer of timers) clearTimeout(timer);
  timers.clear();
  await Promise.all(sockets.splice(0).map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
});

async function bound(address: string): Promise<Socket> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => resolve());
  });
  return socket;
}

async function forge(craft: Craft): Promise<Forger> {
  const server = await bound('127.0.0.1');
  const otherPort = await bound('127.0.0.1');
  const otherAddress = await bound('127.0.0.2');
  const forger: Forger = {
    port: server.address().port,
    spec: `127.0.0.1:${server.address().port}`,
    requests: 0,
  };
  server.on('message', (datagram: Buffer, from: RemoteInfo) => {
    forger.requests++;
    const nowNs = hostClock.nowNs();
    for (const { bytes, via, delayMs } of craft(decodeNtpPacket(datagram), nowNs)) {
      const socket = via === 'other-port' ? otherPort : via === 'other-address' ? otherAddress : server;
      if (delayMs === undefined) {
        socket.send(bytes, from.port, from.address);
        continue;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        socket.send(bytes, from.port, from.address);
      }, delayMs);
      timers.add(timer);
    }
  });
  return forger;
}

/** A correct reply to `request` at host time `nowNs` (a stratum-2 server in step with the host), patched. */
function reply(request: NtpPacket, nowNs: bigint, patch: Partial<NtpHeader> = {}): Buffer {
  return encodeNtpHeader({
    leap: 0,
    version: 4,
    mode: 4,
    stratum: 2,
    poll: 0,
    precision: -20,
    rootDelayMs: 1,
    rootDispersionMs: 1,
    refId: encodeRefId('192.0.2.1'),
    referenceTs: unixNsToNtp(nowNs - 16_000_000_000n),
    originTs: request.transmitTs,
    receiveTs: unixNsToNtp(nowNs),
    transmitTs: unixNsToNtp(nowNs + 20_000n),
    ...patch,
  });
}

const only =
  (patch: (request: NtpPacket, nowNs: bigint) => Partial<NtpHeader>, via?: Forgery['via']): Craft =>
  (request, nowNs) => [{ bytes: reply(request, nowNs, patch(request, nowNs)), ...(via ? { via } : {}) }];

const YEAR_NS = 31_557_600_000_000_000n;
const DAY_NS = 86_400_000_000_000n;
const at = (offsetNs: bigint) => (_: NtpPacket, nowNs: bigint): Partial<NtpHeader> => ({
  receiveTs: unixNsToNtp(nowNs + offsetNs),
  transmitTs: unixNsToNtp(nowNs + offsetNs + 20_000n),
});

function query(opts: ReferenceQueryOptions) {
  return queryReference({ kissState: createKissState(), samples: 1, timeoutMs: 300, requestTimeoutMs: 100, ...opts });
}

async function failure(promise: Promise<unknown>): Promise<ReferenceUnavailableError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ReferenceUnavailableError);
  expect(error).toBeInstanceOf(InfrastructureError);
  expect(faultOf(error)).toBe('rig');
  return error as ReferenceUnavailableError;
}

describe('a forged server that answers, wrongly', () => {
  it.each<[string, Craft, RegExp]>([
    [
      'a transmit time 100 years ahead (an era wrap, not a 36-year offset)',
      only(at(100n * YEAR_NS)),
      /SERVER: implausible time: the server says 19\d\d-[\d-]+T[\d:.]+Z, 36\.1 years behind the host clock, beyond the 1 day plausibility bound/,
    ],
    ['a time two days behind', only(at(-2n * DAY_NS)), /SERVER: implausible time: .*2(\.0)? days behind the host clock/],
    ['a zero transmit timestamp', only(() => ({ transmitTs: 0n })), /no believable reply from SERVER \(.*ignored replies: \d+ zero timestamp/],
    [
      'an origin that does not echo ours',
      only((request) => ({ originTs: request.transmitTs ^ 0xffn })),
      /no believable reply from SERVER \(.*ignored replies: \d+ origin mismatch/,
    ],
    ['a reply from another port', only(() => ({}), 'other-port'), /no believable reply from SERVER \(.*ignored replies: \d+ wrong source/],
    ['a reply from another address', only(() => ({}), 'other-address'), /no believable reply from SERVER \(.*ignored replies: \d+ wrong source/],
    ['mode 3 (a client packet)', only(() => ({ mode: 3 })), /ignored replies: \d+ mode 3 \(not a server reply\)/],
    ['version 2', only(() => ({ version: 2 })), /ignored replies: \d+ version 2 \(not NTPv3 or v4\)/],
    ['version 7', only(() => ({ version: 7 })), /ignored replies: \d+ version 7 \(not NTPv3 or v4\)/],
    [
      "a kiss-o'-death DENY",
      only(() => ({ leap: 3, stratum: 0, refId: encodeRefId('DENY') })),
      /kiss DENY from SERVER \(kiss-o'-death DENY: access denied by the server; 1 request/,
    ],
    [
      "a kiss-o'-death RATE",
      only(() => ({ leap: 3, stratum: 0, refId: encodeRefId('RATE') })),
      /kiss RATE from SERVER \(kiss-o'-death RATE: rate exceeded/,
    ],
    [
      'stratum 0 with a code that is no kiss code',
      only(() => ({ stratum: 0, refId: Buffer.from([0x1b, 0x5d, 0x35, 0x32]) })),
      /SERVER: unsynchronised \(stratum 0, refid "\\x1b]52" is no kiss code\)/,
    ],
    ['stratum 16', only(() => ({ stratum: 16 })), /SERVER: unsynchronised \(stratum 16\)/],
    ['leap indicator 3', only(() => ({ leap: 3 })), /SERVER: unsynchronised \(LI=3\)/],
    [
      'a receive after its transmit (T2 > T3)',
      only((_, nowNs) => ({ receiveTs: unixNsToNtp(nowNs + 1_000_000_000n), transmitTs: unixNsToNtp(nowNs) })),
      /no believable reply from SERVER \(.*ignored replies: \d+ transmit before receive/,
    ],
    [
      'a negative round trip (it claims to have held the request for 10 s)',
      only((_, nowNs) => ({ receiveTs: unixNsToNtp(nowNs - 5_000_000_000n), transmitTs: unixNsToNtp(nowNs + 5_000_000_000n) })),
      /no believable reply from SERVER \(.*ignored replies: \d+ negative delay/,
    ],
    ['an absurd root delay', only(() => ({ rootDelayMs: 65_535_000 })), /SERVER: root distance 32767501 ms exceeds 16000 ms/],
    ['an absurd root dispersion', only(() => ({ rootDispersionMs: 65_535_000 })), /SERVER: root distance 65535001 ms exceeds 16000 ms/],
  ])('%s is a bad sample naming the server, and an ERROR when it is all there is', async (_what, craft, reason) => {
    const forger = await forge(craft);
    const error = await failure(query({ servers: [forger.spec] }));
    expect(error.message).toMatch(new RegExp(reason.source.replaceAll('SERVER', `127\\.0\\.0\\.1:${forger.port}`)));
    expect(error.servers[0]).toMatchObject({ server: forger.spec, ok: false, samples: [] });
    expect(forger.requests).toBeGreaterThanOrEqual(1);
  });

  it('believes a time 25 h off only when the caller allows it', async () => {
    const forger = await forge(only(at(25n * 3_600_000_000_000n)));
    await failure(query({ servers: [forger.spec] }));
    const result = await query({ servers: [forger.spec], maxHostOffsetMs: 2 * 86_400_000 });
    expect(Math.abs(result.offsetMs - 25 * 3_600_000)).toBeLessThan(result.uncertaintyMs + 1);
  });

  it('uses the plausible server when another is 100 years off, and says why the other was dropped', async () => {
    const farOff = await forge(only(at(100n * YEAR_NS)));
    const good = await forge(only(() => ({})));
    const result = await query({ servers: [farOff.spec, good.spec], samples: 2 });
    expect(result.selectedServer).toBe(good.spec);
    expect(Math.abs(result.offsetMs)).toBeLessThan(50);
    expect(result.servers[0]).toMatchObject({ ok: false, reason: expect.stringMatching(/^implausible time/) });
  });

  it('lists every server and why when none is plausible', async () => {
    const farOff = await forge(only(at(100n * YEAR_NS)));
    const kissing = await forge(only(() => ({ leap: 3, stratum: 0, refId: encodeRefId('RSTR') })));
    const wrongOrigin = await forge(only(() => ({ originTs: 1n })));
    const error = await failure(query({ servers: [farOff.spec, kissing.spec, wrongOrigin.spec] }));
    expect(error.message).toMatch(/^reference clock: no usable answer .* from any of 3 servers: /);
    expect(error.message).toContain(`${farOff.spec}: implausible time`);
    expect(error.message).toContain(`kiss RSTR from ${kissing.spec}`);
    expect(error.message).toContain(`no believable reply from ${wrongOrigin.spec}`);
    expect(error.servers.map((answer) => answer.ok)).toEqual([false, false, false]);
  });
});

describe('a genuine reply after one that cannot be used', () => {
  it.each<[string, bigint]>([
    ['100 years ahead (an era wrap)', 100n * YEAR_NS],
    ['two days behind', -2n * DAY_NS],
  ])('passes over a reply %s and uses the genuine one that follows it', async (_what, offsetNs) => {
    const forger = await forge((request, nowNs) => [
      { bytes: reply(request, nowNs, at(offsetNs)(request, nowNs)) },
      { bytes: reply(request, nowNs) },
    ]);
    const result = await query({ servers: [forger.spec], samples: 2, timeoutMs: 1000 });
    expect(result.selectedServer).toBe(forger.spec);
    expect(Math.abs(result.offsetMs)).toBeLessThan(50);
    expect(result.servers[0]).toMatchObject({ ok: true, ignored: { 'implausible time': 2 } });
    expect(result.servers[0]?.samples).toHaveLength(2);
  });

  it("honours a server's own refusal (LI=3), and counts a second reply to the same request as a duplicate, not a forgery", async () => {
    const forger = await forge((request, nowNs) => [{ bytes: reply(request, nowNs, { leap: 3 }) }, { bytes: reply(request, nowNs) }]);
    const error = await failure(query({ servers: [forger.spec], samples: 2, timeoutMs: 1000 }));
    expect(error.message).toContain(`${forger.spec}: unsynchronised (LI=3)`);
    expect(error.servers[0]?.ignored?.['duplicate']).toBeGreaterThanOrEqual(1);
    expect(error.servers[0]?.ignored).not.toHaveProperty('origin mismatch');
  });
});

describe('a server slower than the request timeout', () => {
  // Each reply comes 300 ms after its request, 100 ms after that request was given up and the next
  // sent: it bears an earlier nonce of ours, which only the server saw.
  const slow = (request: NtpPacket, nowNs: bigint): Forgery[] => [{ bytes: reply(request, nowNs), delayMs: 300 }];

  it('is reported as too slow, its replies late, not as a forger', async () => {
    const server = await forge(slow);
    const error = await failure(query({ servers: [server.spec], timeoutMs: 1000, requestTimeoutMs: 200 }));
    expect(error.message).toMatch(
      new RegExp(
        `127\\.0\\.0\\.1:${server.port}: too slow: its replies came after the 200 ms request timeout \\(\\d+ request\\(s\\) to 127\\.0\\.0\\.1 port ${server.port}; ` +
          'ignored replies: \\d+ late \\(after the 200 ms request timeout\\)\\)',
      ),
    );
    expect(error.message).not.toMatch(/origin mismatch|no believable reply/);
    expect(error.servers[0]?.ignored?.['late (after the 200 ms request timeout)']).toBeGreaterThanOrEqual(1);
  });

  it('still calls a reply with no nonce of ours an origin mismatch, however late', async () => {
    const forger = await forge((request, nowNs) => [{ bytes: reply(request, nowNs, { originTs: request.transmitTs ^ 0xffn }), delayMs: 300 }]);
    const error = await failure(query({ servers: [forger.spec], timeoutMs: 1000, requestTimeoutMs: 200 }));
    expect(error.message).toMatch(new RegExp(`no believable reply from 127\\.0\\.0\\.1:${forger.port} \\(.*ignored replies: \\d+ origin mismatch\\)`));
    expect(error.message).not.toMatch(/late|too slow/);
  });

  it('is too slow, not unauthenticated, when its late replies are signed with our key', async () => {
    const key: SntpKey = { id: 1, type: 'SHA1', key: Buffer.alloc(20, 7) };
    const server = await startSntpServer({ keys: [key], delayMs: 600 });
    try {
      const error = await failure(query({ servers: [`127.0.0.1:${server.port}`], keys: [key], timeoutMs: 1000, requestTimeoutMs: 200 }));
      expect(error.message).toContain(`127.0.0.1:${server.port}: too slow: its replies came after the 200 ms request timeout`);
      expect(error.message).not.toMatch(/no authenticated reply/);
    } finally {
      await server.close();
    }
  });
});

describe('a deadline spent on the reference', () => {
  it('says how long it waited, on which server, and that the deadline was reached', async () => {
    const silent = await forge(() => []);
    const started = performance.now();
    const error = await failure(query({ servers: [silent.spec], timeoutMs: 300 }));
    expect(performance.now() - started).toBeLessThan(1500);
    expect(error.message).toMatch(
      new RegExp(`^reference clock: no usable answer within the 300ms deadline \\(waited \\d+ms\\) from the server: no reply from 127\\.0\\.0\\.1:${silent.port} \\(\\d request`),
    );
    expect(error).toMatchObject({ deadlineReached: true, timeoutMs: 300 });
    expect(error.waitedMs).toBeGreaterThanOrEqual(295);
  });

  it('tells a reference that answered wrongly at once from one that was slow', async () => {
    const kissing = await forge(only(() => ({ leap: 3, stratum: 0, refId: encodeRefId('DENY') })));
    const error = await failure(query({ servers: [kissing.spec], timeoutMs: 2000 }));
    expect(error.deadlineReached).toBe(false);
    expect(error.waitedMs).toBeLessThan(1000);
    expect(error.message).toMatch(/^reference clock: no usable answer \(after \d+ms of a 2\.00s deadline\) from the server: kiss DENY/);
  });

  it('stops at once when the caller aborts, with the caller\'s reason, even inside a name lookup', async () => {
    const silent = await forge(() => []);
    for (const resolver of [undefined, () => new Promise<never>(() => undefined)]) {
      const controller = new AbortController();
      const stepDeadline = new Error('step compare did not finish within 150ms');
      setTimeout(() => controller.abort(stepDeadline), 150);
      const started = performance.now();
      const outcome = await query({
        servers: [resolver ? `ntp.invalid:${silent.port}` : silent.spec],
        timeoutMs: 10_000,
        signal: controller.signal,
        ...(resolver ? { resolver } : {}),
      }).catch((error: unknown) => error);
      expect(outcome).toBe(stepDeadline);
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it('refuses a deadline or bound beyond its limit as bad input, before sending anything', async () => {
    const forger = await forge(only(() => ({})));
    await expect(query({ servers: [forger.spec], timeoutMs: 99_999_999_999 * 3_600_000 })).rejects.toThrow(
      /timeout must be a positive duration of at most 1m00s/,
    );
    await expect(query({ servers: [forger.spec], timeoutMs: Number.POSITIVE_INFINITY })).rejects.toThrow(InputError);
    await expect(query({ servers: [forger.spec], timeoutMs: 300, requestTimeoutMs: 400 })).rejects.toThrow(/request timeout/);
    await expect(query({ servers: [forger.spec], maxHostOffsetMs: 0 })).rejects.toThrow(/plausibility bound/);
    await expect(query({ servers: [forger.spec], maxHostOffsetMs: 50 * 365 * 86_400_000 })).rejects.toThrow(/at most 10\.0 years/);
    await expect(query({ servers: [forger.spec], maxRootDistanceMs: 3_600_000 })).rejects.toThrow(/root distance bound/);
    await expect(query({ servers: [forger.spec], samples: 1.5 })).rejects.toThrow(/samples must be an integer/);
    expect(forger.requests).toBe(0);
  });
});
