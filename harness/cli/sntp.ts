/**
 * `qhil sntp <server...> [--samples N] [--key <id>:<type>:<hex>] [--key-file F] [--key-id N]
 *  [--timeout 5s] [--max-distance 16s] [--max-offset 24h] [--json]`: the reference query on its own.
 * The query (clock/, sockets) loads when it runs (sntp-action.ts), not for its --help.
 */
import type { Command } from 'commander';
import type { CliCommand, CliIo, ExitCode } from './command.js';

export interface SntpFlags {
  samples?: string;
  key: string[];
  keyFile?: string;
  keyId?: string;
  timeout: string;
  maxDistance?: string;
  maxOffset?: string;
  json?: boolean;
}

/**
 * Text from the network (and argv) made safe for a terminal: every control character but the
 * newline, DEL, the C1 controls (0x9b is CSI on some terminals) and the bidirectional overrides
 * become visible \u escapes, so no reply can move the cursor, set the title or write the clipboard.
 */
export function terminalText(text: string): string {
  return text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (char) =>
    `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export const sntpCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit: (code: ExitCode) => void): void {
    program
      .command('sntp')
      .description('query NTP servers the way the reference check does, and print what each said')
      .argument('<server...>', "host, host:port, [v6addr]:port (default port 123)")
      .option('--samples <n>', 'samples per server (the lowest-delay one is kept); default 4')
      .addOption(
        program.createOption('--key <id:type:hex>', 'authenticate with this key (type MD5, SHA1 or AES128); repeatable')
          .default([])
          .argParser((value: string, previous: string[]) => [...previous, value]),
      )
      .option('--key-file <file>', "chrony-format key file ('1 SHA1 HEX:...')")
      .option('--key-id <n>', 'which key to use (default: the first --key, else the first in --key-file)')
      .option('--timeout <duration>', 'deadline for the whole query', '5s')
      .option('--max-distance <duration>', "largest root distance believed (default 16s, like chrony)")
      .option('--max-offset <duration>', 'largest offset from the host clock believed (default 24h)')
      .option('--json', 'print the whole result as JSON')
      .action(async (serverArgs: string[], flags: SntpFlags) => {
        setExit(await (await import('./sntp-action.js')).runSntp(serverArgs, flags, io));
      });
  },
};
