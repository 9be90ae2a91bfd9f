/**
 * A rig board's power commands (`power: { on, off, cycle, timeout }`): argument arrays run with execa,
 * never through a shell, each with its timeout; what they print is appended to the board's power
 * transcript (`transcripts/<board>-power.log`) with the time, so a report shows what the relay said.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { InfrastructureError, InputError } from '../core/errors.js';
import type { PowerSpec } from '../core/model.js';
import { quoted } from '../core/quote.js';

export type PowerAction = 'on' | 'off' | 'cycle';

/** What a power command may print before it is cut off: a relay tool says a line or two. */
const MAX_OUTPUT_BYTES = 256 * 1024;
/** After its timeout a command gets SIGTERM, then this long before SIGKILL. */
const KILL_GRACE_MS = 2000;

/** The commands that perform `action`: `cycle`, or `off` then `on` when the rig has no cycle command. */
export function powerCommands(power: PowerSpec | undefined, action: PowerAction): string[][] | undefined {
  if (!power) return undefined;
  if (action === 'cycle') return power.cycle ? [power.cycle] : power.off && power.on ? [power.off, power.on] : undefined;
  const command = power[action];
  return command ? [command] : undefined;
}

function note(transcriptPath: string, text: string): void {
  try {
    mkdirSync(dirname(transcriptPath), { recursive: true });
    appendFileSync(transcriptPath, text);
  } catch {
    // The transcript is evidence, not the action: a full disk is reported by the run's own writes.
  }
}

/**
 * Runs the board's `action` commands in order. Throws InputError when the rig declares none for it,
 * InfrastructureError when one fails, times out, or the run is stopped (the rig's fault either way).
 */
export async function runPower(boardId: string, power: PowerSpec | undefined, action: PowerAction, options: { transcriptPath: string; signal?: AbortSignal }): Promise<string> {
  const commands = powerCommands(power, action);
  if (!commands || !power) throw new InputError(`board ${boardId} has no power commands for ${action}: add power: { cycle: [...] } (or off and on) to its rig entry`);
  const summaries: string[] = [];
  for (const [file, ...args] of commands) {
    const shown = [file, ...args].map((arg) => (/^[\w./:=@%+-]+$/.test(arg ?? '') ? arg : quoted(arg ?? ''))).join(' ');
    note(options.transcriptPath, `${new Date().toISOString()} power ${action}: $ ${shown}\n`);
    const startedMs = performance.now();
    const result = await execa(file as string, args, {
      reject: false,
      all: true,
      stdin: 'ignore',
      timeout: power.timeoutMs,
      forceKillAfterDelay: KILL_GRACE_MS,
      maxBuffer: MAX_OUTPUT_BYTES,
      cancelSignal: options.signal,
      stripFinalNewline: false,
    });
    const tookMs = Math.round(performance.now() - startedMs);
    const output = typeof result.all === 'string' ? result.all : '';
    note(options.transcriptPath, `${output}${output.endsWith('\n') || output === '' ? '' : '\n'}${new Date().toISOString()} power ${action}: ${result.timedOut ? 'timed out' : `exit ${result.exitCode ?? result.signal ?? '?'}`} after ${tookMs}ms\n`);
    if (result.isCanceled) throw new InfrastructureError(`power ${action} of board ${boardId}: the run was stopped while ${shown} ran`);
    if (result.timedOut) throw new InfrastructureError(`power ${action} of board ${boardId}: ${shown} did not finish within ${power.timeoutMs}ms`);
    if (result.failed) {
      const why = result.exitCode !== undefined ? `exit code ${result.exitCode}` : result.signal ? `killed by ${result.signal}` : 'it could not be started';
      throw new InfrastructureError(`power ${action} of board ${boardId}: ${shown} failed (${why}): ${quoted(output.trim().slice(-300), 300)}`);
    }
    summaries.push(`${shown} (${tookMs}ms)`);
  }
  return summaries.join(', then ');
}
