import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import type { BoardSpec, RunResult, Scenario } from '../core/model.js';
import { runScenarios } from '../runner/run.js';
import { loadScenario, parseScenarioText } from '../runner/scenario.js';
import { startSimWorld, type SimWorld } from '../runner/sim-world.js';
import { startSimBoard, type SimBoard } from '../sim/board.js';
import { servePty, serveTcp, type ServedBoard } from '../sim/serve.js';
import { skipWithoutSocat } from '../testing/socat.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'qhil.js');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function scenario(yaml: string): Scenario {
  return parseScenarioText(yaml, 'inline.yaml');
}

async function world(scenarios: Scenario[]): Promise<SimWorld> {
  const w = await startSimWorld(scenarios);
  cleanups.push(() => w.close());
  return w;
}

function simBoard(offsetMs: number, faults: string[] = []): BoardSpec {
  return { id: 'sim-1', sim: { profile: 'ec200u', offsetMs, faults }, fields: {} };
}

function outDir(): string {
  return mkdtempSync(join(tmpdir(), 'qhil-e2e-'));
}

function steps(result: RunResult): RunResult['boards'][number]['scenarios'][number]['steps'] {
  return result.boards[0]?.scenarios[0]?.steps ?? [];
}

const noSync = scenario(`
name: no-sync
steps:
  - read-time: { via: repl, as: t }
  - compare: { read: t, timezone: 1, tolerance: 2s }
`);

