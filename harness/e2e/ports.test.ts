// Done-when of issue 8: AT-only, REPL-only and two-port runs pass, exit 0, against boards the project
// did not write: a live AT responder and the plain MicroPython VM, each on a socat pseudo-terminal,
// driven by the qhil process as a user runs it.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import type { RunResult } from '../core/model.js';
import { startAtPeer, type AtPeer } from '../testing/at-peer.js';
import { startPlainVmOnPty, type PlainVmOnPty } from '../testing/plain-vm.js';
import { skipWithoutSocat } from '../testing/socat.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'qhil.js');

let reference: SntpServer;
let at: AtPeer;
let repl: PlainVmOnPty;
const dir = mkdtempSync(join(tmpdir(), 'qhil-ports-'));

beforeAll(async () => {
  reference = await startSntpServer({ host: '127.0.0.1', port: 0 });
  at = await startAtPeer();
  repl = await startPlainVmOnPty();
});
afterAll(async () => {
  await Promise.allSettled([reference?.close(), at?.stop(), repl?.stop()]);
});

function scenarioFile(name: string, text: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

async function qhil(args: string[]) {
  const out = mkdtempSync(join(dir, 'out-'));
  const child = await execa('node', [BIN, 'run', ...args, '--reference', `127.0.0.1:${reference.port}`, '--out', out, '--json'], {
    reject: false,
    timeout: 60_000,
    env: { CI: 'true' },
    stdin: 'ignore',
  });
  const result = child.stdout ? (JSON.parse(child.stdout) as RunResult & { runDir: string }) : undefined;
  return { child, result };
}

describe.skipIf(skipWithoutSocat)('runs against boards qhil did not write', () => {
  it("AT only: the README's ntp-sync-at scenario passes against a live AT responder, exit 0", async () => {
    const { child, result } = await qhil([join(ROOT, 'scenarios', 'ntp-sync-at.yaml'), '--at', at.address, '--apn', 'internet']);
    expect(child.stderr).toBe('');
    expect(child.exitCode, child.stdout).toBe(0);
    expect(result?.outcome).toBe('PASS');
    expect(result?.boards[0]?.identity?.model).toBe('EG915U');
    expect(at.received).toContain('AT+CCLK?');
  });

  it('REPL only: UTF-8 output and a clock reading pass against the plain MicroPython VM, exit 0', async () => {
    const file = scenarioFile(
      'repl-only',
      `name: repl-only
steps:
  - repl: { code: "print('café é€中')", match: 'café é€中', as: text }
  - read-time: { via: repl, as: t1 }
  - compare: { read: t1, tolerance: 2s }
`,
    );
    const { child, result } = await qhil([file, '--repl', repl.address]);
    expect(child.exitCode, child.stdout + child.stderr).toBe(0);
    const steps = result?.boards[0]?.scenarios[0]?.steps ?? [];
    expect(steps.map((s) => s.outcome)).toEqual(['PASS', 'PASS', 'PASS']);
    expect((steps[0]?.data as { stdout?: string }).stdout).toBe('café é€中\n');
  });

  it('both ports: a scenario reading the clock over AT and over the REPL passes, exit 0', async () => {
    const file = scenarioFile(
      'both',
      `name: both-ports
steps:
  - read-time: { via: at, as: a }
  - read-time: { via: repl, as: r }
  - compare: { read: a, tolerance: 2s }
  - compare: { read: r, tolerance: 2s }
`,
    );
    const { child, result } = await qhil([file, '--at', at.address, '--repl', repl.address]);
    expect(child.exitCode, child.stdout + child.stderr).toBe(0);
    expect(result?.outcome).toBe('PASS');
    const junit = readFileSync(join(result?.runDir ?? '', 'junit.xml'), 'utf8');
    expect(junit).not.toMatch(/<failure|<error/);
  });
});
