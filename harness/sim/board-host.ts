/**
 * The main thread's side of the board hosts (worker.ts): up to one host worker per core, each serving
 * the modem side of several simulated boards, and a board's place in one of them. A host is started
 * with its first board; while it serves none it does not keep the process alive, and it stays for the
 * next board (starting one costs more than keeping it).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BoardWorkerData, FromBoard, FromHost, ToBoard, ToHost } from './protocol.js';

/** How long a host has to confirm a dropped board is shut down before the board is forgotten anyway. */
const DROP_DEADLINE_MS = 5000;

/** What a board hears from its host. */
export interface HostedBoardEvents {
  message(message: FromBoard): void;
  /** The board's side is gone without being dropped (it crashed, or its whole host did). */
  gone(reason: string): void;
}

/** One board in a host. */
export interface HostedBoard {
  post(message: ToBoard): void;
  /** Ends the board's side (ports, VM thread, sockets); resolves when the host says so or has gone. */
  drop(): Promise<void>;
}

interface BoardEntry {
  events: HostedBoardEvents;
  dropped?: () => void;
}

class BoardHostWorker {
  private readonly worker: Worker;
  private readonly boards = new Map<number, BoardEntry>();
  exited = false;

  constructor(scriptPath: string) {
    this.worker = new Worker(scriptPath);
    this.worker.unref();
    this.worker.on('message', (message: FromHost) => this.onMessage(message));
    this.worker.on('error', (error) => this.goneAll(`board host crashed: ${error.message}`));
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.goneAll(`board host exited (code ${code})`);
    });
  }

  get load(): number {
    return this.boards.size;
  }

  open(board: number, data: BoardWorkerData, events: HostedBoardEvents): HostedBoard {
    const entry: BoardEntry = { events };
    this.boards.set(board, entry);
    if (this.boards.size === 1) this.worker.ref();
    this.send({ type: 'open', board, data });
    return {
      post: (message) => {
        if (this.boards.get(board) === entry) this.send({ type: 'board', board, message });
      },
      drop: () =>
        new Promise<void>((resolve) => {
          if (this.boards.get(board) !== entry) {
            resolve();
            return;
          }
          // A wedged host must not hold the caller: the board is forgotten at the deadline.
          const timer = setTimeout(() => {
            if (this.boards.get(board) === entry) this.forget(board);
            resolve();
          }, DROP_DEADLINE_MS);
          timer.unref();
          entry.dropped = () => {
            clearTimeout(timer);
            resolve();
          };
          this.send({ type: 'drop', board });
        }),
    };
  }

  private send(message: ToHost): void {
    if (!this.exited) this.worker.postMessage(message);
  }

  private forget(board: number): BoardEntry | undefined {
    const entry = this.boards.get(board);
    this.boards.delete(board);
    if (this.boards.size === 0) this.worker.unref();
    return entry;
  }

  private onMessage(message: FromHost): void {
    switch (message.type) {
      case 'board': {
        const entry = this.boards.get(message.board);
        if (entry && !entry.dropped) entry.events.message(message.message);
        break;
      }
      case 'dropped':
        this.forget(message.board)?.dropped?.();
        break;
      case 'crashed': {
        const entry = this.forget(message.board);
        if (entry?.dropped) entry.dropped();
        else entry?.events.gone(`its side crashed: ${message.message}`);
        break;
      }
    }
  }

  private goneAll(reason: string): void {
    for (const board of [...this.boards.keys()]) {
      const entry = this.forget(board);
      if (entry?.dropped) entry.dropped();
      else entry?.events.gone(reason);
    }
  }
}

const hosts: BoardHostWorker[] = [];
let nextBoard = 0;

/**
 * Places a board in the least busy host, starting a host while there are fewer than one per core.
 * `scriptPath`: the host script (board-files.ts's workerScripts().board).
 */
export function openHostedBoard(scriptPath: string, data: BoardWorkerData, events: HostedBoardEvents): HostedBoard {
  for (let i = hosts.length - 1; i >= 0; i--) if (hosts[i]?.exited) hosts.splice(i, 1);
  let host = hosts.reduce<BoardHostWorker | undefined>((best, candidate) => (best === undefined || candidate.load < best.load ? candidate : best), undefined);
  if (!host || (host.load > 0 && hosts.length < availableParallelism())) {
    host = new BoardHostWorker(scriptPath);
    hosts.push(host);
  }
  return host.open(++nextBoard, data, events);
}
