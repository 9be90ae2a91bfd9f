/**
 * A board host: the worker thread that serves the modem side of several simulated boards
 * (board-side.ts), each with its own MicroPython VM thread. One host per core instead of one worker
 * per board: a worker isolate costs ~35 ms of CPU to start and this code's modules as much again to
 * load, which a 32-board rig paid 32 times (board-host.ts picks the host).
 *
 * The boards share nothing but this thread: each has its own state, and a board whose code throws is
 * dropped and reported crashed, alone. MicroPython's wasm is compiled here once and handed to every
 * VM thread (a WebAssembly.Module is shared between threads, not copied), so each VM only
 * instantiates it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import { BoardSide } from './board-side.js';
import type { FromBoard, FromHost, ToHost } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('harness/sim/worker.js must run as a worker thread');

function post(message: FromHost): void {
  port?.postMessage(message);
}

let vmModule: WebAssembly.Module | undefined;

/** MicroPython's wasm, compiled on first use; without it (an unreadable file) each VM compiles its own. */
function compiledVm(): WebAssembly.Module | undefined {
  if (vmModule) return vmModule;
  try {
    const wasmPath = createRequire(import.meta.url).resolve('@micropython/micropython-webassembly-pyscript/micropython.wasm');
    vmModule = new WebAssembly.Module(readFileSync(wasmPath));
  } catch {
    vmModule = undefined;
  }
  return vmModule;
}

const boards = new Map<number, BoardSide>();
/** Boards whose messages still go to the main thread: from before their side exists (the constructor posts) until dropped. */
const speaking = new Set<number>();

function crashed(board: number, error: unknown): void {
  const side = boards.get(board);
  boards.delete(board);
  speaking.delete(board);
  post({ type: 'crashed', board, message: error instanceof Error ? error.message : String(error) });
  side?.dispose().catch(() => undefined);
}

port.on('message', (message: ToHost) => {
  const board = message.board;
  switch (message.type) {
    case 'open': {
      const module = compiledVm();
      const toMain = (fromBoard: FromBoard): void => {
        if (speaking.has(board)) post({ type: 'board', board, message: fromBoard });
      };
      speaking.add(board);
      try {
        boards.set(board, new BoardSide({ ...message.data, ...(module && { vmModule: module }) }, toMain));
      } catch (error) {
        crashed(board, error);
      }
      break;
    }
    case 'board':
      try {
        boards.get(board)?.receive(message.message);
      } catch (error) {
        crashed(board, error);
      }
      break;
    case 'drop': {
      const side = boards.get(board);
      boards.delete(board);
      speaking.delete(board);
      if (!side) {
        post({ type: 'dropped', board });
        break;
      }
      side.dispose().then(
        () => post({ type: 'dropped', board }),
        () => post({ type: 'dropped', board }),
      );
      break;
    }
  }
});
