/**
 * `npm run bench [word...]`: every bench, or those whose name holds one of the words. Each bench
 * prints its figures, a qhil figure beside its anchor or floor with the ratio (compare.ts).
 * Add a bench with one line in the list.
 */
import { benchAt } from './at.js';
import { benchDemoProcess } from './demo.js';
import { benchEdge } from './edge.js';
import { benchPlatform } from './platform.js';
import { benchProcesses } from './process.js';
import { benchRepl } from './repl.js';
import { benchReport } from './report.js';
import { benchRig } from './rig.js';
import { benchRun } from './run.js';
import { benchSim } from './sim.js';
import { benchSntp } from './sntp.js';

const benches: [string, () => Promise<Record<string, number | string>>][] = [
  ['start-up (whole process, beside the tool it replaces)', () => benchProcesses()],
  ['simulated board', benchSim],
  ['REPL over PTY', () => benchRepl()],
  ['AT over PTY', benchAt],
  ['reference SNTP', benchSntp],
  ['IoT platform NTP over MQTT', benchPlatform],
  ['edge-timed readings (read-time precision: edge)', () => benchEdge()],
  ['runner (demo in-process)', () => benchRun()],
  ['demo (CLI process)', () => benchDemoProcess()],
  ['reports (HTML, PDF, history)', benchReport],
  ['rig', benchRig],
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
