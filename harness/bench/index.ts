import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { benchAt } from './at.js';
import { benchPlatform } from './platform.js';
import { benchEdge } from './edge.js';
import { benchRepl } from './repl.js';
import { benchReport } from './report.js';
import { benchRig } from './rig.js';
import { benchRun } from './run.js';
import { benchSim } from './sim.js';
import { benchSntp } from './sntp.js';
import { median, round } from './stats.js';

/** `qhil demo` as a user runs it: a fresh Node process, start to exit. */
async function benchDemoProcess(runs = 3): Promise<Record<string, number | string>> {
  const bin = fileURLToPath(new URL('../../bin/qhil.js', import.meta.url));
  const out = mkdtempSync(join(tmpdir(), 'qhil-bench-demo-'));
  const wallMs: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const startedAt = performance.now();
      await execa('node', [bin, 'demo', '--out', out], { env: { CI: 'true' } });
      wallMs.push(performance.now() - startedAt);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return { '`qhil demo` process wall time, median ms': round(median(wallMs)) };
}

const benches: [string, () => Promise<Record<string, number | string>>][] = [
  ['simulated board', benchSim],
  ['REPL over PTY', () => benchRepl()],
  ['AT over PTY', benchAt],
  ['reference SNTP', benchSntp],
  ['IoT platform NTP over MQTT', benchPlatform],
  ['edge-timed readings (read-time precision: edge)', () => benchEdge()],
  ['runner (demo in-process)', () => benchRun()],
  ['demo (CLI process)', () => benchDemoProcess()],
  ['reports (HTML, PDF, history)', benchReport],
  ['rig (1, 8, 32, 128 realistic boards)', benchRig],
];

const only = process.argv.slice(2);
let failed = false;
for (const [name, bench] of benches) {
  if (only.length > 0 && !only.some((word) => name.includes(word))) continue;
  process.stdout.write(`\n## ${name}\n`);
  try {
    const figures = await bench();
    for (const [label, value] of Object.entries(figures)) process.stdout.write(`  ${label.padEnd(58)} ${value}\n`);
  } catch (error) {
    failed = true;
    process.stdout.write(`  FAILED: ${(error as Error).stack ?? String(error)}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
