import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimBoard, type SimBoard } from './board.js';
import { requestPower, serveControlSocket, type ControlSocket } from './control-socket.js';

let dir: string | undefined;
let board: SimBoard | undefined;
let control: ControlSocket | undefined;

afterEach(async () => {
  await control?.close();
  await board?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  control = undefined;
  board = undefined;
  dir = undefined;
});

describe("the simulated board's power switch on a control socket", () => {
  it('off takes both ports away, on boots the board again, cycle reboots it; anything else is refused', async () => {
    dir = mkdtempSync(join(tmpdir(), 'qhil-control-'));
    board = await startSimBoard({ profile: 'ec200u' });
    const path = join(dir, 'power.sock');
    control = await serveControlSocket(board, path);
    await requestPower(path, 'off');
    expect([board.isPortUp('at'), board.isPortUp('repl')]).toEqual([false, false]);
    await requestPower(path, 'on');
    await board.waitForPort('at', true, 20_000);
    await board.waitForPort('repl', true, 20_000);
    const seen: string[] = [];
    board.onPortState((port, up) => seen.push(`${port} ${up ? 'up' : 'down'}`));
    await requestPower(path, 'cycle');
    await board.waitForPort('at', false, 20_000);
    await board.waitForPort('at', true, 20_000);
    expect(seen).toContain('at down');
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      const socket = createConnection(path, () => socket.write('{"power":"explode"}\n'));
      socket.on('data', (bytes: Buffer) => (text += bytes.toString()));
      socket.on('close', () => resolve(text));
    });
    expect(answer).toContain('"ok":false');
    await control.close();
    control = undefined;
    expect(existsSync(path)).toBe(false);
    await expect(requestPower(path, 'cycle')).rejects.toThrow(/is qhil sim --control .* running\?/);
  }, 60_000);
});
