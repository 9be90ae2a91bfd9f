/**
 * A reboot in the middle of a command, on the simulated board: a soft reboot while the REPL runs an
 * exec, and `RDY` while an AT command waits for its answer. Either ends the command at once with an
 * error naming the reboot, long before the command's own deadline. The figure (banner or RDY to the
 * error, host monotonic clock) is asserted with a margin for a loaded 2-core host; the 100 ms target
 * is what it measures in practice (printed).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { AtChannel } from '../channel/at/channel.js';
import { AtRebootError } from '../channel/at/errors.js';
import { ReplChannel, ReplRebootedError } from '../channel/repl/repl.js';
import { BoardError } from '../core/errors.js';
import { memoryLinkPair } from '../link/memory.js';
import { createAtPort } from '../sim/at/port.js';
import { startSimBoard } from '../sim/board.js';
import { ModemModel } from '../sim/modem.js';
import { parseBoardProfile } from '../sim/profile.js';
import { servePty } from '../sim/serve.js';
import { skipWithoutSocat } from '../testing/socat.js';
import { EC200U_PROFILE, NO_NTP } from '../testing/sim-at.js';

const BIN = fileURLToPath(new URL('../../bin/qhil.js', import.meta.url));

/** The commands' own deadline: the error must come far sooner. */
const COMMAND_TIMEOUT_MS = 20_000;
/** Banner/RDY to the error: the target is 100 ms; the assertion's margin holds on a loaded host. */
const ASSERTED_WITHIN_MS = 1_000;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('a reboot in the middle of a command', () => {
  it('a soft reboot while the REPL runs an exec ends it at the banner, naming the reboot', async () => {
    const board = await startSimBoard({ profile: 'ec200u', clockOffsetMs: 0 });
    cleanups.push(() => board.close());
    const link = board.hostLink('repl');
    // Registered before the channel's own listener, so the banner's arrival is timed before the channel sees it.
    let received = '';
    let startedSeen = false;
    let bannerAtMonoMs: number | undefined;
    let onStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (onStarted = resolve));
    link.onData((bytes) => {
      received = (received + bytes.toString('latin1')).slice(-4096);
      if (!startedSeen && received.includes('exec-started')) {
        startedSeen = true;
        onStarted();
      }
      if (startedSeen && bannerAtMonoMs === undefined && received.includes('MPY: soft reboot')) bannerAtMonoMs = performance.now();
    });
    const repl = new ReplChannel(link);
    cleanups.push(() => repl.close());
    await repl.exec('print(1)', { timeoutMs: COMMAND_TIMEOUT_MS });

    const sentAtMonoMs = performance.now();
    const exec = repl.exec("print('exec-started')\nimport utime\nutime.sleep(60)", { timeoutMs: COMMAND_TIMEOUT_MS });
    const ended = exec.then(
      () => ({ error: undefined, atMonoMs: performance.now() }),
      (error: unknown) => ({ error, atMonoMs: performance.now() }),
    );
    await Promise.race([started, ended]);
    await board.control.reboot('soft');
    const { error, atMonoMs } = await ended;

    expect(error).toBeInstanceOf(ReplRebootedError);
    expect(error).toBeInstanceOf(BoardError);
    expect((error as Error).message).toMatch(/soft-rebooted while running the code/);
    expect(bannerAtMonoMs).toBeDefined();
    const afterBannerMs = atMonoMs - (bannerAtMonoMs ?? 0);
    console.log(`REPL: exec ended ${afterBannerMs.toFixed(1)} ms after the soft-reboot banner`);
    expect(afterBannerMs).toBeGreaterThanOrEqual(0);
    expect(afterBannerMs).toBeLessThan(ASSERTED_WITHIN_MS);
    expect(atMonoMs - sentAtMonoMs).toBeLessThan(COMMAND_TIMEOUT_MS / 2);

    // The board is usable again: the next exec re-enters the fresh REPL.
    expect((await repl.exec('print(2)', { timeoutMs: COMMAND_TIMEOUT_MS })).stdout).toBe('2\n');
  });

  it('RDY while an AT command waits for its answer ends it at RDY, naming the reboot', async () => {
    // The sim's AT port on its own (no worker): AT+CFUN=1,1 resets it and it says RDY 300 ms later
    // with the port still open, as a UART board does. AT+CSQ answers after 5 s, so RDY comes mid-command.
    const modem = new ModemModel(
      parseBoardProfile({ ...EC200U_PROFILE, atDelays: { 'AT+CSQ': '5s' } }),
    );
    const pair = memoryLinkPair('sim-at-reboot');
    const port = createAtPort(modem, (bytes) => void pair.board.write(bytes), NO_NTP);
    cleanups.push(() => port.dispose());
    pair.board.onData((bytes) => port.receive(bytes));
    let received = '';
    let rdyAtMonoMs: number | undefined;
    pair.host.onData((bytes) => {
      received += bytes.toString('latin1');
      if (rdyAtMonoMs === undefined && /\nRDY\r/.test(received)) rdyAtMonoMs = performance.now();
    });
    const channel = new AtChannel(pair.host);
    const urcs: string[] = [];
    channel.onUrc((urc) => urcs.push(urc.line));

    await channel.send('AT+CFUN=1,1');
    const sentAtMonoMs = performance.now();
    const outcome = await channel.send('AT+CSQ', { timeoutMs: COMMAND_TIMEOUT_MS }).then(
      () => ({ error: undefined, atMonoMs: performance.now() }),
      (error: unknown) => ({ error, atMonoMs: performance.now() }),
    );

    expect(outcome.error).toBeInstanceOf(AtRebootError);
    expect(outcome.error).toBeInstanceOf(BoardError);
    expect((outcome.error as Error).message).toMatch(/rebooted \(it said "RDY"\) while AT\+CSQ ran/);
    expect(rdyAtMonoMs).toBeDefined();
    const afterRdyMs = outcome.atMonoMs - (rdyAtMonoMs ?? 0);
    console.log(`AT: command ended ${afterRdyMs.toFixed(1)} ms after RDY`);
    expect(afterRdyMs).toBeGreaterThanOrEqual(0);
    expect(afterRdyMs).toBeLessThan(ASSERTED_WITHIN_MS);
    expect(outcome.atMonoMs - sentAtMonoMs).toBeLessThan(4_000);
    // RDY still reaches URC listeners. (No next command here: this lone sim port, unlike a board,
    // still finishes the AT+CSQ it took before RDY.)
    expect(urcs).toContain('RDY');
  });
});

