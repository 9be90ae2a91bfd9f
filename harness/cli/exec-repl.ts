import { errorMessage, faultOf } from '../core/errors.js';
import type { ReplChannel } from '../channel/repl/repl.js';
import { ExitCode, type CliIo } from './command.js';
import { execOutput, exitCodeOfFault } from './exec-output.js';

/**
 * `qhil exec --repl <port> <python>`: stdout to stdout, a traceback to stderr and exit 1. Control
 * characters in the board's output are shown escaped unless `raw` (exec-output.ts).
 */
export async function execRepl(
  address: string,
  code: string,
  io: CliIo,
  options: { timeoutMs: number; transcriptPath?: string; raw?: boolean },
): Promise<ExitCode> {
  const out = execOutput(io, options.raw ?? false);
  // The REPL's modules load here, so `qhil exec --at` and `--help` do without them (and --repl without the AT channel's).
  const [{ PythonError, ReplChannel }, { openLink }] = await Promise.all([import('../channel/repl/repl.js'), import('../link/open.js')]);
  let repl: ReplChannel | undefined;
  try {
    const link = await openLink(address, { transcriptPath: options.transcriptPath });
    repl = new ReplChannel(link, { transcriptPath: options.transcriptPath });
    const result = await repl.exec(code, { timeoutMs: options.timeoutMs });
    out.answer(result.stdout);
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof PythonError) {
      out.answer(error.stdout);
      out.boardError(error.traceback.endsWith('\n') ? error.traceback : `${error.traceback}\n`);
      return ExitCode.TestFailed;
    }
    const fault = faultOf(error);
    out.diagnostic(`qhil exec: ${fault === 'harness' ? 'qhil itself failed (a bug, please report it): ' : ''}${errorMessage(error)}\n`);
    return exitCodeOfFault(fault);
  } finally {
    await repl?.close().catch(() => undefined);
  }
}
