// Fault matrix, group "sim faults": every named fault of the simulated board, through a rig file, as
// a nightly rig would meet it. Conditions outside the board (no SIM card, no coverage, a network
// that refuses the call, an NTP server that does not answer) give no verdict on the firmware: ERROR.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Fault } from '../../core/errors.js';
import type { RecordOutcome } from '../../core/model.js';
import { caseFolder, caseTimeoutMs, ROOT, runQhilLimited, verdictOf } from './matrix.js';

const { file, outDir: newOutDir } = caseFolder('sim');
const PROFILE = join(ROOT, 'fixtures', 'sim', 'ec200u.yaml');

function rig(fault: string): string {
  return file(
    `rig-${fault.replace(/\W/g, '_')}.yaml`,
    `name: fault-rig
boards:
  - id: sim-1
    apn: internet
    sim: { profile: ${PROFILE}, offset: 0s, faults: ["${fault}"] }
`,
  );
}

const SCENARIOS = {
  dialRepl: file('dial-repl.yaml', 'name: dial-repl\ntimeout: 30s\nsteps:\n  - dial: { via: repl, profile: 1, timeout: 5s }\n'),
  dialAt: file('dial-at.yaml', 'name: dial-at\ntimeout: 30s\nsteps:\n  - dial: { via: at, profile: 1, timeout: 5s }\n'),
  syncAt: file('sync-at.yaml', 'name: sync-at\ntimeout: 60s\nsteps:\n  - dial: { via: at, profile: 1, timeout: 5s }\n  - sync: { via: at, server: pool.ntp.org, timeout: 30s }\n'),
  noSync: file('no-sync.yaml', 'name: no-sync\ntimeout: 30s\nsteps:\n  - read-time: { via: repl, as: t1 }\n  - compare: { read: t1, timezone: 1, tolerance: 2s }\n'),
  drift: file(
    'drift.yaml',
    'name: drift\ntimeout: 30s\nsteps:\n  - read-time: { via: repl, as: t0 }\n  - wait: { for: 4s }\n  - read-time: { via: repl, as: t1 }\n  - compare: { read: t1, timezone: 1, tolerance: 500ms }\n',
  ),
  afterReboot: file(
    'after-reboot.yaml',
    'name: after-reboot\ntimeout: 2m\nsteps:\n  - wait: { for: 2s }\n  - dial: { via: repl, profile: 1, timeout: 20s, retries: 2 }\n  - sync: { via: repl, server: pool.ntp.org, timezone: 0, timeout: 30s, retries: 1 }\n  - read-time: { via: repl, as: t1 }\n  - compare: { read: t1, timezone: 0, tolerance: 2s }\n',
  ),
  full: file(
    'full.yaml',
    'name: full\ntimeout: 2m\nsteps:\n  - dial: { via: repl, profile: 1, timeout: 20s, retries: 2 }\n  - sync: { via: repl, server: pool.ntp.org, timezone: 0, timeout: 30s, retries: 1 }\n  - read-time: { via: repl, as: t1 }\n  - compare: { read: t1, timezone: 0, tolerance: 2s }\n',
  ),
  fullAt: file(
    'full-at.yaml',
    'name: full-at\ntimeout: 2m\nsteps:\n  - dial: { via: at, profile: 1, timeout: 20s, retries: 2 }\n  - sync: { via: at, server: pool.ntp.org, timeout: 30s, retries: 2 }\n  - read-time: { via: at, as: t1, retries: 2 }\n  - compare: { read: t1, tolerance: 2s }\n',
  ),
  readAt: file('read-at.yaml', 'name: read-at\ntimeout: 30s\nsteps:\n  - read-time: { via: at, as: t1, timeout: 5s }\n  - compare: { read: t1, tolerance: 2s }\n'),
};

interface SimCase {
  fault: string;
  scenario: string;
  exit: number;
  outcome: RecordOutcome;
  fault_?: Fault;
  says: RegExp;
  deadlineMs: number;
}

const CASES: SimCase[] = [
  { fault: 'no-sim', scenario: SCENARIOS.dialRepl, exit: 3, outcome: 'ERROR', fault_: 'rig', says: /SIM/, deadlineMs: 8000 },
  { fault: 'no-sim', scenario: SCENARIOS.dialAt, exit: 3, outcome: 'ERROR', fault_: 'rig', says: /SIM not inserted/, deadlineMs: 8000 },
  { fault: 'no-network', scenario: SCENARIOS.dialAt, exit: 3, outcome: 'ERROR', fault_: 'rig', says: /not registered/, deadlineMs: 10_000 },
  { fault: 'no-network', scenario: SCENARIOS.dialRepl, exit: 3, outcome: 'ERROR', fault_: 'rig', says: /network/, deadlineMs: 10_000 },
  { fault: 'dial-refused', scenario: SCENARIOS.dialAt, exit: 3, outcome: 'ERROR', fault_: 'rig', says: /AT\+QIACT/, deadlineMs: 8000 },
  { fault: 'dial-refused', scenario: SCENARIOS.dialRepl, exit: 3, outcome: 'ERROR', fault_: 'rig', says: /dataCall/, deadlineMs: 10_000 },
  { fault: 'ntp-silent', scenario: SCENARIOS.syncAt, exit: 3, outcome: 'ERROR', fault_: 'rig', says: /\+QNTP: 569|timeout/, deadlineMs: 40_000 },
  { fault: 'clock-offset=5s', scenario: SCENARIOS.noSync, exit: 1, outcome: 'FAIL', fault_: 'board', says: /board offset \+[45]\.\d+s/, deadlineMs: 8000 },
  { fault: 'clock-drift=500000ppm', scenario: SCENARIOS.drift, exit: 1, outcome: 'FAIL', fault_: 'board', says: /board offset \+/, deadlineMs: 12_000 },
  { fault: 'slow-output=20ms', scenario: SCENARIOS.full, exit: 0, outcome: 'PASS', says: /PASS/, deadlineMs: 30_000 },
  { fault: 'garbled-output=0.05', scenario: SCENARIOS.readAt, exit: 1, outcome: 'FAIL', fault_: 'board', says: /garbled/i, deadlineMs: 25_000 },
  { fault: 'repl-refuse', scenario: SCENARIOS.noSync, exit: 1, outcome: 'FAIL', fault_: 'board', says: /REPL refuse/, deadlineMs: 8000 },
  { fault: 'reboot', scenario: SCENARIOS.afterReboot, exit: 0, outcome: 'PASS', says: /PASS/, deadlineMs: 30_000 },
  { fault: 'usb-disconnect=2s', scenario: SCENARIOS.full, exit: 0, outcome: 'PASS', says: /PASS/, deadlineMs: 30_000 },
  { fault: 'usb-disconnect=2s', scenario: SCENARIOS.fullAt, exit: 0, outcome: 'PASS', says: /PASS/, deadlineMs: 30_000 },
];

describe.concurrent('fault matrix: every named fault of the simulated board', () => {
  for (const c of CASES) {
    const name = `${c.fault} on ${c.scenario.split('/').pop()?.replace('.yaml', '')}`;
    it(name, async () => {
      const outDir = newOutDir();
      const observation = await runQhilLimited(['run', c.scenario, '--rig', rig(c.fault), '--out', outDir], { deadlineMs: c.deadlineMs, outDir });
      const problems = verdictOf('sim faults', name, observation, { exit: c.exit, outcome: c.outcome, fault: c.fault_, says: c.says, deadlineMs: c.deadlineMs });
      expect(problems, observation.stdout + observation.stderr).toEqual([]);
    }, caseTimeoutMs(c.deadlineMs));
  }
});
