/**
 * A real chronyd on loopback, for the end-to-end test and the bench: our client must agree with the
 * reference implementation, and interoperate with its authentication. Never touches the system
 * clock (`-x`), its own port, pidfile, driftfile and key file in a temp dir, no command socket.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { InfrastructureError } from '../core/errors.js';
import { queryReference } from './reference.js';
import { createKissState } from './sntp/client.js';
import type { SntpKey } from './sntp/keys.js';

/** chronyd lives in sbin, which a non-root PATH often lacks. */
export function findChronyd(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'chronyd');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** A UDP port free on 127.0.0.1 right now (the kernel picks it; chronyd binds it a moment later). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export function chronyKeyFileText(keys: readonly SntpKey[]): string {
  return keys.map((key) => `${key.id} ${key.type} HEX:${key.key.toString('hex').toUpperCase()}\n`).join('');
}

export interface LocalChronyd {
  readonly server: string;
  readonly port: number;
  readonly binary: string;
  /** Everything chronyd logged so far (it runs with -d). */
  log(): string;
  stop(): Promise<void>;
}

export interface LocalChronydOptions {
  binary?: string;
  keys?: readonly SntpKey[];
  /** Until chronyd answers a query; default 10 s. */
  readyTimeoutMs?: number;
}

async function waitForExit(child: ResultPromise, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([child.then(() => true, () => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startLocalChronyd(options: LocalChronydOptions = {}): Promise<LocalChronyd> {
  const binary = options.binary ?? findChronyd();
  if (!binary) throw new InfrastructureError('chronyd is not installed (Debian package: chrony)');
  const dir = await mkdtemp(join(tmpdir(), 'qhil-chronyd-'));
  const port = await freeUdpPort();
  const keyFile = join(dir, 'keys');
  await writeFile(keyFile, chronyKeyFileText(options.keys ?? []), { mode: 0o600 });
  const conf = join(dir, 'chrony.conf');
  await writeFile(
    conf,
    [
      `port ${port}`,
      'bindaddress 127.0.0.1',
      'allow 127.0.0.1',
      'local stratum 10',
      'cmdport 0',
      'bindcmdaddress /', // no Unix command socket either: it would clash with a system chronyd
      `pidfile ${join(dir, 'chronyd.pid')}`,
      `driftfile ${join(dir, 'drift')}`,
      `keyfile ${keyFile}`,
      '',
    ].join('\n'),
  );
  // As root, chronyd would drop to _chrony, which cannot read our 0700 temp dir: stay root instead.
  const userArgs = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  const child = execa(binary, ['-x', '-d', ...userArgs, '-f', conf], { reject: false, all: true, buffer: false });
  let log = '';
  child.all?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  let exited = false;
  void child.then(() => {
    exited = true;
  });

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, 3_000))) {
        child.kill('SIGKILL');
        await waitForExit(child, 2_000);
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  const server = `127.0.0.1:${port}`;
  const readyBy = performance.now() + (options.readyTimeoutMs ?? 10_000);
  let lastError = '';
  while (performance.now() < readyBy) {
    if (exited) break;
    try {
      await queryReference({ servers: [server], samples: 1, timeoutMs: 250, kissState: createKissState() });
      return { server, port, binary, log: () => log, stop };
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
  }
  await stop();
  throw new InfrastructureError(
    `chronyd on ${server} ${exited ? 'exited' : 'never answered'}: ${lastError}; its log:\n${log.trim()}`,
  );
}

/**
 * chronyd's own one-shot measurement of the host clock against `server` (`chronyd -Q`): positive when
 * the server is ahead, the same sign as our offsetMs.
 */
export async function chronydOffsetMs(host: string, port: number, binary = findChronyd()): Promise<number> {
  if (!binary) throw new InfrastructureError('chronyd is not installed (Debian package: chrony)');
  // -Q: measure only, never set the clock; -f /dev/null: no config, so no pidfile or keyfile clash;
  // -t: chronyd's own timeout, and execa's as a backstop.
  const result = await execa(
    binary,
    ['-Q', '-f', '/dev/null', '-t', '3', `server ${host} port ${port} iburst maxsamples 1`],
    { reject: false, all: true, timeout: 5_000 },
  );
  const match = /System clock wrong by (-?\d+(?:\.\d+)?) seconds/.exec(result.all ?? '');
  if (!match) {
    throw new InfrastructureError(`chronyd -Q against ${host}:${port} gave no offset: ${(result.all ?? '').trim()}`);
  }
  return Number(match[1]) * 1000;
}
