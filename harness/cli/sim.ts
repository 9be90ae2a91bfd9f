/**
 * `qhil sim [--profile <file|name>] [--tcp <port> | --pty] [--offset <duration>] [--fault <name>...]
 *  [--host <name=ip[:port]>...] [--control <socket>]`: a simulated Quectel board you can point any
 * serial tool at, its power switch on `--control` (driven by `qhil sim power <on|off|cycle>`). Prints
 * where its ports are, runs until SIGINT/SIGTERM/SIGHUP, then stops socat and removes its temp folder.
 * Killed outright (SIGKILL), its socat die with it (parent-death signal, see sim/serve.ts); only the
 * temp folder is left.
 */
import type { Command } from 'commander';
import { ExitCode, type CliCommand, type CliIo, durationFlagMs } from './command.js';
import { InputError } from '../core/errors.js';
import { parseFault } from '../sim/faults.js';
import type { ServedBoard } from '../sim/serve.js';
import { POWER_SWITCH_ACTIONS, requestPower, serveControlSocket, type ControlSocket, type PowerSwitchAction } from '../sim/control-socket.js';

interface SimFlags {
  profile: string;
  tcp?: string;
  pty?: boolean;
  offset?: string;
  fault: string[];
  host: string[];
  control?: string;
}

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

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export const simCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit: (code: ExitCode) => void): void {
    const sim = program
      .command('sim')
      .description('start a simulated Quectel board (QuecPython REPL + AT port) and print where its ports are')
      .option('--profile <file|name>', 'board profile: a YAML file or a name in fixtures/sim', 'ec200u')
      .option('--pty', 'serve the ports on pseudo-terminals (socat); the default')
      .option('--tcp <port>', 'serve the REPL on tcp://127.0.0.1:<port> and AT on the next port (0: any free ports)')
      .option('--offset <duration>', "the board clock's offset from UTC at start, e.g. -2.5s")
      .option('--fault <name>', 'inject a fault from power-on (repeatable): no-sim, clock-drift=40, ...', collect, [])
      .option('--host <name=ip[:port]>', 'a name the board resolves, loopback only (repeatable)', collect, [])
      .option('--control <socket>', "serve the board's power switch on this Unix socket (see qhil sim power)")
      .action(async (flags: SimFlags) => {
        const options = simOptionsFromFlags(flags);
        const controller = new AbortController();
        const onSignal = (): void => controller.abort();
        // `on`, not `once`: execa's exit hook (signal-exit) re-raises a signal when it finds no other
        // listener left, and a `once` listener is already gone when it looks; that killed the process
        // before socat was stopped.
        // SIGHUP too: a closed terminal stops the board in order rather than killing it mid-way.
        const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
        for (const signal of signals) process.on(signal, onSignal);
        try {
          setExit(await runSim(options, io, controller.signal));
        } finally {
          for (const signal of signals) process.off(signal, onSignal);
        }
      });
    // `--control` is the parent's option (commander gives it to `sim` wherever it stands).
    sim
      .command('power')
      .description('switch a running simulated board off, on, or off and on (its --control socket)')
      .argument('<action>', POWER_SWITCH_ACTIONS.join(' | '))
      .action(async (action: string, _flags: unknown, command: Command) => {
        const controlPath = (command.parent?.opts() as SimFlags | undefined)?.control;
        if (!controlPath) throw new InputError('qhil sim power: give --control <socket> (the one qhil sim --control serves)');
        if (!POWER_SWITCH_ACTIONS.includes(action as PowerSwitchAction)) throw new InputError(`qhil sim power ${action}: expected on, off or cycle`);
        await requestPower(controlPath, action as PowerSwitchAction);
        io.stdout(`power ${action}: done\n`);
        setExit(ExitCode.Ok);
      });
  },
};
