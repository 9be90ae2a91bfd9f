import { describe, expect, it } from 'vitest';
import type { AtChannel } from '../channel/at/channel.js';
import type { ReplChannel } from '../channel/repl/repl.js';
import { BoardError, faultOf } from '../core/errors.js';
import { PatternError } from '../core/pattern.js';
import { atStep } from './at.js';
import { replStep } from './repl.js';
import type { StepBoard, StepContext } from './step.js';

/** A context whose board answers every AT command and every piece of code with `answer`. */
function contextAnswering(answer: string): StepContext {
  const board: Partial<StepBoard> = {
    id: 'fake',
    ports: ['repl', 'at'],
    atChannel: () => ({ send: () => Promise.resolve({ lines: [answer] }) }) as unknown as AtChannel,
    replChannel: () => ({ exec: () => Promise.resolve({ stdout: `${answer}\r\n` }) }) as unknown as ReplChannel,
  };
  return {
    board: board as StepBoard,
    values: new Map(),
    queryReference: () => Promise.reject(new Error('not used')),
    reference: undefined,
    signal: new AbortController().signal,
    timeLeftMs: () => 10_000,
    log: () => undefined,
  };
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the step to throw');
}

const EVIL = '^(a+)+$';
const EVIL_OUTPUT = `${'a'.repeat(40)}b`;

describe('repl and at steps: user patterns cannot hang the run', () => {
  it('repl match: a catastrophic pattern is the scenario\'s PatternError, within about a second, not a hang or a FAIL', async () => {
    const args = replStep.schema.parse({ code: 'print(x)', match: EVIL });
    const started = performance.now();
    const error = await errorOf(replStep.run(contextAnswering(EVIL_OUTPUT), args));
    expect(error).toBeInstanceOf(PatternError);
    expect(faultOf(error)).toBe('input');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('at expect: the same', async () => {
    const args = atStep.schema.parse({ command: 'AT+X', expect: EVIL });
    const error = await errorOf(atStep.run(contextAnswering(EVIL_OUTPUT), args));
    expect(error).toBeInstanceOf(PatternError);
  });

  it('still passes a match and fails (the board) a mismatch', async () => {
    await expect(replStep.run(contextAnswering('café 中'), replStep.schema.parse({ code: 'print(1)', expect: '^café' }))).resolves.toMatchObject({
      message: 'printed "café 中"',
    });
    const mismatch = await errorOf(atStep.run(contextAnswering('+CSQ: 0,99'), atStep.schema.parse({ command: 'AT+CSQ', expect: '^\\+CSQ: [1-9]' })));
    expect(mismatch).toBeInstanceOf(BoardError);
  });

  it('checks patterns when the scenario loads, at the argument', () => {
    expect(replStep.schema.safeParse({ code: 'x', expect: '(' }).error?.issues).toEqual([
      expect.objectContaining({ path: ['expect'], message: expect.stringMatching(/^not a regular expression: /) }),
    ]);
    expect(atStep.schema.safeParse({ command: 'AT', expect: '[' }).error?.issues).toEqual([
      expect.objectContaining({ path: ['expect'], message: expect.stringMatching(/^not a regular expression: /) }),
    ]);
  });
});

describe('step declarations', () => {
  it('say what each step leaves and needs', async () => {
    const { readTimeStep } = await import('./read-time.js');
    const { compareStep } = await import('./compare.js');
    const { syncStep } = await import('./sync.js');
    const { waitStep } = await import('./wait.js');
    expect(readTimeStep.produces?.(readTimeStep.schema.parse({}))).toEqual([{ name: 'time', kind: 'localtime' }]);
    expect(compareStep.consumes?.(compareStep.schema.parse({ read: 't1', 'zone-from': 'cclk' })).map((need) => need.name)).toEqual(['t1', 'cclk']);
    expect(compareStep.needsReference?.(compareStep.schema.parse({}))).toBe(true);
    expect(syncStep.ntpHosts?.(syncStep.schema.parse({ server: 'ntp.aliyun.com' }))).toEqual(['ntp.aliyun.com']);
    expect(syncStep.ntpHosts?.(syncStep.schema.parse({}))).toEqual([]);
    expect(waitStep.minimumDurationMs?.(waitStep.schema.parse({ for: '3s' }))).toBe(3000);
    expect(replStep.produces?.(replStep.schema.parse({ code: 'x', as: 'out' }))).toEqual([{ name: 'out', kind: 'text' }]);
  });
});
