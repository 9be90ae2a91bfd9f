/** The reference query against our own SNTP server on loopback: every trick, and the genuine answer still wins. */
import { afterEach, describe, expect, it } from 'vitest';
import { InfrastructureError, InputError } from '../core/errors.js';
import { queryReference, ReferenceUnavailableError, type ReferenceQueryOptions, type ServerAnswer } from './reference.js';
import { createKissState } from './sntp/client.js';
import type { SntpKey } from './sntp/keys.js';
import { startSntpServer, type SntpServer, type SntpServerOptions } from './sntp/server.js';

const servers: SntpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(options: SntpServerOptions = {}): Promise<SntpServer & { spec: string }> {
  const server = await startSntpServer(options);
  servers.push(server);
  const spec = server.address.includes(':') ? `[${server.address}]:${server.port}` : `${server.address}:${server.port}`;
  return Object.assign(server, { spec });
}

/**
 * The contract: the true offset lies within offsetMs ± uncertaintyMs. On a busy loopback one exchange
 * can take milliseconds (and be asymmetric), so check the bound, and that it is tight.
 */
function expectOffset(result: { offsetMs: number; uncertaintyMs: number }, trueOffsetMs: number): void {
  expect(Math.abs(result.offsetMs - trueOffsetMs)).toBeLessThanOrEqual(result.uncertaintyMs + 0.05);
  expect(result.uncertaintyMs).toBeLessThan(5);
}

/** A fresh kiss-o'-death memory per query unless a test shares one on purpose. */
function query(opts: ReferenceQueryOptions) {
  return queryReference({ kissState: createKissState(), ...opts });
}

async function failure(promise: Promise<unknown>): Promise<ReferenceUnavailableError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ReferenceUnavailableError);
  return error as ReferenceUnavailableError;
}

