/**
 * `qhil sim [--profile <file|name>] [--tcp <port> | --pty] [--offset <duration>] [--fault <name>...]
 *  [--host <name=ip[:port]>...] [--control <socket>]`: a simulated Quectel board you can point any
 * serial tool at, its power switch on `--control` (driven by `qhil sim power <on|off|cycle>`). Prints
 * where its ports are, runs until SIGINT/SIGTERM/SIGHUP, then stops socat and removes its temp folder.
 * Killed outright (SIGKILL), its socat die with it (parent-death signal, see sim/serve.ts); only the
 * temp folder is left. The simulator loads when it runs (sim-action.ts), not for its --help.
 */
import type { Command } from 'commander';
import { InputError } from '../core/errors.js';
import { ExitCode, type CliCommand, type CliIo } from './command.js';

export interface SimFlags {
  profile: string;
  tcp?: string;
  pty?: boolean;
  offset?: string;
  fault: string[];
  host: string[];
  control?: string;
}

/** POWER_SWITCH_ACTIONS (sim/control-socket.ts) as the usage shows them; index.test.ts checks they agree. */
export const POWER_ACTIONS_USAGE = 'on | off | cycle';

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
        const { runSim, simOptionsFromFlags } = await import('./sim-action.js');
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
      .argument('<action>', POWER_ACTIONS_USAGE)
      .action(async (action: string, _flags: unknown, command: Command) => {
        const controlPath = (command.parent?.opts() as SimFlags | undefined)?.control;
        if (!controlPath) throw new InputError('qhil sim power: give --control <socket> (the one qhil sim --control serves)');
        const { POWER_SWITCH_ACTIONS, requestPower } = await import('../sim/control-socket.js');
        const known = POWER_SWITCH_ACTIONS.find((name) => name === action);
        if (!known) throw new InputError(`qhil sim power ${action}: expected on, off or cycle`);
        await requestPower(controlPath, known);
        io.stdout(`power ${action}: done\n`);
        setExit(ExitCode.Ok);
      });
  },
};
