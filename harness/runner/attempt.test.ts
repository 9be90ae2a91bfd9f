import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BoardError, InfrastructureError, InputError } from '../core/errors.js';
import type { ReferenceResult } from '../clock/reference.js';
import type { StepContext, StepDefinition, StepReport } from '../steps/step.js';
import { fakeBoard } from '../testing/fake-board.js';
import { runStep, type StepEnvironment, type StepLimits } from './attempt.js';

function step(run: (context: StepContext, attempt: number) => Promise<StepReport>): StepDefinition & { attempts: number } {
  const definition = {
    kind: 'probe',
    summary: 'test step',
    schema: z.object({ retries: z.number() }),
    defaultTimeoutMs: 1000,
    describe: () => 'probe',
    attempts: 0,
    run: (context: StepContext) => run(context, ++definition.attempts),
  };
  return definition;
}

function environment(over: Partial<StepEnvironment> = {}): StepEnvironment & { bytes: { n: number } } {
  const bytes = { n: 0 };
  const board = fakeBoard({ id: 'b1', fields: {} }, { ports: ['at'] });
  return {
    board: board.board,
    values: new Map(),
    reference: undefined,
    queryReference: () => new Promise<ReferenceResult>(() => undefined),
    bytesFromBoard: () => bytes.n,
    boardOnHost: false,
    needsReconnect: () => false,
    reconnect: async () => undefined,
    reconnectWaitMs: 1000,
    hostStallMs: () => 0,
    log: () => undefined,
    bytes,
    ...over,
  };
}

function limits(over: Partial<StepLimits> = {}): StepLimits {
  return { stepLimitMs: 200, scenarioDeadlineMs: performance.now() + 60_000, scenarioLabel: 'scenario s (timeout 1m)', stepLabel: 'step probe', retries: 0, ...over };
}

/** A step that waits for its signal, as a well-behaved step stuck on a board would. */
function untilAborted(context: StepContext): Promise<StepReport> {
  return new Promise((_, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason as Error), { once: true }));
}

describe('runStep: retry only the rig, with back-off', () => {
  it('retries an infrastructure error and passes when it clears', async () => {
    const probe = step(async (_, attempt) => {
      if (attempt < 3) throw new InfrastructureError('port gone');
      return { message: 'ok' };
    });
    const retried: number[] = [];
    const outcome = await runStep(probe, { retries: 2 }, environment(), limits({ retries: 2 }), (attempt) => retried.push(attempt));
    expect(outcome).toMatchObject({ outcome: 'PASS', attempts: 3 });
    expect(retried).toEqual([1, 2]);
  });

  it('never retries a FAIL, an input error or a harness bug', async () => {
    for (const error of [new BoardError('ERROR'), new InputError('no reading'), new TypeError('x is undefined')]) {
      const probe = step(async () => {
        throw error;
      });
      const outcome = await runStep(probe, { retries: 3 }, environment(), limits({ retries: 3 }));
      expect(outcome.attempts).toBe(1);
      expect(probe.attempts).toBe(1);
    }
  });

  it('a harness bug carries its stack and is reported as such', async () => {
    const probe = step(async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'localtime')");
    });
    const outcome = await runStep(probe, { retries: 2 }, environment(), limits({ retries: 2 }));
    expect(outcome).toMatchObject({ outcome: 'ERROR', fault: 'harness', attempts: 1 });
    expect(outcome.harnessBug?.stack).toMatch(/TypeError/);
  });

  it('gives up after its retries with the last error', async () => {
    const probe = step(async (_, attempt) => {
      throw new InfrastructureError(`gone ${attempt}`);
    });
    const outcome = await runStep(probe, { retries: 1 }, environment(), limits({ retries: 1 }));
    expect(outcome).toMatchObject({ outcome: 'ERROR', fault: 'rig', attempts: 2, message: 'gone 2' });
  });
});

