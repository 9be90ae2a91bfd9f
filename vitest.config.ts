import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// One temp folder for the whole suite, removed at its end (harness/testing/global-setup.ts): the
// workers and every process the tests start inherit TMPDIR, so a run leaves nothing in /tmp.
if (!process.env.QHIL_TEST_TMPDIR) {
  process.env.QHIL_TEST_TMPDIR = mkdtempSync(join(tmpdir(), 'qhil-tests-'));
  process.env.TMPDIR = process.env.QHIL_TEST_TMPDIR;
  // A vitest that a test starts itself (tcp-netns re-runs its file in a namespace) inherits the folder
  // and must not remove it at its own end.
  process.env.QHIL_TEST_TMPDIR_OWNER = String(process.pid);
}

// CI asks for a JSON report too (QHIL_VITEST_JSON), from which .ci/run prints "N passed, N failed".
const jsonReport = process.env.QHIL_VITEST_JSON;
// The overload case of the fault matrix takes every core for a while: only `npm run faults` runs it.
const faultMatrix = Boolean(process.env.QHIL_FAULT_MATRIX);

export default defineConfig({
  test: {
    include: ['harness/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...(faultMatrix ? [] : ['harness/e2e/faults/load.test.ts'])],
    globalSetup: ['harness/testing/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two files at once on two cores: most tests wait on boards, deadlines and timers, not the CPU;
    // the fault-matrix groups limit their own processes (harness/e2e/faults/matrix.ts).
    maxWorkers: 2,
    reporters: jsonReport ? ['default', ['json', { outputFile: jsonReport }]] : ['default'],
  },
});
