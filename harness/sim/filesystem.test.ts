/**
 * The simulated board's filesystem in-process: /usr lives in a host folder, outlives hard reboots and
 * soft reboots, and is removed with the board unless the caller gave the folder. Workers run from
 * dist/ (see board.ts).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../channel/receiver.js';
import { resolveBoardProfile, startSimBoard, type SimBoard } from './board.js';

const boards: SimBoard[] = [];
const dir = mkdtempSync(join(tmpdir(), 'qhil-sim-fs-test-'));
afterEach(async () => {
  await Promise.allSettled(boards.splice(0).map((board) => board.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const limits = (waitingFor: string) => ({ waitingFor, inactivityMs: 5000, deadlineMs: 5000 });

/** Types `line` at the friendly prompt; resolves with what it printed before the next prompt. */
async function typed(rx: Receiver, line: string): Promise<string> {
  rx.discard();
  await rx.write(`${line}\r`);
  const text = (await rx.waitFor('>>> ', limits(line))).text;
  return text.slice(text.indexOf('\r\n') + 2).replace(/>>> $/, '');
}

describe('simulated board filesystem', () => {
  it('keeps /usr in its host folder across a hard reboot, with MicroPython errno values', async () => {
    const filesystemDir = join(dir, 'given');
    const sim = await startSimBoard({ profile: { ...resolveBoardProfile('ec200u'), rebootDelay: 100 }, filesystemDir });
    boards.push(sim);
    let rx = new Receiver(sim.hostLink('repl'));
    await rx.waitFor('>>> ', limits('banner'));
    await typed(rx, "f = open('/usr/kept.txt', 'w'); f.write('kept'); f.close()");
    expect(readFileSync(join(filesystemDir, 'usr', 'kept.txt'), 'utf8')).toBe('kept');
    expect(await typed(rx, 'exec("import uos\\ntry:\\n uos.mkdir(\'/usr\')\\nexcept OSError as e:\\n print(e.errno)")')).toContain('17\r\n');

    await sim.control.reboot('hard');
    await sim.waitForPort('repl', false, 5000);
    await sim.waitForPort('repl', true, 10_000);
    rx = new Receiver(sim.hostLink('repl'));
    await rx.waitFor('>>> ', limits('banner after the reboot'));
    expect(await typed(rx, "print(open('kept.txt').read())")).toBe('kept\r\n');
    expect(await typed(rx, "open('/nope/x')")).toContain('OSError: [Errno 2] ENOENT\r\n');

    await sim.close();
    // A folder the caller gave stays theirs.
    expect(existsSync(join(filesystemDir, 'usr', 'kept.txt'))).toBe(true);
  }, 60_000);
});
