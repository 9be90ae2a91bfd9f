import type { BoardProfile } from './profile.js';

/** The two ports of a simulated board, as on a real QuecPython module's USB interfaces. */
export type SimPort = 'repl' | 'at';
export const SIM_PORTS: readonly SimPort[] = ['repl', 'at'];

/** Layout of the SharedArrayBuffer the VM thread blocks on while the board worker answers a bridge call. */
export const BRIDGE = {
  /** Int32 index: id of the call the answer in the payload belongs to. */
  replyId: 0,
  /** Int32 index: payload length in bytes. */
  replyLength: 1,
  /** Int32 index: set to 1 when the VM thread must stop waiting (board closing or rebooting). */
  stop: 2,
  /** Int32 index: the last input message the VM thread has processed, stored before that input's last output is posted. */
  idleSeq: 3,
  /** Int32 index: 1 while the VM runs what the host typed (Python may be executing: a Ctrl-C interrupts it). */
  running: 4,
  /** Int32 slots before the payload. */
  controlInts: 8,
  /** Byte offset of the JSON payload. */
  payloadOffset: 32,
  bytes: 32 + 256 * 1024,
} as const;

/**
 * How a VM thread starts: `power-on` (boot noise, banner), `soft` (`MPY: soft reboot`, banner), or
 * silently at the raw or friendly prompt (`resume-raw`, `resume-friendly`): the board worker replaced
 * a VM that a Ctrl-C could not stop and printed the KeyboardInterrupt and the prompt itself.
 */
export type VmBoot = 'power-on' | 'soft' | 'resume-raw' | 'resume-friendly';

export interface VmWorkerData {
  profile: BoardProfile;
  bridge: SharedArrayBuffer;
  boot: VmBoot;
  /** Host folder of the board's filesystem (its `usr`), kept across VMs. */
  filesystemDir?: string;
  /** MicroPython's wasm, compiled once by the board host: each VM only instantiates it. */
  vmModule?: WebAssembly.Module;
  /** The board RTC, published by the board worker (shared-rtc.ts). */
  rtc?: SharedArrayBuffer;
}

/** Board worker -> VM thread. */
export type ToVm = { type: 'input'; seq: number; bytes: Uint8Array };

/** VM thread -> board worker. */
export type FromVm =
  | { type: 'ready' }
  | { type: 'output'; bytes: Uint8Array }
  | { type: 'idle'; seq: number }
  | { type: 'bridge'; id: number; name: string; limitMs: number; args: string }
  | { type: 'failed'; message: string };

export interface BoardWorkerData {
  profile: BoardProfile;
  clockOffsetMs?: number;
  faults: string[];
  hosts: Record<string, string>;
  /** Path of the VM thread's script (resolved by board.ts, see there). */
  vmWorkerPath: string;
  /** Host folder of the board's filesystem; it lives as long as the board (board.ts). */
  filesystemDir?: string;
  /** Set by the board host (worker.ts), not by the main thread. */
  vmModule?: WebAssembly.Module;
}

export type ControlOp =
  | { op: 'set-fault'; name: string; value?: string }
  | { op: 'clear-faults' }
  | { op: 'step-clock'; ms: number }
  | { op: 'set-clock-offset'; ms: number }
  | { op: 'read-rtc' }
  | { op: 'reboot'; kind: 'soft' | 'hard' }
  | { op: 'unplug' }
  | { op: 'replug' }
  | { op: 'close' };

/** Main thread -> board worker. */
export type ToBoard =
  | { type: 'input'; port: SimPort; bytes: Uint8Array }
  | { type: 'control'; id: number; request: ControlOp };

/** Board worker -> main thread. */
export type FromBoard =
  | { type: 'ready' }
  | { type: 'output'; port: SimPort; bytes: Uint8Array }
  | { type: 'port'; port: SimPort; up: boolean }
  | { type: 'reply'; id: number; ok: true; value: number | null }
  | { type: 'reply'; id: number; ok: false; error: string }
  | { type: 'log'; message: string }
  | { type: 'failed'; message: string };

/** Main thread -> board host worker (worker.ts), which serves several boards: `board` names one. */
export type ToHost =
  | { type: 'open'; board: number; data: BoardWorkerData }
  | { type: 'board'; board: number; message: ToBoard }
  | { type: 'drop'; board: number };

/** Board host worker -> main thread: a board's message, its end after `drop`, or its crash. */
export type FromHost =
  | { type: 'board'; board: number; message: FromBoard }
  | { type: 'dropped'; board: number }
  | { type: 'crashed'; board: number; message: string };
