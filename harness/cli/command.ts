import type { Command } from 'commander';

/** Exit codes are a contract (DESIGN.md): scripts and CI rely on them. */
export const ExitCode = {
  /** Every test passed (or the command did what it was asked). */
  Ok: 0,
  /** A test failed: the board misbehaved. */
  TestFailed: 1,
  /** Bad input (scenario, rig, flags): nothing was run. */
  BadInput: 2,
  /** Infrastructure (port missing, reference unreachable) prevented a verdict. */
  Infrastructure: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Where a command writes; injectable so tests can capture output without spawning a process. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when stdout is a terminal (and not CI): live progress instead of plain lines. */
  interactive: boolean;
}

/**
 * Start-up: `qhil <command>` imports only that command's file (and what it imports); `qhil --help`
 * imports none. So a new command is one entry in `commands` (index.ts): its name, usage and
 * description as `qhil --help` lists them, and `load: async () => (await import('./x.js')).xCommand`.
 * Never import a command file statically from another module the CLI loads. A command file declares
 * the command (options, usage) and imports at the top nothing but commander and what `qhil --help`
 * loads already (this file, core/errors): `qhil x --help` loads that and no more. Its action
 * `await import()`s the work (`./x-action.js`, a channel, the runner), and a dependency only some runs
 * use (execa, xmlbuilder2, the PDF printer) is imported where it is used. index.test.ts checks both.
 *
 * One CLI command per file. `register` adds the command to the program; its action must resolve to
 * an exit code through `setExit` rather than calling process.exit, so tests can run commands in-process.
 */
export interface CliCommand {
  register(program: Command, io: CliIo, setExit: (code: ExitCode) => void): void;
}
