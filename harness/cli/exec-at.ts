import { errorMessage, faultOf } from '../core/errors.js';
import { AtChannel } from '../channel/at/channel.js';
import { describeFailure } from '../channel/at/errors.js';
import type { Link } from '../link/link.js';
import { openLink } from '../link/open.js';
import { ExitCode, type CliIo } from './command.js';
import { execOutput, exitCodeOfFault } from './exec-output.js';

/**
 * `qhil exec --at <port> <command>`: the command's intermediate lines on stdout; ERROR or
 * `+CME ERROR: <n>` with its meaning on stderr and exit 1; a board that never answers, a port that
 * cannot be opened or vanishes, exit 3. The deadline is `timeoutMs` when given, else Quectel's maximum
 * response time for the command. Control characters the board sent are shown escaped unless `raw`.
 */
export async function execAt(
  address: string,
  command: string,
  io: CliIo,
  options: { timeoutMs?: number; transcriptPath?: string; raw?: boolean },
): Promise<ExitCode> {
  const out = execOutput(io, options.raw ?? false);
  const line = command.trim();
  if (!/^AT/i.test(line) || /[\r\n]/.test(line)) {
    out.diagnostic(`qhil exec: ${JSON.stringify(command)} is not one AT command line (it must start with AT)\n`);
    return ExitCode.BadInput;
  }
  let link: Link | undefined;
  try {
    link = await openLink(address, { transcriptPath: options.transcriptPath });
    const channel = new AtChannel(link, { transcriptPath: options.transcriptPath });
    const result = await channel.execute(line, { timeoutMs: options.timeoutMs });
    for (const text of result.lines) out.answer(`${text}\n`);
    if (result.final === 'OK') return ExitCode.Ok;
    out.boardError(`${address}: ${line}: ${describeFailure(result)}\n`);
    return ExitCode.TestFailed;
  } catch (error) {
    const fault = faultOf(error);
    out.diagnostic(`qhil exec: ${fault === 'harness' ? 'qhil itself failed (a bug, please report it): ' : ''}${errorMessage(error)}\n`);
    return exitCodeOfFault(fault);
  } finally {
    await link?.close().catch(() => undefined);
  }
}