const sha1: SntpKey = { id: 1, type: 'SHA1', key: Buffer.from('0102030405060708090a0b0c0d0e0f1011121314', 'hex') };
const md5: SntpKey = { id: 2, type: 'MD5', key: Buffer.from('qhil-md5-secret') };
const aes: SntpKey = { id: 3, type: 'AES128', key: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex') };

describe('reference query against our own server', () => {
  it('measures a server 5000 ms ahead within a few ms, keeping the lowest-delay sample', async () => {
    const server = await serve({ offsetMs: 5000 });
    const before = Date.now();
    const result = await query({ servers: [server.spec], samples: 4 });
    expectOffset(result, 5000);
    expect(result.measuredAtHostMs).toBeGreaterThanOrEqual(before - 1);
    expect(result.measuredAtHostMs).toBeLessThanOrEqual(Date.now() + 1);
    expect(result.uncertaintyMs).toBeLessThan(5);
    const [answer] = result.servers as [ServerAnswer];
    expect(answer).toMatchObject({ server: server.spec, address: '127.0.0.1', ok: true, stratum: 1, refId: 'LOCL', leap: 0 });
    expect(answer.samples).toHaveLength(4);
    const delays = answer.samples.map((sample) => sample.delayMs);
    expect(answer.delayMs).toBe(Math.min(...delays));
    expect(answer.samples[answer.keptSample ?? -1]?.delayMs).toBe(answer.delayMs);
    expect(server.requests).toBe(4);
  });

  it('measures a server behind the host with a negative offset', async () => {
    const server = await serve({ offsetMs: -1500 });
    const result = await query({ servers: [server.spec], samples: 4 });
    expectOffset(result, -1500);
  });

  it('keeps the sample with the lowest delay', async () => {
    const server = await serve({ delayMs: [40, 4, 30, 20] });
    const result = await query({ servers: [server.spec], samples: 4 });
    const [answer] = result.servers as [ServerAnswer];
    expect(answer.keptSample).toBe(1);
    expect(answer.delayMs).toBeGreaterThanOrEqual(2.5); // timers may fire a little early
    expect(answer.delayMs).toBeLessThan(20);
    expect(result.uncertaintyMs).toBeCloseTo((answer.delayMs ?? 0) / 2, 2);
  });

  it('ignores forged replies (wrong origin, wrong port, mode 3, zero timestamps) and uses the genuine one', async () => {
    // Each forgery claims a time one hour off and arrives before the genuine reply.
    const server = await serve({ forge: ['wrong-origin', 'wrong-port', 'mode3', 'zero-transmit', 'zero-receive'] });
    const result = await query({ servers: [server.spec], samples: 3 });
    expectOffset(result, 0);
    const [answer] = result.servers as [ServerAnswer];
    expect(answer.samples.every((sample) => Math.abs(sample.offsetMs) < 100)).toBe(true);
    expect(answer.ignored).toEqual({ 'origin mismatch': 3, 'wrong source': 3, 'mode 3 (not a server reply)': 3, 'zero timestamp': 6 });
  });

  it('takes the forgeOrigin shorthand', async () => {
    const server = await serve({ forgeOrigin: true, offsetMs: 250 });
    const result = await query({ servers: [server.spec], samples: 1 });
    expectOffset(result, 250);
    expect(result.servers[0]?.ignored).toEqual({ 'origin mismatch': 1 });
  });

  it('stops asking a server that says DENY, for the rest of the process', async () => {
    const server = await serve({ kiss: 'DENY' });
    const kissState = createKissState();
    const first = await failure(queryReference({ servers: [server.spec], samples: 4, kissState }));
    expect(first.servers[0]).toMatchObject({ ok: false, reason: 'kiss DENY' });
    expect(first.message).toMatch(/kiss DENY from 127\.0\.0\.1:\d+/);
    expect(server.requests).toBe(1);
    server.configure({ kiss: undefined });
    const second = await failure(queryReference({ servers: [server.spec], samples: 4, kissState }));
    expect(second.servers[0]?.reason).toBe('kiss DENY');
    expect(server.requests).toBe(1);
  });

  it('stops asking a server that says RSTR', async () => {
    const server = await serve({ kiss: 'RSTR' });
    const error = await failure(query({ servers: [server.spec], samples: 4 }));
    expect(error.servers[0]?.reason).toBe('kiss RSTR');
    expect(server.requests).toBe(1);
  });

  it('backs off from a server that says RATE, and keeps the spacing for the next query', async () => {
    const server = await serve({ kiss: 'RATE' });
    const kissState = createKissState();
    const first = await failure(queryReference({ servers: [server.spec], samples: 4, timeoutMs: 1500, kissState }));
    expect(first.servers[0]?.reason).toBe('kiss RATE');
    // Without backoff it would have sent all 4 at once; with it: one at 0 s, one at 1 s, the next not before 3 s.
    expect(server.requests).toBe(2);
    expect(first.servers[0]?.samples).toEqual([]);

    server.configure({ kiss: undefined });
    // The second RATE (at 1 s) set a 2 s spacing: the next request may leave at 3 s, the one after at 5 s.
    const started = performance.now();
    const second = await queryReference({ servers: [server.spec], samples: 4, timeoutMs: 2500, kissState });
    const elapsedMs = performance.now() - started;
    expect(second.servers[0]?.samples).toHaveLength(1);
    expect(elapsedMs).toBeGreaterThan(1500); // it waited for the spacing instead of asking at once
    expect(server.requests).toBe(3);
  });

  it('rejects an unsynchronised server (LI=3) and says so', async () => {
    const server = await serve({ leap: 3 });
    const error = await failure(query({ servers: [server.spec], samples: 2 }));
    expect(error).toBeInstanceOf(InfrastructureError);
    expect(error.servers[0]).toMatchObject({ ok: false, reason: 'unsynchronised (LI=3)' });
    expect(error.message).toContain('unsynchronised (LI=3)');
    expect(server.requests).toBe(2);
  });

  it('rejects stratum 16 and an over-large root distance', async () => {
    const unsynced = await serve({ stratum: 16 });
    const distant = await serve({ rootDispersionMs: 20_000 });
    const error = await failure(query({ servers: [unsynced.spec, distant.spec], samples: 1 }));
    expect(error.servers.map((answer) => answer.reason)).toEqual([
      'unsynchronised (stratum 16)',
      'root distance 20000 ms exceeds 16000 ms',
    ]);
  });

  it('drops and names the falseticker among three servers', async () => {
    const good1 = await serve({ offsetMs: 0 });
    const good2 = await serve({ offsetMs: 0 });
    const liar = await serve({ offsetMs: 2000 });
    const result = await query({ servers: [good1.spec, liar.spec, good2.spec], samples: 2 });
    expect(result.servers.map((answer) => [answer.server, answer.ok, answer.reason])).toEqual([
      [good1.spec, true, undefined],
      [liar.spec, false, 'falseticker'],
      [good2.spec, true, undefined],
    ]);
    expect(result.servers[1]?.detail).toMatch(/misses the majority interval/);
    expect(result.servers[1]?.offsetMs).toBeGreaterThan(1990);
    expectOffset(result, 0);
    expect([good1.spec, good2.spec]).toContain(result.selectedServer);
  });

  it('refuses to pick between two servers that disagree', async () => {
    const a = await serve({ offsetMs: 0 });
    const b = await serve({ offsetMs: 2000 });
    const error = await failure(query({ servers: [a.spec, b.spec], samples: 1 }));
    expect(error.servers.map((answer) => answer.reason)).toEqual(['no majority', 'no majority']);
  });

  it('reports no reply from a silent server within the deadline', async () => {
    const silent = await serve({ drop: true });
    const started = performance.now();
    const error = await failure(query({ servers: [silent.spec], samples: 2, timeoutMs: 600, requestTimeoutMs: 200 }));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error.servers[0]).toMatchObject({ ok: false, reason: 'no reply' });
    expect(error.message).toMatch(/no reply from 127\.0\.0\.1:\d+/);
    // A fresh request after each 200 ms timeout (a fourth may squeeze in right at the deadline).
    expect(silent.requests).toBeGreaterThanOrEqual(3);
    expect(silent.requests).toBeLessThanOrEqual(4);
  });

  it('uses the answering servers when one is silent', async () => {
    const silent = await serve({ drop: true });
    const good = await serve({ offsetMs: 100 });
    const result = await query({ servers: [silent.spec, good.spec], samples: 2, timeoutMs: 400 });
    expectOffset(result, 100);
    expect(result.servers[0]).toMatchObject({ ok: false, reason: 'no reply' });
  });

  it('retries past lost replies', async () => {
    const lossy = await serve({ drop: 0.5 });
    const result = await query({ servers: [lossy.spec], samples: 4, timeoutMs: 4000, requestTimeoutMs: 50 });
    expect(result.servers[0]?.samples.length).toBeGreaterThanOrEqual(1);
  });

  it('works over IPv6 loopback and with a name', async () => {
    const v6 = await serve({ host: '::1', offsetMs: 42 });
    const result = await query({ servers: [`[::1]:${v6.port}`], samples: 2 });
    expect(result.servers[0]?.address).toBe('::1');
    expectOffset(result, 42);
    const v4 = await serve({ offsetMs: 42 });
    const named = await query({ servers: [`localhost:${v4.port}`], samples: 1, resolver: async () => ({ address: '127.0.0.1', family: 4 }) });
    expect(named.servers[0]).toMatchObject({ server: `localhost:${v4.port}`, address: '127.0.0.1', ok: true });
  });

  it('gives up on a name lookup that never answers, at the deadline', async () => {
    const started = performance.now();
    const error = await failure(
      query({ servers: ['ntp.invalid:123'], timeoutMs: 300, resolver: () => new Promise(() => undefined) }),
    );
    expect(performance.now() - started).toBeLessThan(700);
    expect(error.servers[0]).toMatchObject({ reason: 'cannot resolve', detail: 'ntp.invalid: name lookup timed out' });
  });

  it('stops at once when aborted', async () => {
    const silent = await serve({ drop: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('run cancelled')), 100);
    const started = performance.now();
    await expect(query({ servers: [silent.spec], timeoutMs: 5000, signal: controller.signal })).rejects.toThrow('run cancelled');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('rejects bad options as input errors before sending anything', async () => {
    await expect(query({ servers: [] })).rejects.toThrow(InputError);
    await expect(query({ servers: ['127.0.0.1:99999'] })).rejects.toThrow(InputError);
    await expect(query({ servers: ['127.0.0.1'], samples: 0 })).rejects.toThrow(/samples/);
    await expect(query({ servers: ['127.0.0.1'], timeoutMs: 0 })).rejects.toThrow(/timeout/);
    await expect(query({ servers: ['127.0.0.1'], keys: [sha1], keyId: 9 })).rejects.toThrow(/key id 9/);
  });
});

describe('authenticated reference query', () => {
  it.each([sha1, md5, aes])('gets signed time with a $type key', async (key) => {
    const server = await serve({ keys: [sha1, md5, aes], offsetMs: 300 });
    const result = await query({ servers: [server.spec], samples: 2, keys: [key] });
    expectOffset(result, 300);
  });

  it('uses the key keyId names', async () => {
    const server = await serve({ keys: [aes], requireAuth: true });
    const result = await query({ servers: [server.spec], samples: 1, keys: [sha1, aes], keyId: 3 });
    expect(result.servers[0]?.ok).toBe(true);
  });

  it('ignores replies with a bad MAC or none, and uses the signed one', async () => {
    const server = await serve({ keys: [sha1], forge: ['bad-mac', 'unsigned'] });
    const result = await query({ servers: [server.spec], samples: 2, keys: [sha1] });
    expectOffset(result, 0);
    expect(result.servers[0]?.ignored).toEqual({ 'bad MAC': 2, 'no MAC': 2 });
  });

  it('is a clear error, not unauthenticated time, when the server does not know our key', async () => {
    const server = await serve({ keys: [md5] });
    const error = await failure(query({ servers: [server.spec], samples: 2, timeoutMs: 500, keys: [sha1] }));
    expect(error.message).toMatch(/no authenticated reply from 127\.0\.0\.1:\d+/);
    expect(error.servers[0]).toMatchObject({ ok: false, reason: 'no authenticated reply' });
    expect(server.requests).toBeGreaterThanOrEqual(1);
  });

  it('is a clear error when the server answers unsigned', async () => {
    const server = await serve({ ignoreAuth: true, offsetMs: 777 });
    const error = await failure(query({ servers: [server.spec], samples: 1, timeoutMs: 300, keys: [aes] }));
    expect(error.servers[0]).toMatchObject({ reason: 'no authenticated reply', ignored: { 'no MAC': 1 }, samples: [] });
  });
});
