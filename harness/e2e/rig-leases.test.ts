/**
 * The bench rig across processes: two `qhil run`s for one board (the second waits or exits 3 naming
 * the holder) over a device path (socat PTY) and over tcp://; a holder killed with SIGKILL is taken
 * over; `qhil lease release --kick` stops a live holder; a swapped board (wrong IMEI) is ERROR before
 * any step; `power-cycle` drives the simulated board's power switch through a rig power command and
 * re-identifies it. Runs dist/ (`npm run build` first), as a user runs qhil.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type Result, type ResultPromise } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../core/model.js';
import { startSimBoard, type SimBoard } from '../sim/board.js';
import { serveControlSocket, type ControlSocket } from '../sim/control-socket.js';
import { servePty, serveTcp, type ServedBoard } from '../sim/serve.js';
import { skipWithoutSocat } from '../testing/socat.js';
import { until } from '../testing/until.js';

const BIN = fileURLToPath(new URL('../../bin/qhil.js', import.meta.url));
/** A loaded 2-core machine: process start-up alone can take seconds. */
const TEST_TIMEOUT_MS = 120_000;
const IMEI = '864430010001234';

let dir: string;
let lockDir: string;
const boards: SimBoard[] = [];
const serving: ServedBoard[] = [];
const controls: ControlSocket[] = [];
const processes: ResultPromise[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'qhil-rig-e2e-'));
  lockDir = join(dir, 'locks');
});

