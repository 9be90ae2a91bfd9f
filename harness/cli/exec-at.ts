import { BoardError, errorMessage, InputError } from '../core/errors.js';
import { AtChannel } from '../channel/at/channel.js';
import { describeFailure } from '../channel/at/errors.js';
import type { Link } from '../link/link.js';
import { openLink } from '../link/open.js';
import { ExitCode, type CliIo } from './command.js';

/**
 * `qhil exec --at <port> <command>`: the command's intermediate lines on stdout; ERROR or
 * `+CME ERROR: <n>` with its meaning on stderr and exit 1 (also when the board never answers: its
 * fault); a port that cannot be opened or vanishes, exit 3. The deadline is `timeoutMs` when given,
 * else Quectel's maximum response time for the command.
 */
export async function execAt(
  address: string,
  command: string,
  io: CliIo,
  options: { timeoutMs?: number; transcriptPath?: string },
): Promise<ExitCode> {
  const line = command.trim();
  if (!/^AT/i.test(line) || /[\r\n]/.test(line)) {
    io.stderr(`qhil exec: ${JSON.stringify(command)} is not one AT command line (it must start with AT)\n`);
    return ExitCode.BadInput;
  }
  let link: Link | undefined;
  try {
    link = await openLink(address, { transcriptPath: options.transcriptPath });
    const channel = new AtChannel(link, { transcriptPath: options.transcriptPath });
    const result = await channel.execute(line, { timeoutMs: options.timeoutMs });
    for (const text of result.lines) io.stdout(`${text}\n`);
    if (result.final === 'OK') return ExitCode.Ok;
    io.stderr(`${address}: ${line}: ${describeFailure(result)}\n`);
    return ExitCode.TestFailed;
  } catch (error) {
    io.stderr(`qhil exec: ${errorMessage(error)}\n`);
    if (error instanceof InputError) return ExitCode.BadInput;
    return error instanceof BoardError ? ExitCode.TestFailed : ExitCode.Infrastructure;
  } finally {
    await link?.close().catch(() => undefined);
  }
}
