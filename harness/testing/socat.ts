// Test helper: a real pseudo-terminal pair made by socat, as a user would make one.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { socatCommand } from '../sim/serve.js';

export interface PtyPair {
  /** The path the harness opens (like /dev/ttyUSB6). */
  hostPath: string;
  /** The other end, where a (simulated) board sits. */
  boardPath: string;
  process: ResultPromise;
  /** Stops socat (SIGKILL by default: an unplug with no clean-up; SIGTERM lets socat remove its links). */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function socatAvailable(): boolean {
  return ['/usr/bin/socat', '/bin/socat', '/usr/local/bin/socat'].some((path) => existsSync(path));
}

/** Skip socat tests only on a developer machine without socat; in CI a missing socat must fail. */
export const skipWithoutSocat = !socatAvailable() && !process.env.CI;

export async function startPtyPair(deadlineMs = 5000): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'qhil-pty-'));
  const hostPath = join(dir, 'host');
  const boardPath = join(dir, 'board');
  // Under a parent-death signal: a test process that is killed (a vitest timeout) leaves no socat behind.
  const command = socatCommand('socat', [`pty,raw,echo=0,link=${hostPath}`, `pty,raw,echo=0,link=${boardPath}`]);
  const child = execa(command.file, command.args, { reject: false });
  const startedAt = performance.now();
  while (!(existsSync(hostPath) && existsSync(boardPath))) {
    if (performance.now() - startedAt > deadlineMs) {
      child.kill();
      throw new Error(`socat did not create ${hostPath} within ${deadlineMs}ms`);
    }
    if (child.exitCode !== null) throw new Error(`socat exited with ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    hostPath,
    boardPath,
    process: child,
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      child.kill(signal);
      await child;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Process ids of the socat serving `path` (a `link=<path>` argument), to kill it as a test would unplug a board. */
export async function socatPidsFor(path: string): Promise<number[]> {
  const { stdout } = await execa('ps', ['-eo', 'pid,args'], { reject: false });
  return stdout
    .split('\n')
    .filter((line) => line.includes('socat') && line.includes(`link=${path} `))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}
