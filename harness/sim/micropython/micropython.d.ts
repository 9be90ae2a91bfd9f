/** Types for the parts of the MicroPython WebAssembly port (PyScript variant, v1.27.0) the sim uses. */
declare module '@micropython/micropython-webassembly-pyscript/micropython.mjs' {
  export interface MicroPythonFs {
    mkdir(path: string): void;
    writeFile(path: string, data: string | Uint8Array): void;
  }
  export interface MicroPython {
    FS: MicroPythonFs;
    registerJsModule(name: string, module: object): void;
    runPython(code: string): unknown;
    replInit(): void;
    /** Feeds one byte to the event-driven REPL; non-zero when the REPL asks to exit (Ctrl-D: soft reset). */
    replProcessChar(byte: number): number;
  }
  export interface LoadMicroPythonOptions {
    stdout?: (bytes: Uint8Array) => void;
    stderr?: (bytes: Uint8Array) => void;
    linebuffer?: boolean;
    heapsize?: number;
    pystack?: number;
  }
  export function loadMicroPython(options?: LoadMicroPythonOptions): Promise<MicroPython>;
}
