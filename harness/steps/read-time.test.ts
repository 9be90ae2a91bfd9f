import { describe, expect, it } from 'vitest';
import type { BoardDriver, LocaltimeReading, ReadOptions } from '../board/board.js';
import { readTimeStep } from './read-time.js';
import type { StepContext, StepValue } from './step.js';

/** A step context around one driver that records the options it was read with. */
function contextFor(reading: LocaltimeReading, seen: ReadOptions[]): StepContext {
  const driver = {
    via: 'repl',
    readLocaltime: (options: ReadOptions) => {
      seen.push(options);
      return Promise.resolve(reading);
    },
  } as unknown as BoardDriver;
  return {
    board: { id: 'b', driver: () => driver, replChannel: () => { throw new Error('unused'); }, atChannel: () => { throw new Error('unused'); }, ports: ['repl'] },
    values: new Map<string, StepValue>(),
    queryReference: () => Promise.reject(new Error('unused')),
    reference: undefined,
    signal: new AbortController().signal,
    timeLeftMs: () => 5000,
    log: () => undefined,
  };
}

const READING: LocaltimeReading = {
  via: 'repl',
  localtime: [2026, 12, 2, 0, 30, 5, 2, 336],
  hostSendMs: 1_796_171_404_000,
  hostReceiveMs: 1_796_171_405_010,
  raw: '(2026, 12, 2, 0, 30, 5, 2, 336)',
};

describe('read-time precision', () => {
  it('defaults to second (one read, as before) and accepts edge; anything else is an input error', () => {
    expect(readTimeStep.schema.parse({})).toMatchObject({ precision: 'second' });
    expect(readTimeStep.schema.parse({ via: 'at', precision: 'edge' })).toMatchObject({ via: 'at', precision: 'edge' });
    expect(readTimeStep.schema.safeParse({ precision: 'ms' }).success).toBe(false);
  });

  it('takes widest-loop only for an edge over the REPL, as ms, and passes it to the driver', async () => {
    expect(readTimeStep.schema.parse({ precision: 'edge', 'widest-loop': '25ms' })).toMatchObject({ widestLoopMs: 25 });
    expect(readTimeStep.schema.parse({ precision: 'edge' }).widestLoopMs).toBeUndefined();
    for (const args of [{ 'widest-loop': '25ms' }, { via: 'at', precision: 'edge', 'widest-loop': '25ms' }]) {
      const result = readTimeStep.schema.safeParse(args);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]).toMatchObject({ path: ['widest-loop'], message: expect.stringMatching(/only for precision: edge via repl/) });
    }
    expect(readTimeStep.schema.safeParse({ precision: 'edge', 'widest-loop': '0ms' }).success).toBe(false);
    const seen: ReadOptions[] = [];
    const edge = { method: 'repl-ticks' as const, hostLowMs: 1, hostHighMs: 2, readingMs: 0.5, roundTripMs: 0, evidence: {} };
    await readTimeStep.run(contextFor({ ...READING, edge }, seen), readTimeStep.schema.parse({ precision: 'edge', 'widest-loop': '25ms' }));
    expect(seen[0]).toMatchObject({ precision: 'edge', widestLoopMs: 25 });
  });

  it('asks the driver for the edge, shows the interval with its parts, and keeps the evidence in data', async () => {
    const seen: ReadOptions[] = [];
    const edge = { method: 'repl-ticks' as const, hostLowMs: 1_796_171_404_410.5, hostHighMs: 1_796_171_404_414.5, readingMs: 0.5, roundTripMs: 1.5, evidence: { exchanges: [1, 2] } };
    const context = contextFor({ ...READING, edge }, seen);
    const report = await readTimeStep.run(context, readTimeStep.schema.parse({ precision: 'edge', as: 't1' }));
    expect(seen[0]?.precision).toBe('edge');
    expect(report.message).toBe('board time 2026-12-02 00:30:05 (second began at host 00:30:04.412 ±2.0 ms: reading ±0.5, round trip ±1.5)');
    expect(report.data).toMatchObject({ name: 't1', edge: { evidence: { exchanges: [1, 2] } } });
    expect(context.values.get('t1')).toMatchObject({ kind: 'localtime', reading: { edge } });
  });

  it('reads one second as before without precision', async () => {
    const seen: ReadOptions[] = [];
    const report = await readTimeStep.run(contextFor(READING, seen), readTimeStep.schema.parse({}));
    expect(seen[0]?.precision).toBe('second');
    expect(report.message).toBe('board time 2026-12-02 00:30:05 (1010 ms round trip)');
  });
});