describe('runStep: deadlines, and whose fault a timeout is', () => {
  it('ends a step that ignores its signal at the deadline', async () => {
    const probe = step(() => new Promise<StepReport>(() => undefined));
    const startedAt = performance.now();
    const outcome = await runStep(probe, { retries: 0 }, environment(), limits({ stepLimitMs: 100 }));
    expect(performance.now() - startedAt).toBeLessThan(1000);
    expect(outcome.outcome).toBe('ERROR');
    expect(outcome.message).toMatch(/step probe did not finish within 100ms.*sent nothing/);
  });

  it('a board that sent bytes, then went quiet past the deadline, FAILs', async () => {
    const env = environment();
    const probe = step((context) => {
      env.bytes.n += 30;
      return untilAborted(context);
    });
    const outcome = await runStep(probe, { retries: 2 }, env, limits({ stepLimitMs: 100, retries: 2 }));
    expect(outcome).toMatchObject({ outcome: 'FAIL', fault: 'board', attempts: 1 });
  });

  it('a deadline spent on the reference query is the rig', async () => {
    const env = environment();
    const probe = step(async (context) => {
      env.bytes.n += 30;
      await context.queryReference();
      return {};
    });
    const outcome = await runStep(probe, { retries: 0 }, env, limits({ stepLimitMs: 150 }));
    expect(outcome).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(outcome.message).toMatch(/waiting for the reference clock/);
  });

  it('a deadline spent on a reference query that stops on abort is still the rig, said so', async () => {
    const env = environment({
      queryReference: (signal) => new Promise<ReferenceResult>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })),
    });
    const probe = step(async (context) => {
      await context.queryReference();
      return {};
    });
    const outcome = await runStep(probe, { retries: 0 }, env, limits({ stepLimitMs: 150 }));
    expect(outcome).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(outcome.message).toMatch(/waiting for the reference clock/);
    expect(outcome.message).not.toMatch(/cabled/);
  });

  it('a stalled host is ERROR saying so', async () => {
    const env = environment({ hostStallMs: () => 900 });
    const probe = step((context) => {
      env.bytes.n += 30;
      return untilAborted(context);
    });
    const outcome = await runStep(probe, { retries: 0 }, env, limits({ stepLimitMs: 100 }));
    expect(outcome).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(outcome.message).toMatch(/overloaded/);
  });

  it("the scenario's deadline caps the attempt and names the scenario", async () => {
    const probe = step((context) => untilAborted(context));
    const outcome = await runStep(probe, { retries: 0 }, environment(), limits({ stepLimitMs: 10_000, scenarioDeadlineMs: performance.now() + 100 }));
    expect(outcome.message).toMatch(/scenario s \(timeout 1m\) did not finish within/);
  });

  it('does not retry past the scenario deadline', async () => {
    const probe = step(async () => {
      throw new InfrastructureError('port gone');
    });
    const outcome = await runStep(probe, { retries: 10 }, environment(), limits({ retries: 10, scenarioDeadlineMs: performance.now() + 400 }));
    expect(probe.attempts).toBeLessThan(5);
    expect(outcome).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
  });

  it("what a reopened port said (the probe's prompt) is not the board answering the step", async () => {
    let reconnected = false;
    const env = environment({
      needsReconnect: () => !reconnected,
      reconnect: async () => {
        reconnected = true;
        env.bytes.n += 40; // the probe's ">>> " and boot text
      },
    });
    const probe = step((context) => untilAborted(context));
    const outcome = await runStep(probe, { retries: 0 }, env, limits({ stepLimitMs: 150 }));
    expect(outcome).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(outcome.message).toMatch(/sent nothing/);
  });

  it("a retry the scenario has no time left for keeps the last attempt's error", async () => {
    const probe = step(async () => {
      throw new InfrastructureError('tcp://10.0.0.9:7000: connection refused');
    });
    const outcome = await runStep(probe, { retries: 5 }, environment(), limits({ retries: 5, scenarioDeadlineMs: performance.now() + 300 }));
    expect(outcome).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(outcome.message).toMatch(/connection refused; no time left in scenario s \(timeout 1m\) to try again/);
  });

  it('a vanished port is reopened before the step, and the time spent is the rig', async () => {
    const env = environment({ needsReconnect: () => true, reconnect: () => new Promise(() => undefined) });
    const probe = step(async () => ({}));
    const outcome = await runStep(probe, { retries: 0 }, env, limits({ stepLimitMs: 100 }));
    expect(probe.attempts).toBe(0);
    expect(outcome).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(outcome.message).toMatch(/port to come back/);
  });
});

describe('runStep: a stopped run', () => {
  it('stops the step at once and does not retry', async () => {
    const controller = new AbortController();
    const probe = step((context) => untilAborted(context));
    setTimeout(() => controller.abort(), 50);
    const startedAt = performance.now();
    const outcome = await runStep(probe, { retries: 3 }, environment({ runSignal: controller.signal }), limits({ stepLimitMs: 10_000, retries: 3 }));
    expect(performance.now() - startedAt).toBeLessThan(1000);
    expect(outcome).toMatchObject({ outcome: 'ERROR', attempts: 1 });
    expect(outcome.message).toMatch(/stopped/);
  });
});

describe('runStep: outcomes the step reports', () => {
  it('a failed measurement is a FAIL, the board', async () => {
    const probe = step(async () => ({
      measurements: [{ name: 'offset', value: 5000, unit: 'ms', low: 4900, high: 5100, uncertainty: 100, limitLow: -2000, limitHigh: 2000, outcome: 'FAIL' }],
    }));
    expect(await runStep(probe, { retries: 0 }, environment(), limits())).toMatchObject({ outcome: 'FAIL', fault: 'board' });
  });
});
