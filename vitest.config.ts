import { defineConfig } from 'vitest/config';

// CI asks for a JSON report too (QHIL_VITEST_JSON), from which .ci/run prints "N passed, N failed".
const jsonReport = process.env.QHIL_VITEST_JSON;

export default defineConfig({
  test: {
    include: ['harness/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: jsonReport ? ['default', ['json', { outputFile: jsonReport }]] : ['default'],
  },
});
