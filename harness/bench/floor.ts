/** A minimal responder (responder.ts) on the board side of a socat PTY: the floor a bench row stands beside. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startPtyPair } from '../testing/socat.js';
import type { ResponderMode } from './responder.js';

const RESPONDER = fileURLToPath(new URL('./responder.js', import.meta.url));
const READY_DEADLINE_MS = 10_000;

export interface Floor {
  /** The PTY the harness opens. */
  hostPath: string;
  stop(): Promise<void>;
}

export async function startFloor(mode: ResponderMode): Promise<Floor> {
  const pair = await startPtyPair();
  const child = spawn(process.execPath, [RESPONDER, mode, pair.boardPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    child.kill('SIGKILL');
    await exited;
    await pair.kill('SIGTERM');
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the ${mode} responder was not ready within ${READY_DEADLINE_MS} ms`)), READY_DEADLINE_MS);
      child.stdout.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the ${mode} responder exited (${code}) before it was ready`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { hostPath: pair.hostPath, stop };
}
