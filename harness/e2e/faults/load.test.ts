// Fault matrix, group "load": a rig of 128 simulated boards on this host (two cores on CI) overloads
// it on purpose. Whatever goes wrong, no FAIL may come from the host's overload: every non-PASS is
// the rig's ERROR, saying the host was overloaded (or the simulated board starved). Heavy (15-30 s of
// every core), so it runs with `npm run faults`, not in `npm test` (vitest.config.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshOutDir, ROOT, runQhil, verdictOf } from './matrix.js';

const BOARDS = 128;
const dir = mkdtempSync(join(tmpdir(), 'qhil-fault-load-'));
const rig = join(dir, 'rig.yaml');
writeFileSync(
  rig,
  `name: rig-${BOARDS}\nboards:\n` +
    Array.from({ length: BOARDS }, (_, i) => `  - id: sim-${String(i).padStart(3, '0')}\n    apn: internet\n    sim: { profile: ${join(ROOT, 'fixtures', 'sim', 'ec200u.yaml')}, offset: 0s }\n`).join(''),
);
const scenario = join(dir, 'nightly.yaml');
writeFileSync(
  scenario,
  'name: nightly\ntimeout: 3m\nsteps:\n  - dial: { via: repl, profile: 1, timeout: 60s, retries: 1 }\n' +
    '  - sync: { via: repl, server: pool.ntp.org, timezone: 0, timeout: 75s, retries: 1 }\n' +
    '  - read-time: { via: repl, as: t1 }\n  - compare: { read: t1, timezone: 0, tolerance: 2s }\n',
);

describe('fault matrix: an overloaded host', () => {
  it(`a rig of ${BOARDS} simulated boards gives no FAIL; every ERROR says the host was overloaded`, async () => {
    const outDir = freshOutDir();
    const observation = await runQhil(['run', scenario, '--rig', rig, '--out', outDir], { deadlineMs: 120_000, outDir });
    const outcomes = observation.result?.boards.flatMap((board) => board.scenarios) ?? [];
    const fails = outcomes.filter((s) => s.outcome === 'FAIL');
    const unexplained = outcomes.filter((s) => s.outcome === 'ERROR' && !/overloaded|starves|too coarse/.test(s.message ?? ''));
    const problems = verdictOf('load', `rig of ${BOARDS} simulated boards`, observation, {
      exit: observation.result?.outcome === 'PASS' ? 0 : 3,
      says: /passed/,
      deadlineMs: 120_000,
    });
    if (fails.length > 0) problems.push(`wrong class: ${fails.length} FAIL on an overloaded host: ${fails[0]?.message ?? ''}`);
    if (unexplained.length > 0) problems.push(`unclear: ${unexplained.length} ERROR not saying why: ${unexplained[0]?.message ?? ''}`);
    expect(problems).toEqual([]);
    expect(outcomes).toHaveLength(BOARDS);
  }, 180_000);
});
