import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { median, round } from './stats.js';
import { QHIL_BIN } from './tools.js';

/** `qhil demo` as a user runs it: a fresh Node process, start to exit. */
export async function benchDemoProcess(runs = 3): Promise<Record<string, number | string>> {
  const out = mkdtempSync(join(tmpdir(), 'qhil-bench-demo-'));
  const wallMs: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const startedAt = performance.now();
      await execa('node', [QHIL_BIN, 'demo', '--out', out], { env: { CI: 'true' } });
      wallMs.push(performance.now() - startedAt);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return { '`qhil demo` process wall time, median ms': round(median(wallMs)) };
}
