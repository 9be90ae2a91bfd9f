/**
 * vitest globalSetup: removes the suite's own temp folder at the end. vitest.config.ts points TMPDIR
 * at it before any worker starts, so every test, and every process a test starts (qhil, socat, the
 * simulated boards, chronyd, mosquitto, Chromium), leaves its temp files there and nothing in /tmp.
 */
import { rmSync } from 'node:fs';

export function setup(): () => void {
  return () => {
    const dir = process.env.QHIL_TEST_TMPDIR;
    if (dir && process.env.QHIL_TEST_TMPDIR_OWNER === String(process.pid)) rmSync(dir, { recursive: true, force: true });
  };
}