afterEach(async () => {
  for (const child of processes.splice(0)) {
    if (child.exitCode === null) child.kill('SIGKILL');
    await child.catch(() => undefined);
  }
  await Promise.allSettled(controls.splice(0).map((control) => control.close()));
  await Promise.allSettled(serving.splice(0).map((served) => served.close()));
  await Promise.allSettled(boards.splice(0).map((board) => board.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function servedBoard(transport: 'pty' | 'tcp'): Promise<{ at: string; repl: string; board: SimBoard }> {
  const board = await startSimBoard({ profile: 'ec200u' });
  boards.push(board);
  const served = transport === 'pty' ? await servePty(board) : await serveTcp(board);
  serving.push(served);
  return { ...served.ports, board };
}

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** A scenario that holds its board for `wait`. */
function holdScenario(wait: string): string {
  return write(`hold-${wait}.yaml`, `name: hold\ntimeout: 10m\nsteps:\n  - at: { command: AT }\n  - wait: { for: ${wait} }\n`);
}

const quick = (): string => write('quick.yaml', 'name: quick\ntimeout: 2m\nsteps:\n  - at: { command: AT }\n');

function qhil(args: string[]): ResultPromise<{ reject: false; env: Record<string, string> }> {
  const child = execa('node', [BIN, ...args], { reject: false, env: { CI: 'true', QHIL_LOCK_DIR: '' } });
  processes.push(child);
  return child;
}

function run(scenario: string, ports: string[], extra: string[] = []): ResultPromise<{ reject: false; env: Record<string, string> }> {
  return qhil(['run', scenario, ...ports, '--out', join(dir, 'out'), '--lock-dir', lockDir, ...extra]);
}

/** Resolves once `count` lease files exist (the holder has its board); rejects after `deadlineMs`. */
async function leasesTaken(count: number, child: ResultPromise, deadlineMs = 60_000): Promise<void> {
  const endMs = performance.now() + deadlineMs;
  for (;;) {
    const files = existsSync(lockDir) ? readdirSync(lockDir).filter((name) => name.endsWith('.lease.json')) : [];
    if (files.length >= count) return;
    if (child.exitCode !== null) throw new Error(`the holder exited (${child.exitCode}) before taking its leases`);
    if (performance.now() > endMs) throw new Error(`no ${count} leases in ${lockDir} within ${deadlineMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function resultOf(output: Result): RunResult {
  const runDir = /^Reports: (.+)$/m.exec(String(output.stdout))?.[1];
  if (!runDir) throw new Error(`no run folder in ${String(output.stdout)}`);
  return JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as RunResult;
}

describe.skipIf(skipWithoutSocat)('board leases across processes', () => {
  for (const transport of ['pty', 'tcp'] as const) {
    it(
      `over ${transport === 'pty' ? 'a device path' : 'tcp://'}: a second run exits 3 naming the holder, and with --wait queues and gets the board once the first lets go`,
      async () => {
        const ports = await servedBoard(transport);
        const holder = run(holdScenario('5m'), ['--at', ports.at, '--repl', ports.repl]);
        await leasesTaken(2, holder);
        // The same board by one of its ports only: the leases still meet.
        const refused = await run(quick(), ['--at', ports.at]);
        expect(refused.exitCode).toBe(3);
        expect(refused.stdout).toMatch(new RegExp(`board-1 is in use by ${userInfo().username}, pid ${holder.pid}, since \\d\\d:\\d\\d UTC`));
        expect(resultOf(refused).boards[0]?.scenarios[0]?.steps).toEqual([]);
        const queued = run(quick(), ['--at', ports.at], ['--wait', '90s']);
        let queuedOut = '';
        queued.stdout?.on('data', (bytes: Buffer) => (queuedOut += bytes.toString()));
        await until('the second run queues', () => queuedOut.includes('waiting up to 90s for the port'), 60_000, { pollMs: 50 });
        // The holder stops (SIGTERM: ports closed, leases released); the queued run gets the board.
        holder.kill('SIGTERM');
        expect((await holder).exitCode).toBe(3);
        const second = await queued;
        expect(second.exitCode, String(second.stdout)).toBe(0);
        expect(readdirSync(lockDir).filter((name) => name.endsWith('.lease.json'))).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );
  }

  it(
    'a holder killed with SIGKILL is taken over, and the report says so',
    async () => {
      const ports = await servedBoard('tcp');
      const holder = run(holdScenario('60s'), ['--at', ports.at]);
      await leasesTaken(1, holder);
      holder.kill('SIGKILL');
      await holder;
      const taker = await run(quick(), ['--at', ports.at]);
      expect(taker.exitCode, String(taker.stdout)).toBe(0);
      const notes = resultOf(taker).boards[0]?.notes ?? [];
      expect(notes.join('\n')).toMatch(new RegExp(`took over the lease on ${ports.at.replace(/[/.]/g, '\\$&')} from ${userInfo().username}, pid ${holder.pid} .*that process is gone`));
      expect(taker.stdout).toContain('took over the lease');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'qhil lease release --kick stops a live holder and frees its board; without --kick it refuses',
    async () => {
      const ports = await servedBoard('pty');
      const holder = run(holdScenario('60s'), ['--at', ports.at, '--repl', ports.repl]);
      await leasesTaken(2, holder);
      const listed = await qhil(['lease', 'list', '--lock-dir', lockDir, '--json']);
      // Each PTY port is leased under its link's name and the device it points at: four leases.
      const leases = JSON.parse(String(listed.stdout)) as { board: string; pid: number; state: string; key: string }[];
      expect(leases.map((l) => [l.board, l.pid, l.state])).toEqual(Array.from({ length: 4 }, () => ['board-1', holder.pid, 'held']));
      expect(leases.map((l) => l.key)).toContain(ports.at);
      const refused = await qhil(['lease', 'release', 'board-1', '--lock-dir', lockDir]);
      expect(refused.exitCode).toBe(3);
      expect(refused.stderr).toContain('give --kick');
      const kicked = await qhil(['lease', 'release', ports.at, '--kick', '--lock-dir', lockDir]);
      expect(kicked.exitCode, String(kicked.stderr)).toBe(0);
      expect(kicked.stdout).toContain(`sent SIGTERM to pid ${holder.pid}`);
      // Released by port (its AT port), then the holder stops cleanly and releases the rest itself.
      const stopped = await holder;
      expect(stopped.exitCode).toBe(3);
      expect(readdirSync(lockDir).filter((name) => name.endsWith('.lease.json'))).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe.skipIf(skipWithoutSocat)('identity and power', () => {
  it(
    'a swapped board (another IMEI than the rig pins) is ERROR before any step',
    async () => {
      const rig = write('rig.yaml', `name: swapped\nboards:\n  - id: ec200u-01\n    sim: { profile: ec200u }\n    imei: '869100000000001'\n`);
      const output = await qhil(['run', quick(), '--rig', rig, '--out', join(dir, 'out')]);
      expect(output.exitCode).toBe(3);
      expect(output.stdout).toContain(`wrong board on sim://ec200u-01/at: IMEI ${IMEI}, rig says 869100000000001`);
      const scenario = resultOf(output).boards[0]?.scenarios[0];
      expect(scenario).toMatchObject({ outcome: 'ERROR', fault: 'rig', steps: [] });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "power-cycle runs the rig's power command (qhil sim power), waits for the board and re-identifies it",
    async () => {
      const ports = await servedBoard('pty');
      const socket = join(dir, 'power.sock');
      controls.push(await serveControlSocket(ports.board, socket));
      const rig = write(
        'rig.yaml',
        [
          'name: powered',
          'boards:',
          '  - id: ec200u-01',
          `    at: ${ports.at}`,
          `    repl: ${ports.repl}`,
          `    imei: '${IMEI}'`,
          '    firmware: /^EC200UEU/',
          `    power: { cycle: [node, ${BIN}, sim, power, cycle, --control, ${socket}], timeout: 30s }`,
          '',
        ].join('\n'),
      );
      const scenario = write(
        'power.yaml',
        'name: power\ntimeout: 3m\nsteps:\n  - power-cycle: { wait: 60s }\n  - at: { command: AT+CGSN, expect: "^\\\\d{15}$" }\n  - reset: { wait: 60s }\n  - repl: { code: "print(1+1)", equals: 2 }\n',
      );
      let rebooted = 0;
      ports.board.onPortState((port, up) => {
        if (port === 'at' && !up) rebooted += 1;
      });
      const output = await qhil(['run', scenario, '--rig', rig, '--out', join(dir, 'out'), '--lock-dir', lockDir]);
      expect(output.exitCode, String(output.stdout)).toBe(0);
      // Both the power switch and AT+CFUN=1,1 really took the board's ports away.
      expect(rebooted).toBe(2);
      const steps = resultOf(output).boards[0]?.scenarios[0]?.steps ?? [];
      expect(steps[0]?.message).toMatch(new RegExp(`^power cycled with node .* sim power cycle --control .*; back after .* as EC200U-EU, IMEI ${IMEI}`));
      expect(steps[2]?.message).toMatch(/^reset with AT\+CFUN=1,1/);
      const transcript = readFileSync(join(dirnameOf(output), 'transcripts', 'ec200u-01-power.log'), 'utf8');
      expect(transcript).toMatch(/power cycle: \$ node .*\npower cycle: done\n.*power cycle: exit 0 after \d+ms\n/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'power-cycle is ERROR, saying so, when a different board answers afterwards',
    async () => {
      const first = await servedBoard('tcp');
      const other = await startSimBoard({ profile: 'ec100y' });
      boards.push(other);
      const swapped = await serveTcp(other);
      serving.push(swapped);
      let current = first.at;
      // While the first board is off, the port is given to another module.
      first.board.onPortState((port, up) => {
        if (port === 'at' && !up) current = swapped.ports.at;
      });
      const bench = await switchablePort(() => current);
      const socket = join(dir, 'power.sock');
      controls.push(await serveControlSocket(first.board, socket));
      const rig = write('rig.yaml', `name: swap\nboards:\n  - id: b\n    at: ${bench.address}\n    power: { cycle: [node, ${BIN}, sim, power, cycle, --control, ${socket}] }\n`);
      const scenario = write('swap.yaml', 'name: swap\ntimeout: 3m\nsteps:\n  - power-cycle: { wait: 60s }\n  - at: { command: AT }\n');
      try {
        const output = await qhil(['run', scenario, '--rig', rig, '--out', join(dir, 'out'), '--lock-dir', lockDir]);
        expect(output.exitCode, String(output.stdout)).toBe(3);
        const steps = resultOf(output).boards[0]?.scenarios[0]?.steps ?? [];
        expect(steps[0]).toMatchObject({ kind: 'power-cycle', outcome: 'ERROR', fault: 'rig' });
        expect(steps[0]?.message).toContain(`a different board answered on ${bench.address}: IMEI 866327040001234, before it was ${IMEI}`);
        expect(steps[1]?.outcome).toBe('SKIP');
      } finally {
        await bench.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

/** A TCP forwarder to whichever board is current: what a bench looks like when a module is swapped on a port. */
async function switchablePort(target: () => string): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const { port } = new URL(target());
    const board = connect(Number(port), '127.0.0.1');
    for (const socket of [client, board]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        client.destroy();
        board.destroy();
      });
    }
    client.pipe(board);
    board.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return {
    address: `tcp://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function dirnameOf(output: Result): string {
  return /^Reports: (.+)$/m.exec(String(output.stdout))?.[1] ?? '';
}