describe('qhil run against the simulated board', () => {
  it('FAILs a board 5 s fast that does not sync, with an offset interval containing +5 s', async () => {
    const w = await world([noSync]);
    const { result } = await runScenarios({ scenarios: [noSync], boards: [simBoard(5000)], outDir: outDir(), reference: w.reference, simHosts: w.hosts });
    const compare = steps(result)[1];
    expect(result.outcome).toBe('FAIL');
    expect(result.exitCode).toBe(1);
    const m = compare?.measurements[0];
    expect(m?.outcome).toBe('FAIL');
    expect(m?.low).toBeLessThanOrEqual(5000);
    expect(m?.high).toBeGreaterThanOrEqual(5000);
    // One second of reading resolution plus the round trip: a narrow interval, not a vague one.
    expect((m?.high ?? Infinity) - (m?.low ?? 0)).toBeLessThan(1200);
  });

  it('PASSes a board 0.5 s fast with a 2 s tolerance', async () => {
    const w = await world([noSync]);
    const { result } = await runScenarios({ scenarios: [noSync], boards: [simBoard(500)], outDir: outDir(), reference: w.reference, simHosts: w.hosts });
    expect(result.outcome).toBe('PASS');
    const m = steps(result)[1]?.measurements[0];
    expect(m?.low).toBeLessThanOrEqual(500);
    expect(m?.high).toBeGreaterThanOrEqual(500);
  });

  it('brings a board a minute off into tolerance by syncing over the REPL, and records the server used', async () => {
    const demo = loadScenario(join(ROOT, 'scenarios', 'demo.yaml'));
    const w = await world([demo]);
    const out = outDir();
    const { result, runDir } = await runScenarios({ scenarios: [demo], boards: [simBoard(63_400)], outDir: out, reference: w.reference, simHosts: w.hosts });
    expect(result.outcome).toBe('PASS');
    const [, , before, sync, , after] = steps(result);
    expect(before?.measurements[0]?.value).toBeGreaterThan(62_000);
    expect(before?.measurements[0]?.value).toBeLessThan(65_000);
    expect(sync?.data.usedServer).toBe('pool.ntp.org');
    expect(Math.abs(after?.measurements[0]?.value ?? Infinity)).toBeLessThan(1000);
    expect(result.boards[0]?.identity?.firmware).toBe('EC200UEUAAR03A01M08_OCPU_QPY');
    for (const file of ['events.jsonl', 'result.json', 'junit.xml', 'summary.md', 'transcripts/sim-1-repl.log']) {
      expect(existsSync(join(runDir, file)), file).toBe(true);
    }
    expect(readFileSync(join(runDir, 'transcripts/sim-1-repl.log'), 'utf8')).toContain('ntptime.settime(0)');
  });

  it("gives ERROR (no verdict on the firmware) naming the server and the board's error when no NTP server is reachable", async () => {
    const syncOnly = scenario(`
name: sync-unreachable
steps:
  - sync: { via: repl, server: ntp.unreachable.example, timeout: 30s }
`);
    // No host map: every name fails to resolve on the board, fall-backs included.
    const { result } = await runScenarios({ scenarios: [syncOnly], boards: [simBoard(0)], outDir: outDir(), simHosts: {} });
    const sync = steps(result)[0];
    expect(sync).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(sync?.message).toContain('ntp.unreachable.example');
    expect(sync?.message).toContain('OSError: Server connection failed!');
    expect(result.exitCode).toBe(3);
  });

  it('gives ERROR and exit 3 when the reference is unreachable', async () => {
    const silent: SntpServer = await startSntpServer({ drop: true });
    cleanups.push(() => silent.close());
    const w = await world([noSync]);
    const { result } = await runScenarios({
      scenarios: [noSync],
      boards: [simBoard(0)],
      outDir: outDir(),
      reference: { servers: [`127.0.0.1:${silent.port}`], samples: 2, timeoutMs: 800, keys: [] },
      simHosts: w.hosts,
    });
    const compare = steps(result)[1];
    expect(compare?.outcome).toBe('ERROR');
    expect(compare?.message).toContain(`127.0.0.1:${silent.port}`);
    expect(result.exitCode).toBe(3);
  });

  it('compares a REPL reading after an AT sync in the zone AT+CCLK states, on boards in different zones', async () => {
    const mixed = loadScenario(join(ROOT, 'scenarios', 'ntp-sync-mixed.yaml'));
    const w = await world([mixed]);
    const boards: BoardSpec[] = [
      { id: 'eu', sim: { profile: 'ec200u', offsetMs: 20_000, faults: [] }, fields: {} },
      { id: 'cn', sim: { profile: 'ec100y', offsetMs: -20_000, faults: [] }, fields: {} },
    ];
    const { result } = await runScenarios({ scenarios: [mixed], boards, outDir: outDir(), reference: w.reference, simHosts: w.hosts });
    expect(result.boards.map((b) => [b.id, b.scenarios[0]?.outcome, b.scenarios[0]?.message])).toEqual([
      ['eu', 'PASS', undefined],
      ['cn', 'PASS', undefined],
    ]);
  });

  it('runs two simulated boards of a rig in parallel, each judged on its own clock', async () => {
    const w = await world([noSync]);
    const boards: BoardSpec[] = [
      { id: 'fast', sim: { profile: 'ec200u', offsetMs: 30_000, faults: [] }, fields: {} },
      { id: 'good', sim: { profile: 'ec200u', offsetMs: 100, faults: [] }, fields: {} },
    ];
    const { result } = await runScenarios({ scenarios: [noSync], boards, outDir: outDir(), reference: w.reference, simHosts: w.hosts });
    expect(result.boards.map((b) => [b.id, b.scenarios[0]?.outcome])).toEqual([
      ['fast', 'FAIL'],
      ['good', 'PASS'],
    ]);
  });
});

