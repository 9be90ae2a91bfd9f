// A far end that vanishes without FIN or RST, for real: inside a private network namespace (root
// only) the test takes loopback down under an open connection, so nothing is acknowledged any more,
// as when a ser2net host loses power with bytes on their way. The outer test re-runs this file inside `unshare -n`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LinkClosedError } from '../core/errors.js';
import { TcpLink } from './tcp.js';

const insideNamespace = process.env.QHIL_LINK_NETNS === '1';
const canMakeNamespace =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  ['/usr/bin/unshare', '/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].filter((path) => existsSync(path)).length >= 2;

async function farEndVanishesWithBytesInFlight(): Promise<void> {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    accepted.push(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const link = await TcpLink.open(`tcp://127.0.0.1:${port}`, { ackDeadlineMs: 1000 });
  try {
    const closed = new Promise<{ error: LinkClosedError | undefined; atMs: number }>((resolve) =>
      link.onClose((error) => resolve({ error, atMs: performance.now() })),
    );
    execFileSync('ip', ['link', 'set', 'lo', 'down']);
    const lostAtMs = performance.now();
    await link.write(Buffer.from('AT+CCLK?\r'));
    const tooLate = new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error('the link did not notice the far end was gone within 4s')), 4000).unref();
    });
    const { error, atMs } = await Promise.race([closed, tooLate]);
    // The first retransmission timeout (200 ms on loopback), then the deadline, then one check.
    expect(atMs - lostAtMs).toBeLessThan(2500);
    expect(error).toBeInstanceOf(LinkClosedError);
    expect(error?.message).toMatch(new RegExp(`tcp://127.0.0.1:${port}: the far end acknowledged nothing for 1000ms`));
    expect(error?.message).toContain('9 sent bytes unanswered');
  } finally {
    await link.close();
    for (const socket of accepted) socket.destroy();
    server.close();
  }
}

describe.runIf(insideNamespace)('inside the namespace', () => {
  // Only bytes in flight: with loopback down a keepalive probe fails to leave the host, and the
  // kernel does not count a probe it could not send, so the idle case is tested with a fake table.
  it('a far end that stops acknowledging sent bytes closes the link', () => farEndVanishesWithBytesInFlight());
});

describe.runIf(!insideNamespace)('TCP link: a far end that lost power (real kernel, private network namespace)', () => {
  it.skipIf(!canMakeNamespace)('notices within seconds that sent bytes are never acknowledged', { timeout: 60_000 }, async () => {
    const run = await execa('unshare', ['-n', 'npx', 'vitest', 'run', 'harness/link/tcp-netns.test.ts'], {
      env: { QHIL_LINK_NETNS: '1' },
      reject: false,
      timeout: 60_000,
      all: true,
    });
    expect(run.all).toMatch(/Tests\s+.*1 passed/);
    expect(run.exitCode).toBe(0);
  });
});
