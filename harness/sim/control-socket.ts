/**
 * The simulated board's power switch on a control socket (`qhil sim --control <socket>`), so the same
 * rig `power:` commands that drive a relay on a bench drive the simulated board:
 * `qhil sim power <on|off|cycle> --control <socket>`. One JSON line each way per connection.
 *
 * off: both ports vanish (the board's USB is gone); on: the board boots (RDY, banner) and its ports
 * come back; cycle: a hard reboot (off, the profile's reboot delay, on). Built on the board's own
 * unplug and reboot controls.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { errorMessage, InfrastructureError, InputError } from '../core/errors.js';
import type { SimBoard } from './board.js';

export type PowerSwitchAction = 'on' | 'off' | 'cycle';
export const POWER_SWITCH_ACTIONS: readonly PowerSwitchAction[] = ['on', 'off', 'cycle'];

/** A request or answer line is tiny; a client that sends more is not ours. */
const MAX_LINE_BYTES = 1024;
const REQUEST_DEADLINE_MS = 10_000;

export interface ControlSocket {
  readonly path: string;
  close(): Promise<void>;
}

async function switchPower(board: SimBoard, action: PowerSwitchAction): Promise<void> {
  if (action === 'off') await board.control.unplug();
  else if (action === 'on' && (board.isPortUp('at') || board.isPortUp('repl'))) return;
  else await board.control.reboot('hard');
}

/** Serves `board`'s power switch on a Unix socket at `path` (a stale socket file there is replaced). */
export async function serveControlSocket(board: SimBoard, path: string, onLog?: (message: string) => void): Promise<ControlSocket> {
  if (existsSync(path)) unlinkSync(path);
  const server: Server = createServer((socket) => {
    let text = '';
    socket.setTimeout(REQUEST_DEADLINE_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('data', (bytes: Buffer) => {
      text += bytes.toString('utf8');
      if (text.length > MAX_LINE_BYTES) return socket.destroy();
      const end = text.indexOf('\n');
      if (end < 0) return;
      let action: unknown;
      try {
        action = (JSON.parse(text.slice(0, end)) as { power?: unknown }).power;
      } catch {
        action = undefined;
      }
      if (!POWER_SWITCH_ACTIONS.includes(action as PowerSwitchAction)) {
        socket.end(`${JSON.stringify({ ok: false, error: 'expected {"power":"on"|"off"|"cycle"}' })}\n`);
        return;
      }
      onLog?.(`power ${action as string} (control socket)`);
      switchPower(board, action as PowerSwitchAction).then(
        () => socket.end(`${JSON.stringify({ ok: true })}\n`),
        (error: unknown) => socket.end(`${JSON.stringify({ ok: false, error: errorMessage(error) })}\n`),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new InfrastructureError(`cannot serve the control socket ${path}: ${error.message}`)));
    server.listen(path, () => resolve());
  });
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A listening Unix socket leaves its file behind only when the process dies first.
        if (existsSync(path)) unlinkSync(path);
      }),
  };
}

/** Asks the board behind `path` to switch its power; rejects with InfrastructureError when it cannot. */
export function requestPower(path: string, action: PowerSwitchAction, timeoutMs = REQUEST_DEADLINE_MS): Promise<void> {
  if (!POWER_SWITCH_ACTIONS.includes(action)) return Promise.reject(new InputError(`power ${action}: expected on, off or cycle`));
  return new Promise<void>((resolve, reject) => {
    let answer = '';
    const socket = createConnection(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new InfrastructureError(`${path}: no answer to power ${action} within ${timeoutMs}ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(`${JSON.stringify({ power: action })}\n`));
    socket.on('data', (bytes: Buffer) => {
      answer = (answer + bytes.toString('utf8')).slice(0, MAX_LINE_BYTES);
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(new InfrastructureError(`${path}: ${error.message} (is qhil sim --control ${path} running?)`));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      let reply: { ok?: boolean; error?: string } = {};
      try {
        reply = JSON.parse(answer.trim() || '{}') as typeof reply;
      } catch {
        // Not an answer of ours.
      }
      if (reply.ok === true) resolve();
      else reject(new InfrastructureError(`${path}: power ${action} refused: ${reply.error ?? JSON.stringify(answer.slice(0, 200))}`));
    });
  });
}
