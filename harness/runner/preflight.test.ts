import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InputError } from '../core/errors.js';
import type { BoardSpec, ReferenceSpec, Scenario } from '../core/model.js';
import { commonStepOptions } from '../core/schema.js';
import { stepRegistry } from '../steps/index.js';
import type { StepDefinition } from '../steps/step.js';
import { scenarioIssues } from './checks.js';
import { checkPortFlag, checkRunnable, portIdentity, preflight, type PreflightInput } from './preflight.js';
import { parseRigText } from './rig.js';
import { loadScenario, parseScenarioText } from './scenario.js';
import { ntpHostsOf } from './sim-world.js';

function scenario(text: string, file = 'scn.yaml'): Scenario {
  return parseScenarioText(text, file, { env: {} });
}

const simBoard: BoardSpec = { id: 'sim-1', sim: { profile: 'ec200u', offsetMs: 0, faults: [] }, fields: {} };
const reference: ReferenceSpec = { servers: ['127.0.0.1:11123'], samples: 4, timeoutMs: 5000, keys: [] };

/** Every problem checkRunnable finds, one per line; [] when it accepts the input. */
function problems(input: PreflightInput): string[] {
  try {
    checkRunnable(input);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message.split('\n');
  }
}

const COMPARE = 'name: c\nsteps:\n  - read-time: { as: t1 }\n  - compare: { read: t1, tolerance: 2s }\n';

describe('checkRunnable: values steps produce and consume', () => {
  it('accepts the shipped scenarios on a simulated board', () => {
    for (const file of ['scenarios/demo.yaml', 'scenarios/nightly.yaml', 'scenarios/ntp-sync-repl.yaml', 'scenarios/ntp-sync-mixed.yaml']) {
      const loaded = loadScenario(file, { env: {} });
      // nightly uses ${board.apn}: the sim board has one.
      expect(problems({ scenarios: [loaded], boards: [{ ...simBoard, apn: 'internet' }] }), file).toEqual([]);
    }
  });

  it('needs every consumed reading produced by an earlier step', () => {
    expect(problems({ scenarios: [scenario('name: c\nsteps:\n  - compare: { read: t1 }\n  - read-time: { as: t1 }\n')], boards: [simBoard] })).toEqual([
      'scn.yaml:3:5: compare reads "t1", but no earlier step sets it (add read-time with as: t1)',
    ]);
  });

  it('needs a consumed value of the right kind: text from an at step is no time reading', () => {
    const text = 'name: c\nsteps:\n  - at: { command: AT+CCLK?, as: t1 }\n  - compare: { read: t1 }\n';
    expect(problems({ scenarios: [scenario(text)], boards: [simBoard] })).toEqual([
      'scn.yaml:4:5: compare reads "t1", which is text (set by at at line 3), not a time reading (add read-time with as: t1)',
    ]);
  });

  it('refuses two steps setting one name, at the second', () => {
    const text = 'name: c\nsteps:\n  - read-time: { as: t1 }\n  - wait: { for: 1s }\n  - read-time: { as: t1, via: at }\n  - read-time\n  - read-time\n';
    expect(problems({ scenarios: [scenario(text)], boards: [simBoard] })).toEqual([
      'scn.yaml:5:5: read-time sets "t1", which read-time at line 3 already set: give each value its own name with as:',
      'scn.yaml:7:5: read-time sets "time", which read-time at line 6 already set: give each value its own name with as:',
    ]);
  });

  it("refuses waits that alone exceed the scenario's timeout, at the wait that crosses it", () => {
    const text = 'name: w\ntimeout: 1s\nsteps:\n  - read-time\n  - wait: { for: 3s }\n';
    expect(problems({ scenarios: [scenario(text)], boards: [simBoard] })).toEqual([
      "scn.yaml:5:5: wait: the scenario's waits alone add up to 3.00s by this step, more than its timeout of 1.00s: raise the scenario's timeout or shorten the waits",
    ]);
    const two = 'name: w\ntimeout: 5s\nsteps:\n  - wait: { for: 3s }\n  - wait: { for: 3s }\n  - wait: { for: 3s }\n';
    expect(problems({ scenarios: [scenario(two)], boards: [simBoard] })).toEqual([
      "scn.yaml:5:5: wait: the scenario's waits alone add up to 6.00s by this step, more than its timeout of 5.00s: raise the scenario's timeout or shorten the waits",
    ]);
    expect(problems({ scenarios: [scenario('name: w\ntimeout: 5s\nsteps:\n  - wait: { for: 4s }\n')], boards: [simBoard] })).toEqual([]);
  });

  it('checks a step that uses ${board.<field>} on each board, with the fields filled in', () => {
    const text = 'name: c\nsteps:\n  - read-time: { as: "${board.reading}" }\n  - compare: { read: t1 }\n';
    const boards: BoardSpec[] = [
      { ...simBoard, id: 'a', fields: { reading: 't1' } },
      { ...simBoard, id: 'b', fields: { reading: 't2' } },
    ];
    expect(problems({ scenarios: [scenario(text)], boards })).toEqual([
      'scn.yaml:4:5: compare reads "t1", but no earlier step sets it (add read-time with as: t1)',
    ]);
    // Without boards, what such a step sets is not known: no guess, no false alarm.
    expect(preflight({ scenarios: [scenario(text)] }).scenarios[0]?.problems).toEqual([]);
  });
});

