// Test peer: the plain MicroPython VM (no Quectel modules) behind a memory link, so the REPL channel
// is proven against a REPL the project did not write. The only thing added is an answer to the
// raw-paste request, on which this event-driven REPL would otherwise spin forever (a known limit).
import { memoryLinkPair } from '../link/memory.js';
import type { Link } from '../link/link.js';
import { SerialLink } from '../link/serial.js';
import { startPtyPair } from './socat.js';

interface MicroPython {
  replInit(): void;
  replProcessCharWithAsyncify(byte: number): Promise<number>;
}

type Loader = (options: { stdout: (bytes: Uint8Array) => void; linebuffer: boolean }) => Promise<MicroPython>;

export interface PlainVmPeer {
  host: Link;
  unplug(): void;
  close(): Promise<void>;
}

export async function startPlainVm(options: { rawPasteAnswer?: string; disableRawMode?: boolean } = {}): Promise<PlainVmPeer> {
  const module = (await import('@micropython/micropython-webassembly-pyscript/micropython.mjs' as string)) as { loadMicroPython: Loader };
  const pair = memoryLinkPair('plain-vm');
  const board = pair.board;
  let output: number[] = [];
  const flush = (): void => {
    if (output.length === 0) return;
    const bytes = Buffer.from(output);
    output = [];
    void board.write(bytes).catch(() => undefined);
  };
  const mp = await module.loadMicroPython({ stdout: (bytes) => output.push(...bytes), linebuffer: false });
  mp.replInit();
  flush();
  let queue: Promise<void> = Promise.resolve();
  let pendingRawPaste = '';
  board.onData((bytes) => {
    queue = queue.then(async () => {
      for (const byte of bytes) {
        const ch = String.fromCharCode(byte);
        if (pendingRawPaste || ch === '\x05') {
          pendingRawPaste += ch;
          if (pendingRawPaste === '\x05A\x01') {
            pendingRawPaste = '';
            output.push(...Buffer.from(options.rawPasteAnswer ?? 'R\x00', 'latin1'));
            flush();
            continue;
          }
          if ('\x05A\x01'.startsWith(pendingRawPaste)) continue;
          const held = pendingRawPaste;
          pendingRawPaste = '';
          for (const c of Buffer.from(held, 'latin1')) await mp.replProcessCharWithAsyncify(c);
          flush();
          continue;
        }
        if (options.disableRawMode && byte === 0x01) continue;
        await mp.replProcessCharWithAsyncify(byte);
        flush();
      }
    });
  });
  return {
    host: pair.host,
    unplug: pair.unplug,
    close: async () => {
      await pair.host.close();
    },
  };
}

export interface PlainVmOnPty {
  /** The port the harness opens. */
  address: string;
  stop(): Promise<void>;
}

/** The plain VM on a socat pseudo-terminal, so a `qhil` process can open it as it opens a board. */
export async function startPlainVmOnPty(options: { rawPasteAnswer?: string } = {}): Promise<PlainVmOnPty> {
  const pair = await startPtyPair();
  const vm = await startPlainVm(options);
  const board = await SerialLink.open(pair.boardPath);
  board.onData((bytes) => void vm.host.write(bytes).catch(() => undefined));
  vm.host.onData((bytes) => void board.write(bytes).catch(() => undefined));
  return {
    address: pair.hostPath,
    stop: async () => {
      await board.close().catch(() => undefined);
      await vm.close();
      await pair.kill();
    },
  };
}