describe('recovery and bad input caught before any port opens', () => {
  it('reopens the ports after the board reboots (AT+CFUN=1,1): before the next step, and to retry a step that lost its port', async () => {
    const reboot = scenario(`
name: reboot
steps:
  - at: { command: 'AT+CFUN=1,1' }
  - wait: { for: 300ms }
  - read-time: { via: repl, as: t }
  - at: { command: 'AT+CFUN=1,1' }
  - repl: { code: "import utime\\nutime.sleep_ms(600)\\nprint('slept')", match: slept, retries: 2 }
  - compare: { read: t, timezone: 1, tolerance: 2s }
`);
    const w = await world([reboot]);
    const logs: string[] = [];
    const { result } = await runScenarios({
      scenarios: [reboot],
      boards: [simBoard(0)],
      outDir: outDir(),
      reference: w.reference,
      simHosts: w.hosts,
      onEvent: (event) => {
        if (event.type === 'log') logs.push(event.message);
      },
    });
    expect(result.boards[0]?.scenarios[0]?.message).toBeUndefined();
    expect(result.outcome).toBe('PASS');
    const [, , readTime, , repl] = steps(result);
    expect(readTime?.attempts).toBe(1);
    // The port vanished while the code ran: the first attempt erred, the retry met the reopened port.
    expect(repl?.attempts).toBeGreaterThan(1);
    expect(logs.filter((line) => line.includes('opening it again')).length).toBeGreaterThanOrEqual(2);
  });

  it('fills ${board.<field>} per board, numbers included, and refuses a board that lacks the field', async () => {
    const zoned = scenario(`
name: zoned
steps:
  - read-time: { via: repl, as: t }
  - compare: { read: t, timezone: '\${board.zone}', tolerance: 2s }
`);
    const w = await world([zoned]);
    const boards: BoardSpec[] = [
      { id: 'eu', sim: { profile: 'ec200u', offsetMs: 0, faults: [] }, fields: { zone: '1' } },
      { id: 'cn', sim: { profile: 'ec100y', offsetMs: 0, faults: [] }, fields: { zone: '8' } },
    ];
    const { result } = await runScenarios({ scenarios: [zoned], boards, outDir: outDir(), reference: w.reference, simHosts: w.hosts });
    expect(result.boards.map((b) => b.scenarios[0]?.outcome)).toEqual(['PASS', 'PASS']);
    const out = outDir();
    const lacking: BoardSpec = { id: 'bare', sim: { profile: 'ec200u', offsetMs: 0, faults: [] }, fields: {} };
    await expect(runScenarios({ scenarios: [zoned], boards: [lacking], outDir: out, reference: w.reference })).rejects.toThrow(
      /inline\.yaml:5:5: .*board "bare" has no field "zone"/,
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it('refuses a tag filter that keeps no scenario, naming the tags there are', async () => {
    const w = await world([noSync]);
    await expect(
      runScenarios({ scenarios: [loadScenario(join(ROOT, 'scenarios', 'demo.yaml'))], boards: [simBoard(0)], outDir: outDir(), reference: w.reference, tags: ['nighly'] }),
    ).rejects.toThrow(/no scenario has the tag "nighly"; the scenarios' tags are: demo/);
  });

  it('exits 1, not 3, when one board fails and another cannot be opened', async () => {
    const w = await world([noSync]);
    const boards: BoardSpec[] = [simBoard(30_000), { id: 'gone', repl: '/dev/ttyQHIL-gone', fields: {} }];
    const { result } = await runScenarios({ scenarios: [noSync], boards, outDir: outDir(), reference: w.reference, simHosts: w.hosts });
    expect(result.boards.map((b) => b.scenarios[0]?.outcome)).toEqual(['FAIL', 'ERROR']);
    expect(result.exitCode).toBe(1);
  });
});

describe.skipIf(skipWithoutSocat)('the same scenarios over real ports', () => {
  async function served(kind: 'pty' | 'tcp', offsetMs: number, hosts: Record<string, string>): Promise<ServedBoard> {
    const board: SimBoard = await startSimBoard({ profile: 'ec200u', clockOffsetMs: offsetMs, hosts });
    cleanups.push(() => board.close());
    const ports = kind === 'pty' ? await servePty(board) : await serveTcp(board);
    cleanups.push(() => ports.close());
    return ports;
  }

  for (const kind of ['pty', 'tcp'] as const) {
    for (const name of ['ntp-sync-repl', 'ntp-sync-at', 'ntp-sync-mixed']) {
      it(`passes ${name} over ${kind === 'pty' ? 'a socat pseudo-terminal' : 'TCP'}`, async () => {
        const file = loadScenario(join(ROOT, 'scenarios', `${name}.yaml`));
        const w = await world([file]);
        const ports = await served(kind, 20_000, w.hosts);
        const { result } = await runScenarios({
          scenarios: [file],
          boards: [{ id: 'board-1', repl: ports.ports.repl, at: ports.ports.at, apn: 'internet', fields: {} }],
          outDir: outDir(),
          reference: w.reference,
        });
        expect(result.boards[0]?.scenarios[0]?.message).toBeUndefined();
        expect(result.outcome).toBe('PASS');
        // The board was 20 s off before the scenario synced it.
        const compare = result.boards[0]?.scenarios[0]?.steps.find((step) => step.kind === 'compare');
        expect(Math.abs(compare?.measurements[0]?.value ?? Infinity)).toBeLessThan(1000);
      });
    }
  }
});

describe('the qhil command', () => {
  it('exits 2 with file:line:column for a malformed scenario, before opening any port', async () => {
    const dir = outDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: bad\nsteps:\n  - dail: { via: repl }\n');
    const run = await execa('node', [BIN, 'run', file, '--repl', '/dev/ttyQHIL-none', '--out', dir], { reject: false });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/bad\.yaml:3:5: .*dail.*dial/);
    expect(readdirSync(dir)).toEqual(['bad.yaml']);
  });

  it('exits 2 for a malformed port flag, a tag no scenario has, and a bad --offset', async () => {
    const demo = join(ROOT, 'scenarios', 'demo.yaml');
    const badPort = await execa('node', [BIN, 'run', demo, '--repl', 'tcp://localhost', '--reference', '127.0.0.1:9'], { reject: false });
    expect(badPort.exitCode).toBe(2);
    expect(badPort.stderr).toContain('tcp://localhost');
    const badTag = await execa('node', [BIN, 'run', demo, '--board', 'sim', '--tag', 'nighly'], { reject: false });
    expect(badTag.exitCode).toBe(2);
    const badOffset = await execa('node', [BIN, 'demo', '--offset', 'five seconds'], { reject: false });
    expect(badOffset.exitCode).toBe(2);
    expect(badOffset.stderr).toContain('--offset');
  });

  it('exits 3 naming the port when the port cannot be opened', async () => {
    const dir = outDir();
    const run = await execa('node', [BIN, 'run', join(ROOT, 'scenarios', 'ntp-sync-repl.yaml'), '--repl', '/dev/ttyQHIL-none', '--reference', '127.0.0.1:9', '--out', dir], {
      reject: false,
      env: { CI: 'true' },
    });
    expect(run.exitCode).toBe(3);
    expect(run.stdout).toContain('/dev/ttyQHIL-none');
  });

  /** Runs `qhil run <yaml> <flags>` on the simulated board and sends SIGINT once step 1 has ended. */
  async function interruptAfterFirstStep(yaml: string, flags: string[]): Promise<{ dir: string; exitCode: number | undefined; stopMs: number }> {
    const dir = outDir();
    const file = join(dir, 'scenario.yaml');
    writeFileSync(file, yaml);
    const child = execa('node', [BIN, 'run', file, '--board', 'sim', '--out', dir, ...flags], { reject: false, env: { CI: 'true' } });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const startedAt = performance.now();
    while (!output.includes('#1 read the time')) {
      if (performance.now() - startedAt > 20_000) throw new Error(`run did not start: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stoppedAt = performance.now();
    child.kill('SIGINT');
    const done = await child;
    return { dir, exitCode: done.exitCode, stopMs: performance.now() - stoppedAt };
  }

  it('on SIGINT stops at once even while the reference query waits on a silent server', async () => {
    // Nothing answers on the discard port: the query would wait for its whole 5 s deadline.
    const run = await interruptAfterFirstStep('name: ref\nsteps:\n  - read-time: { via: repl, as: t }\n  - compare: { read: t, timezone: 1, tolerance: 2s }\n', [
      '--reference',
      '127.0.0.1:9',
    ]);
    expect(run.stopMs).toBeLessThan(3000);
    expect(run.exitCode).toBe(3);
  });

  it('on SIGINT closes the ports and leaves events.jsonl and result.json with what completed', async () => {
    const run = await interruptAfterFirstStep(
      'name: long\nsteps:\n  - read-time: { via: repl, as: t }\n  - wait: { for: 60s }\n  - read-time: { via: repl, as: u }\n',
      [],
    );
    expect(run.exitCode).toBe(3);
    const runDir = join(run.dir, readdirSync(run.dir).find((name) => name !== 'scenario.yaml') ?? '');
    const result = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as RunResult;
    expect(result.aborted).toBe(true);
    const completed = result.boards[0]?.scenarios[0]?.steps ?? [];
    expect(completed.map((step) => step.outcome)).toEqual(['PASS', 'ERROR', 'SKIP']);
    const events = readFileSync(join(runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { type: string });
    expect(events.at(-1)?.type).toBe('run-end');
    expect(events.some((e) => e.type === 'step-end')).toBe(true);
  });
});
