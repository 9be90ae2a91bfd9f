// compare and drift with synthetic edge-timed readings: in-process, a fake board, and for drift a
// loopback SNTP server (port 0) serving the host clock, since the step queries the reference itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BoardDriver } from '../board/board.js';
import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import type { ReferenceResult } from '../clock/reference.js';
import { BoardError } from '../core/errors.js';
import type { LocaltimeReading, LocaltimeTuple, ReferenceSpec } from '../core/model.js';
import { compareStep } from './compare.js';
import { driftStep } from './drift.js';
import type { StepBoard, StepContext } from './step.js';

function fields(boardMs: number): LocaltimeTuple {
  const d = new Date(boardMs);
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0, 0];
}

/**
 * A board clock `offsetMs` ahead of the host (which is UTC here) that gains `ratePpm`: an edge-timed
 * reading of the next second it enters, its host interval `halfWidthMs` either side of the truth
 * (shifted by `skewMs` within it), and the clock stepped by `stepMs` from the `stepAfter`-th read on.
 */
function clockBoard(options: { offsetMs: number; ratePpm?: number; halfWidthMs?: number; skewMs?: number; stepMs?: number; stepAfter?: number }) {
  const originMs = Date.now();
  let reads = 0;
  const halfWidthMs = options.halfWidthMs ?? 1.25;
  const read = (): LocaltimeReading => {
    reads += 1;
    const offsetMs = options.offsetMs + (reads > (options.stepAfter ?? Infinity) ? (options.stepMs ?? 0) : 0);
    const rate = 1 + (options.ratePpm ?? 0) / 1e6;
    const nowMs = Date.now();
    const boardNowMs = originMs + offsetMs + (nowMs - originMs) * rate;
    const secondMs = Math.ceil(boardNowMs / 1000) * 1000;
    const edgeHostMs = originMs + (secondMs - originMs - offsetMs) / rate;
    const centreMs = edgeHostMs + (options.skewMs ?? 0);
    return {
      via: 'repl',
      localtime: fields(secondMs),
      hostSendMs: nowMs,
      hostReceiveMs: nowMs + 5,
      raw: '',
      edge: {
        method: 'repl-ticks',
        hostLowMs: centreMs - halfWidthMs,
        hostHighMs: centreMs + halfWidthMs,
        readingMs: halfWidthMs * 0.6,
        roundTripMs: halfWidthMs * 0.4,
        evidence: { synthetic: true },
      },
    };
  };
  const driver = { via: 'repl', readLocaltime: () => Promise.resolve(read()) } as unknown as BoardDriver;
  return { driver, read };
}

function contextWith(options: { driver?: BoardDriver; values?: Map<string, LocaltimeReading>; reference?: ReferenceSpec; hostReference?: ReferenceResult }): StepContext {
  const board: Partial<StepBoard> = { id: 'fake', ports: ['repl'], driver: () => options.driver as BoardDriver };
  const values = new Map([...(options.values ?? new Map<string, LocaltimeReading>())].map(([name, reading]) => [name, { kind: 'localtime' as const, reading }]));
  return {
    board: board as StepBoard,
    values,
    queryReference: () => Promise.resolve(options.hostReference ?? { offsetMs: 0, uncertaintyMs: 0.5, measuredAtHostMs: Date.now(), selectedServer: 'x', servers: [] }),
    reference: options.reference,
    signal: new AbortController().signal,
    timeLeftMs: () => 60_000,
    log: () => undefined,
  };
}

describe('compare with an edge-timed reading', () => {
  const compare = async (offsetMs: number, tolerance: string, extra: Record<string, unknown> = {}, halfWidthMs = 1.25) => {
    const reading = clockBoard({ offsetMs, halfWidthMs }).read();
    const context = contextWith({ values: new Map([['t1', reading]]) });
    return compareStep.run(context, compareStep.schema.parse({ read: 't1', tolerance, ...extra }));
  };

  it('gives the offset in ms with its parts, and FAILs a board 412 ms behind at 100ms', async () => {
    const report = await compare(-412, '100ms');
    expect(report.outcome).toBe('FAIL');
    const [m] = report.measurements ?? [];
    expect(m?.low).toBeLessThanOrEqual(-412);
    expect(m?.high).toBeGreaterThanOrEqual(-412);
    expect(m?.uncertainty).toBeLessThan(2);
    expect(report.message).toMatch(/^board offset -412\.\dms ±1\.\dms \(reading 0\.\d, round trip 0\.\d, reference 0\.5(, host drift 0\.\d)?; within \[-41\d\.\dms, -41\d\.\dms\]; limit ±100ms\): FAIL$/);
    expect(report.data?.precision).toEqual(['edge']);
  });

  it('PASSes inside, calls a straddle MARGINAL (a FAIL unless marginal: pass)', async () => {
    expect((await compare(-60, '100ms')).outcome).toBe('PASS');
    const straddle = await compare(-99.5, '100ms');
    expect(straddle.measurements?.[0]?.outcome).toBe('MARGINAL');
    expect(straddle.outcome).toBe('FAIL');
    expect((await compare(-99.5, '100ms', { marginal: 'pass' })).outcome).toBe('PASS');
  });

  it('gives no verdict (ERROR) on a straddle the edge\'s own width made: the host interval, not the request, counts', async () => {
    // A 60 ms wide edge against a 100 ms limit: half the tolerance or more.
    const report = await compare(-80, '100ms', {}, 30);
    expect(report.measurements?.[0]?.outcome).toBe('MARGINAL');
    expect(report.outcome).toBe('ERROR');
    expect(report.message).toMatch(/located its edge only 60ms wide, too coarse to judge ±100ms/);
  });
});

