/** Types for the parts of the MicroPython WebAssembly port (PyScript variant, v1.27.0) the sim uses. */
declare module '@micropython/micropython-webassembly-pyscript/micropython.mjs' {
  export interface MicroPythonFs {
    mkdir(path: string): void;
    writeFile(path: string, data: string | Uint8Array): void;
    stat(path: string): { rdev: number };
    /** A character device's operations; `read` may be replaced (the sim does so for fd 0). */
    getDevice(rdev: number): {
      stream_ops: { read: (stream: unknown, buffer: Uint8Array, offset: number, length: number, position: number) => number };
    };
  }
  /** The emscripten module behind the VM, for the two C functions the sim calls. */
  export interface MicroPythonModule {
    /** The interrupt character `micropython.kbd_intr()` set: 3, or -1 when off. */
    _mp_hal_get_interrupt_char(): number;
    /** Raises KeyboardInterrupt in Python at its next check, as a board's UART interrupt does. */
    _mp_sched_keyboard_interrupt(): void;
  }
  export interface MicroPython {
    FS: MicroPythonFs;
    _module: MicroPythonModule;
    registerJsModule(name: string, module: object): void;
    runPython(code: string): unknown;
    replInit(): void;
    /** Feeds one byte to the event-driven REPL; non-zero when the REPL asks to exit (Ctrl-D: soft reset). */
    replProcessChar(byte: number): number;
  }
  export interface LoadMicroPythonOptions {
    /** fd 0, one byte per call (null: end of input). */
    stdin?: () => number | null;
    stdout?: (bytes: Uint8Array) => void;
    stderr?: (bytes: Uint8Array) => void;
    linebuffer?: boolean;
    heapsize?: number;
    pystack?: number;
  }
  export function loadMicroPython(options?: LoadMicroPythonOptions): Promise<MicroPython>;
}
