/** The anchors' executables, found where the project ships or Debian installs them. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const QHIL_BIN = join(REPO_DIR, 'bin', 'qhil.js');

export interface Tool {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * MicroPython's mpremote, vendored in `vendor/mpremote` and run from source as `vendor/mpremote.sh`
 * runs it (QHIL_MPREMOTE names another such script), but without the shell in between: python3 -m
 * mpremote. The reason instead when its Python modules (python3-serial, python3-platformdirs) are missing.
 */
export function findMpremote(): Tool | string {
  const script = process.env.QHIL_MPREMOTE ?? join(REPO_DIR, 'vendor', 'mpremote.sh');
  if (!existsSync(script)) return `mpremote not found (${script})`;
  const source = join(dirname(script), 'mpremote');
  const python = '/usr/bin/python3';
  const env = { ...process.env, PYTHONPATH: source };
  const probe = spawnSync(python, ['-c', 'import serial, platformdirs, mpremote'], { env, encoding: 'utf8', timeout: 10_000 });
  if (probe.status !== 0) return `mpremote cannot run: ${(probe.stderr || probe.error?.message || '').trim().split('\n').at(-1)} (apt-get install python3-serial python3-platformdirs)`;
  return { file: python, args: ['-m', 'mpremote'], env };
}

/** Debian's ntpsec-ntpdig, or why not. */
export function findNtpdig(): Tool | string {
  const file = ['/usr/bin/ntpdig', '/usr/sbin/ntpdig', '/usr/local/bin/ntpdig'].find((path) => existsSync(path));
  return file ? { file, args: [], env: process.env } : 'ntpdig not installed (Debian package ntpsec-ntpdig)';
}

export function socatAvailable(): boolean {
  return ['/usr/bin/socat', '/bin/socat', '/usr/local/bin/socat'].some((path) => existsSync(path));
}