describe.skipIf(skipWithoutSocat)('qhil exec --repl on a board that soft-reboots mid exec', () => {
  it('exits 1 (FAIL, the board) naming the reboot, long before its --timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhil-reboot-mid-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // The board's /usr is <dir>/usr on the host: the code marks there that it runs.
    const board = await startSimBoard({ profile: 'ec200u', clockOffsetMs: 0, filesystemDir: dir });
    cleanups.push(() => board.close());
    const ports = await servePty(board);
    cleanups.push(() => ports.close());
    const marker = join(dir, 'usr', 'running');
    const code = "f = open('/usr/running', 'w')\nf.write('1')\nf.close()\nimport utime\nutime.sleep(60)";
    const startedAtMonoMs = performance.now();
    const exec = execa('node', [BIN, 'exec', '--repl', ports.ports.repl, '--timeout', '30s', code], { reject: false, env: { CI: 'true' }, timeout: 40_000 });
    const deadline = performance.now() + 20_000;
    while (!existsSync(marker) && performance.now() < deadline && exec.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(existsSync(marker)).toBe(true);
    const rebootAtMonoMs = performance.now();
    await board.control.reboot('soft');
    const result = await exec;
    const endedAtMonoMs = performance.now();
    console.log(`qhil exec: exited ${(endedAtMonoMs - rebootAtMonoMs).toFixed(0)} ms after the soft reboot was asked for (process exit included)`);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/soft-rebooted while running the code \("MPY: soft reboot"\)/);
    // The 30 s deadline did not end it: the banner did (process teardown on a loaded host included).
    expect(endedAtMonoMs - rebootAtMonoMs).toBeLessThan(10_000);
    expect(endedAtMonoMs - startedAtMonoMs).toBeLessThan(30_000);
  });
});
