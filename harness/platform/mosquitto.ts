/**
 * A real mosquitto on loopback, for the tests and the bench of the platform's external mode.
 * mosquitto cannot take port 0: a port the kernel just gave 127.0.0.1 is closed and handed to it,
 * and if another process took it meanwhile (mosquitto exits at once), another port is tried.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { InfrastructureError } from '../core/errors.js';

const START_ATTEMPTS = 5;
/** How long mosquitto may take to accept a connection after it starts. */
const READY_DEADLINE_MS = 10_000;
const READY_POLL_MS = 50;

export function findMosquitto(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin']) {
    if (dir && existsSync(join(dir, 'mosquitto'))) return join(dir, 'mosquitto');
  }
  return undefined;
}

export interface LocalMosquitto {
  port: number;
  url: string;
  stop(): Promise<void>;
}

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new InfrastructureError('no free TCP port on 127.0.0.1');
  return address.port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts mosquitto on 127.0.0.1 with anonymous clients allowed, in a temp folder removed at stop. */
export async function startLocalMosquitto(binary = findMosquitto()): Promise<LocalMosquitto> {
  if (!binary) throw new InfrastructureError('mosquitto is not installed (Debian package mosquitto)');
  const dir = await mkdtemp(join(tmpdir(), 'qhil-mosquitto-'));
  let lastOutput = '';
  try {
    for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      const port = await freeTcpPort();
      const conf = join(dir, 'mosquitto.conf');
      await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
      const child = execa(binary, ['-c', conf], { reject: false, all: true, buffer: true, cleanup: true });
      let exited = false;
      void child.then((result) => {
        exited = true;
        lastOutput = String(result.all ?? '');
      });
      const deadlineMs = performance.now() + READY_DEADLINE_MS;
      while (!exited && performance.now() < deadlineMs) {
        if (await accepts(port)) {
          return {
            port,
            url: `mqtt://127.0.0.1:${port}`,
            stop: async () => {
              child.kill('SIGTERM');
              await child;
              await rm(dir, { recursive: true, force: true });
            },
          };
        }
        await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
      }
      child.kill('SIGKILL');
      await child;
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  await rm(dir, { recursive: true, force: true });
  throw new InfrastructureError(`mosquitto did not start on loopback after ${START_ATTEMPTS} attempts: ${lastOutput.trim().split('\n').slice(-3).join(' / ')}`);
}
