/** What `qhil sim` does (sim.ts declares it): a simulated board on PTYs or TCP until stopped. */
import { InputError } from '../core/errors.js';
import { parseFault } from '../sim/faults.js';
import type { ServedBoard } from '../sim/serve.js';
import { serveControlSocket, type ControlSocket } from '../sim/control-socket.js';
import { ExitCode, type CliIo } from './command.js';
import { durationFlagMs } from './flags.js';
import type { SimFlags } from './sim.js';

export interface SimRunOptions {
  profile: string;
  transport: { kind: 'pty' } | { kind: 'tcp'; replPort: number };
  clockOffsetMs?: number;
  faults: string[];
  hosts: Record<string, string>;
  /** A Unix socket for the board's power switch (`qhil sim power <on|off|cycle> --control <socket>`). */
  controlPath?: string;
}

/** Flags to options; every mistake is an InputError (exit 2) before anything starts. */
export function simOptionsFromFlags(flags: SimFlags): SimRunOptions {
  if (flags.tcp !== undefined && flags.pty) throw new InputError('--tcp and --pty: choose one');
  let transport: SimRunOptions['transport'] = { kind: 'pty' };
  if (flags.tcp !== undefined) {
    const replPort = /^\d+$/.test(flags.tcp) ? Number(flags.tcp) : Number.NaN;
    if (!(replPort >= 0 && replPort <= 65534)) throw new InputError(`--tcp: expected a port 0-65534 (AT is served on the next one), got "${flags.tcp}"`);
    transport = { kind: 'tcp', replPort };
  }
  let clockOffsetMs: number | undefined;
  if (flags.offset !== undefined) clockOffsetMs = durationFlagMs('--offset', flags.offset);
  flags.fault.forEach((fault) => parseFault(fault));
  const hosts: Record<string, string> = {};
  for (const entry of flags.host) {
    const match = /^([^=\s]+)=(\S+)$/.exec(entry);
    if (!match) throw new InputError(`--host: expected name=ip[:port], got "${entry}"`);
    hosts[match[1] ?? ''] = match[2] ?? '';
  }
  return { profile: flags.profile, transport, clockOffsetMs, faults: flags.fault, hosts, ...(flags.control !== undefined && { controlPath: flags.control }) };
}

/** Runs a simulated board until `stop` aborts; resolves to the exit code. */
export async function runSim(options: SimRunOptions, io: CliIo, stop: AbortSignal): Promise<ExitCode> {
  // The simulator (zod, yaml, execa, the VM) loads when a board starts, not for `qhil sim --help`.
  const [{ startSimBoard }, { servePty, serveTcp }] = await Promise.all([import('../sim/board.js'), import('../sim/serve.js')]);
  const board = await startSimBoard({
    profile: options.profile,
    clockOffsetMs: options.clockOffsetMs,
    faults: options.faults,
    hosts: options.hosts,
    onLog: (message) => io.stderr(`sim: ${message}\n`),
  });
  let served: ServedBoard | undefined;
  let control: ControlSocket | undefined;
  try {
    if (options.controlPath) control = await serveControlSocket(board, options.controlPath, (message) => io.stderr(`sim: ${message}\n`));
    served =
      options.transport.kind === 'pty'
        ? await servePty(board, { onLog: (message) => io.stderr(`sim: ${message}\n`) })
        : await serveTcp(board, { replPort: options.transport.replPort });
    io.stdout(`repl: ${served.ports.repl}\n`);
    io.stdout(`at: ${served.ports.at}\n`);
    if (control) io.stdout(`control: ${control.path}\n`);
    io.stdout(`board: ${board.profile.model}, QuecPython ${board.profile.quecpython.version}, firmware ${board.profile.firmware}\n`);
    if (!stop.aborted) await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    await control?.close();
    await served?.close();
    await board.close();
  }
  return ExitCode.Ok;
}