describe('checkRunnable: the reference', () => {
  it('needs a reference for a step that declares it needs one, unless the boards are all simulated', () => {
    const hardware: BoardSpec = { id: 'board-1', at: '/dev/ttyUSB2', fields: {} };
    expect(problems({ scenarios: [scenario(COMPARE)], boards: [hardware] })).toEqual([
      'scn.yaml:4:5: compare needs a reference clock: give --reference <server>, or reference: in the scenario or rig file',
    ]);
    expect(problems({ scenarios: [scenario(COMPARE)], boards: [hardware], reference })).toEqual([]);
    expect(problems({ scenarios: [scenario(COMPARE)], boards: [hardware], rigReference: reference })).toEqual([]);
    expect(problems({ scenarios: [scenario(COMPARE)], boards: [simBoard] })).toEqual([]);
  });

  it('refuses --reference servers that do not parse, before anything runs', () => {
    const bad = { ...reference, servers: ['[::1', 'host:0', 'ntp.example', '[::1]:123'] };
    expect(problems({ scenarios: [scenario(COMPARE)], boards: [simBoard], reference: bad })).toEqual([
      '--reference: bad reference server "[::1": expected host, host:port (port 1-65535), or an IPv6 address in brackets: [::1]:123',
      '--reference: bad reference server "host:0": expected host, host:port (port 1-65535), or an IPv6 address in brackets: [::1]:123',
    ]);
    expect(problems({ scenarios: [scenario(COMPARE)], boards: [simBoard], reference: { ...reference, samples: 0 } })).toEqual([
      '--samples 0: expected a whole number from 1 to 64',
    ]);
  });
});

describe('checkRunnable: boards', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qhil-preflight-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses one port on two boards, through symlinks and in any case of a tcp host', () => {
    const device = join(dir, 'ttyUSB0');
    writeFileSync(device, '');
    symlinkSync(device, join(dir, 'by-id-quectel-if02'));
    const rig = parseRigText(
      `name: r
boards:
  - { id: a, at: ${device}, repl: tcp://Lab-Host:3001 }
  - { id: b, at: ${join(dir, 'by-id-quectel-if02')} }
  - { id: c, repl: tcp://lab-host:3001, at: tcp://lab-host:3002 }
  - { id: d, repl: COM5, at: '\\\\.\\com5' }
`,
      'rig.yaml',
      { env: {} },
    );
    expect(problems({ scenarios: [scenario('name: x\nsteps: [read-time]\n')], boards: rig.boards })).toEqual([
      `rig.yaml:4:5: board b: at: ${join(dir, 'by-id-quectel-if02')} is the same port as board a's at port (rig.yaml:3:5)`,
      "rig.yaml:5:5: board c: repl: tcp://lab-host:3001 is the same port as board a's repl port (rig.yaml:3:5)",
      'rig.yaml:6:5: board d: at: \\\\.\\com5 is the same port as its own repl port',
    ]);
  });

  it('knows one IPv6 address in its long and short forms as the same tcp:// port', () => {
    const boards = [
      { id: 'a', repl: 'tcp://[::1]:4001', fields: {} },
      { id: 'b', repl: 'tcp://[0:0:0:0:0:0:0:1]:4001', fields: {} },
    ];
    expect(problems({ scenarios: [scenario('name: x\nsteps: [read-time]\n')], boards })).toEqual([
      "board b: repl: tcp://[0:0:0:0:0:0:0:1]:4001 is the same port as board a's repl port",
    ]);
  });

  it('names the same port given twice on the command line', () => {
    expect(problems({ scenarios: [scenario('name: x\nsteps: [read-time]\n')], boards: [{ id: 'board-1', at: '/dev/ttyUSB7', repl: '/dev/ttyUSB7', fields: {} }] })).toEqual([
      'board board-1: at: /dev/ttyUSB7 is the same port as its own repl port',
    ]);
  });

  it('refuses a missing sim profile and bad sim faults, at the board', () => {
    const rig = parseRigText('name: r\nboards:\n  - id: s\n    sim: { profile: no-such-profile }\n', 'rig.yaml', { env: {} });
    expect(problems({ scenarios: [scenario('name: x\nsteps: [read-time]\n')], boards: rig.boards })).toEqual([
      expect.stringMatching(/^rig\.yaml:3:5: board s: no board profile "no-such-profile": not a file, nor a name in /),
    ]);
    expect(problems({ scenarios: [scenario('name: x\nsteps: [read-time]\n')], boards: [{ ...simBoard, sim: { profile: 'ec200u', offsetMs: 0, faults: ['usb-unplug'] } }] })).toEqual([
      expect.stringMatching(/^board sim-1: unknown sim fault "usb-unplug": expected one of /),
    ]);
  });

  it('says when there are no boards, and skips board checks when the boards are not known yet', () => {
    expect(problems({ scenarios: [scenario('name: x\nsteps: [read-time]\n')], boards: [] })).toEqual(['no boards: give --rig, --board sim, or --repl/--at ports']);
    expect(preflight({ scenarios: [scenario(COMPARE)] })).toEqual({ general: [], scenarios: [{ scenario: expect.anything(), problems: [] }] });
  });

  it('reports at most 50 problems, then how many more', () => {
    const boards: BoardSpec[] = Array.from({ length: 80 }, (_, i) => ({ id: `b${i}`, at: 'tcp://lab:1', fields: {} }));
    const lines = problems({ scenarios: [scenario('name: x\nsteps: [read-time]\n')], boards });
    expect(lines).toHaveLength(51);
    expect(lines[50]).toBe('... and 29 more');
  });
});