describe('compare with several readings (the strict scenario)', () => {
  it('judges each, records their mean with its interval, and FAILs when any is outside', async () => {
    // Offsets as a truncating ntptime leaves them: 0 to 1 s behind, spread over the second.
    const truths = [-130, -380, -630, -880];
    const values = new Map(truths.map((offsetMs, i) => [`s${i + 1}`, clockBoard({ offsetMs }).read()]));
    const context = contextWith({ values });
    const report = await compareStep.run(context, compareStep.schema.parse({ read: ['s1', 's2', 's3', 's4'], tolerance: '100ms' }));
    expect(report.outcome).toBe('FAIL');
    const measurements = report.measurements ?? [];
    expect(measurements.map((m) => m.name)).toEqual([
      'board clock offset from UTC (s1)',
      'board clock offset from UTC (s2)',
      'board clock offset from UTC (s3)',
      'board clock offset from UTC (s4)',
      'mean board clock offset from UTC (4 readings)',
    ]);
    const mean = measurements[4];
    expect(mean?.low).toBeLessThanOrEqual(-505);
    expect(mean?.high).toBeGreaterThanOrEqual(-505);
    expect(mean?.uncertainty).toBeLessThan(2);
    expect(mean?.outcome).toBe('FAIL');
    expect(report.message).toMatch(/^board offsets s1 -130\.\dms ±1\.\dms: FAIL, s2 -380.*; mean -505\.\dms ±1\.\dms \(.*limit ±100ms\): FAIL \(4 of 4 readings outside\)$/);
    expect(compareStep.consumes?.(compareStep.schema.parse({ read: ['s1', 's2'] })).map((need) => need.name)).toEqual(['s1', 's2']);
  });

  it('PASSes when every reading is inside', async () => {
    const values = new Map([-20, 30].map((offsetMs, i) => [`s${i + 1}`, clockBoard({ offsetMs }).read()]));
    const report = await compareStep.run(contextWith({ values }), compareStep.schema.parse({ read: ['s1', 's2'], tolerance: '100ms' }));
    expect(report.outcome).toBe('PASS');
    expect(report.measurements?.[2]?.value).toBeCloseTo(5, 0);
  });
});

describe('drift', () => {
  let server: SntpServer;
  let reference: ReferenceSpec;
  beforeAll(async () => {
    server = await startSntpServer({ host: '127.0.0.1', port: 0 });
    reference = { servers: [`127.0.0.1:${server.port}`], samples: 2, timeoutMs: 2000, keys: [] };
  });
  afterAll(() => server.close());

  const drift = (board: ReturnType<typeof clockBoard>, args: Record<string, unknown>) =>
    driftStep.run(contextWith({ driver: board.driver, reference }), driftStep.schema.parse({ over: '2s', readings: 3, ...args }));

  it('measures a gaining clock within its stated uncertainty and FAILs the limit', async () => {
    const report = await drift(clockBoard({ offsetMs: -300, ratePpm: 20_000 }), { tolerance: '1000ppm' });
    const [m] = report.measurements ?? [];
    expect(m?.unit).toBe('ppm');
    expect(m?.low).toBeLessThanOrEqual(20_000);
    expect(m?.high).toBeGreaterThanOrEqual(20_000);
    // (U_first + U_last) / 2 s with U about 1.3 ms: about ±1300 ppm, and the reference inside it.
    expect(m?.uncertainty).toBeGreaterThan(1000);
    expect(m?.uncertainty).toBeLessThan(2500);
    const sum = Object.values(m?.uncertaintyParts ?? {}).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(m?.uncertainty ?? 0, 2);
    expect(report.outcome).toBe('FAIL');
    expect(report.message).toMatch(/^board clock drift \+(19\d{3}|2\d{4})\.\dppm ±\d+\.\dppm \(reading .*; limit ±1000ppm\): FAIL; offsets #1/);
    expect((report.data?.readings as unknown[]).length).toBe(3);
  });

  it('PASSes a steady clock with a limit its span can judge, and gives no verdict (ERROR) for one it cannot', async () => {
    expect((await drift(clockBoard({ offsetMs: 200, skewMs: 0.5 }), { tolerance: '5000ppm' })).outcome).toBe('PASS');
    const coarse = await drift(clockBoard({ offsetMs: 200, skewMs: 0.5 }), { tolerance: '100ppm', readings: 2 });
    expect(coarse.outcome).toBe('ERROR');
    expect(coarse.message).toMatch(/too coarse to judge ±100ppm; over: \d+m\d\ds would do/);
  });

  it('FAILs a clock that stepped between readings: no constant rate fits', async () => {
    await expect(drift(clockBoard({ offsetMs: 0, stepMs: -200, stepAfter: 2 }), { tolerance: '5000ppm' })).rejects.toThrow(BoardError);
  });

  it('reads the tolerance in ppm, and refuses a span under a second', () => {
    expect(driftStep.schema.parse({ over: '10m', tolerance: '20ppm' })).toMatchObject({ overMs: 600_000, tolerancePpm: 20, readings: 2 });
    expect(() => driftStep.schema.parse({ over: '10m', tolerance: '20ms' })).toThrow(/ppm/);
    expect(() => driftStep.schema.parse({ over: '500ms' })).toThrow(/at least 1s/);
  });
});
