/**
 * One MicroPython VM set up as a QuecPython board's: the `_qsim` bridge to the board worker, fd 0
 * reading the REPL port (port-stdin.ts), `/usr` on the board's host folder (host-fs.ts), the
 * QuecPython modules installed (modules.ts) and `import time` made to fail as on QuecPython.
 */
import { join } from 'node:path';
import { loadMicroPython, type MicroPython } from '@micropython/micropython-webassembly-pyscript/micropython.mjs';
import type { BoardProfile } from '../profile.js';
import { mountHostFolder, type EmscriptenFs } from './host-fs.js';
import { EAGER_MODULES, LAZY_STUB } from './lazy-modules.js';
import { installerSource, MODULE_SOURCES, QUECPYTHON_MODULES, TIME_BLOCKER } from './modules.js';
import { readPortStdin, type PortStdinHooks } from './port-stdin.js';

/** The banner line a QuecPython board prints, from its profile. */
export function quecPythonBanner(profile: BoardProfile): string {
  const q = profile.quecpython;
  const machine = q.machine ?? `${profile.product} with QUECTEL`;
  return `${q.bannerName} ${q.version} on ${q.buildDate} ; ${machine}`;
}

/** QuecPython's user folder: the board's files, on the host so they outlive every VM. */
export const USER_FOLDER = '/usr';

export interface BoardVmOptions {
  /** Each byte the VM prints (stdout and stderr). */
  output: (byte: number) => void;
  /** `_qsim.call(name, limitMs, argsJson)`, synchronous; also what fd 0 asks for host bytes. */
  bridge: (name: string, limitMs: number, argsJson: string) => string;
  /** fd 0's view of the REPL's input queue and the thread's port (see port-stdin.ts). */
  stdin: Omit<PortStdinHooks, 'bridge' | 'interruptChar' | 'scheduleKeyboardInterrupt'>;
  /** Host folder of the board's filesystem (`<dir>/usr`); without one `/usr` is in the VM's memory. */
  filesystemDir?: string;
}

let compiledWasm: WebAssembly.Module | undefined;

/** MicroPython's wasm compiled elsewhere (by the board host, once): this thread's VMs instantiate it, not compile it. */
export function useCompiledWasm(module: WebAssembly.Module | undefined): void {
  compiledWasm = module;
}

/**
 * loadMicroPython has no hook for a compiled module (it builds Emscripten's Module itself, and
 * Emscripten's loader reads the file and calls WebAssembly.instantiate on the bytes): for that one
 * call, instantiate gets the compiled module instead. Nothing else in a VM thread instantiates wasm.
 */
async function withCompiledWasm<T>(load: () => Promise<T>): Promise<T> {
  const compiled = compiledWasm;
  if (!compiled) return load();
  const original = WebAssembly.instantiate;
  const fromCompiled = (_bytes: unknown, imports?: WebAssembly.Imports): Promise<WebAssembly.WebAssemblyInstantiatedSource> =>
    original(compiled, imports).then((instance) => ({ module: compiled, instance }));
  WebAssembly.instantiate = fromCompiled as typeof WebAssembly.instantiate;
  try {
    return await load();
  } finally {
    WebAssembly.instantiate = original;
  }
}

export async function createBoardVm(options: BoardVmOptions): Promise<MicroPython> {
  const vm = await withCompiledWasm(() => loadMicroPython({
    linebuffer: false,
    // A device of its own for fd 0, whose reads are replaced below.
    stdin: () => null,
    stdout: (bytes) => {
      for (const byte of bytes) options.output(byte);
    },
    stderr: (bytes) => {
      for (const byte of bytes) options.output(byte);
    },
  }));
  // `source`: a lazy module's real source, when Python first uses it (lazy-modules.ts).
  vm.registerJsModule('_qsim', { call: options.bridge, source: (name: string) => MODULE_SOURCES.get(name) ?? '' });
  const stdin: PortStdinHooks = {
    ...options.stdin,
    bridge: options.bridge,
    interruptChar: () => vm._module._mp_hal_get_interrupt_char(),
    scheduleKeyboardInterrupt: () => vm._module._mp_sched_keyboard_interrupt(),
  };
  vm.FS.getDevice(vm.FS.stat('/dev/stdin').rdev).stream_ops.read = (_stream, buffer, offset, length) =>
    readPortStdin(stdin, buffer, offset, length);
  if (options.filesystemDir) {
    mountHostFolder(vm.FS as unknown as EmscriptenFs, join(options.filesystemDir, USER_FOLDER.slice(1)), USER_FOLDER);
  } else {
    vm.FS.mkdir(USER_FOLDER);
  }
  vm.FS.mkdir('/qsim');
  for (const [name, source] of QUECPYTHON_MODULES) vm.FS.writeFile(`/qsim/_qs_${name}.py`, EAGER_MODULES.has(name) ? source : LAZY_STUB);
  vm.FS.mkdir('/lib');
  vm.FS.writeFile('/lib/time.py', TIME_BLOCKER);
  vm.runPython(installerSource());
  return vm;
}
