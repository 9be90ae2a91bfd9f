import type { Command } from 'commander';
import type { CliCommand, CliIo } from './command.js';

export interface RunFlags {
  rig?: string;
  board?: string;
  at?: string;
  repl?: string;
  apn?: string;
  profile?: string;
  offset?: string;
  out: string;
  reference: string[];
  samples?: string;
  tag: string[];
  json?: boolean;
  wait?: string;
  lockDir?: string;
  pdf?: boolean;
  browser?: string;
  concurrency?: string;
  shard?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `qhil run`: its options here, its work in run-action.ts, loaded when it runs (not for --help). */
export const runCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit) {
    program
      .command('run')
      .description('run scenarios on boards and write reports')
      .argument('<scenario...>', 'scenario files (YAML)')
      .option('--rig <rig.yaml>', 'boards from a rig file')
      // program.createOption, not `new Option`: commander's classes come with the program (see main.ts).
      .addOption(program.createOption('--board <kind>', 'a built-in board').choices(['sim']))
      .option('--at <port>', "the board's AT port: device path or tcp://host:port")
      .option('--repl <port>', "the board's QuecPython REPL port: device path or tcp://host:port")
      .option('--apn <apn>', 'APN for dial steps (with --at/--repl)')
      .option('--profile <file|name>', 'simulated board profile (with --board sim)')
      .option('--offset <duration>', "simulated board's clock offset, e.g. 5s (with --board sim)")
      .option('--out <dir>', 'folder for run folders', 'reports')
      .option('--reference <host[:port]>', 'reference NTP server (repeatable); wins over rig and scenario', collect, [])
      .option('--samples <n>', 'reference samples per server')
      .option('--tag <tag>', 'run only scenarios with this tag (repeatable)', collect, [])
      .option('--json', 'print the run result as JSON instead of the table')
      .option('--wait <duration>', 'queue this long for a board another run holds (default: ERROR at once, naming the holder)')
      .option('--lock-dir <dir>', 'board lease folder (default $QHIL_LOCK_DIR, the rig\'s lock-dir, /tmp/qhil-leases)')
      .option('--pdf', 'also print report.pdf (A4, sign-off) with Chromium; no browser: no PDF, same exit code')
      .option('--browser <path>', 'Chromium for --pdf (default $QHIL_BROWSER, else /usr/bin/chromium)')
      .option('--concurrency <n>', "at most n boards at once (wins over the rig's concurrency:); default all")
      .option('--shard <i/n>', 'run only shard i of n of the board × scenario work (n hosts or CI jobs); merge with qhil report')
      .action(async (files: string[], flags: RunFlags) => {
        setExit(await (await import('./run-action.js')).runFromFlags(files, flags, io));
      });
  },
};