describe('portIdentity and checkPortFlag', () => {
  it('normalises device paths, COM ports and tcp hosts', () => {
    expect(portIdentity('/dev/../dev/no-such-tty')).toBe('/dev/no-such-tty');
    expect(portIdentity('\\\\.\\com12')).toBe('COM12');
    expect(portIdentity('tcp://[::1]:3001')).toBe('tcp://::1:3001');
    expect(portIdentity('tcp://SER2NET.lab:3001/')).toBe('tcp://ser2net.lab:3001');
  });

  it('makes a bad exec port address bad input, naming the flag', () => {
    expect(() => checkPortFlag('--repl', 'garbage')).toThrow(InputError);
    expect(() => checkPortFlag('--repl', 'garbage')).toThrow(
      '--repl: bad port address "garbage": expected a device path (/dev/ttyUSB2, /dev/serial/by-id/..., COM5) or tcp://host:port',
    );
    expect(() => checkPortFlag('--at', 'tcp://127.0.0.1:7000')).not.toThrow();
  });
});

describe('step declarations: a new step kind needs nothing outside steps/', () => {
  // A made-up kind, declared only through its definition, as a new file in steps/ would be.
  const listenSchema = z
    .object({ urc: z.string(), as: z.string(), for: z.string().default('2s'), ...commonStepOptions })
    .strict()
    .transform((args) => ({ ...args, timeoutMs: args.timeout, forMs: 2000 }));
  const listen: StepDefinition<z.output<typeof listenSchema>> = {
    kind: 'listen',
    summary: 'wait for a URC',
    schema: listenSchema,
    defaultTimeoutMs: 5000,
    describe: (args) => `listen for ${args.urc}`,
    run: () => Promise.resolve({}),
    produces: (args) => [{ name: args.as, kind: 'text' }],
    minimumDurationMs: (args) => args.forMs,
  };
  const registry = new Map<string, StepDefinition>([...stepRegistry, ['listen', listen as unknown as StepDefinition]]);

  it('uses what the definition declares: its reading names, its minimum duration', () => {
    const loaded = parseScenarioText(
      'name: l\ntimeout: 3s\nsteps:\n  - listen: { urc: +QIURC, as: urc }\n  - listen: { urc: +QIURC, as: urc }\n',
      'scn.yaml',
      { env: {}, registry },
    );
    expect(scenarioIssues(loaded, { registry }).map((issue) => `${issue.location.line}: ${issue.message}`)).toEqual([
      '5: listen sets "urc", which listen at line 4 already set: give each value its own name with as:',
      "5: listen: the scenario's waits alone add up to 4.00s by this step, more than its timeout of 3.00s: raise the scenario's timeout or shorten the waits",
    ]);
  });

  it('gives a simulated world the NTP hosts steps declare, filled in per board', () => {
    const loaded = scenario('name: s\nsteps:\n  - sync: { server: ntp.lab.example }\n  - sync: { server: "${board.ntp}" }\n  - sync\n');
    expect([...ntpHostsOf([loaded])]).toEqual(['ntp.lab.example']);
    expect([...ntpHostsOf([loaded], [{ ...simBoard, fields: { ntp: 'ntp.a.example' } }, { ...simBoard, id: 'b', fields: { ntp: 'ntp.b.example' } }])]).toEqual([
      'ntp.lab.example',
      'ntp.a.example',
      'ntp.b.example',
    ]);
  });
});
