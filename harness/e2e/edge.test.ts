/**
 * Edge-timed readings (`read-time: { precision: edge }`) on the simulated board over real socat
 * pseudo-terminals. The sim's clock is the host clock plus the injected offset (and its network zone),
 * so each reading is checked against the known truth, without a reference server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtChannel } from '../channel/at/channel.js';
import { ReplChannel } from '../channel/repl/repl.js';
import { AtBoardDriver } from '../board/at.js';
import type { BoardDriver, LocaltimeReading } from '../board/board.js';
import { tupleSeconds } from '../board/edge.js';
import { ReplBoardDriver } from '../board/repl.js';
import { BoardError } from '../core/errors.js';
import { SerialLink } from '../link/serial.js';
import { resolveBoardProfile, startSimBoard, type SimBoard } from '../sim/board.js';
import { servePty, type ServedBoard } from '../sim/serve.js';
import { skipWithoutSocat } from '../testing/socat.js';

/** Negative, under a second, several seconds, a minute; fractions so no edge lines up with the host's. */
const OFFSETS_MS = [-1500.3, 250.7, 7321.9, 60_000.5];

let board: SimBoard;
let served: ServedBoard;
let repl: ReplBoardDriver;
let at: AtBoardDriver;
let zoneMs: number;

beforeAll(async () => {
  if (skipWithoutSocat) return;
  // ticks_ms starts 300 ms before its 2^30 wrap, so the readings cross it.
  board = await startSimBoard({ profile: { ...resolveBoardProfile('ec200u'), ticksStartMs: 2 ** 30 - 300 } });
  served = await servePty(board);
  repl = new ReplBoardDriver(new ReplChannel(await SerialLink.open(served.ports.repl)));
  at = new AtBoardDriver(new AtChannel(await SerialLink.open(served.ports.at)), { apn: '' });
  zoneMs = board.profile.zoneQuarterHours * 15 * 60_000;
}, 30_000);

afterAll(async () => {
  if (skipWithoutSocat) return;
  await repl.repl.close();
  await at.channel.close();
  await served.close();
  await board.close();
});

/** The reading's offset (board UTC minus host) as an interval, ms. */
function offsetInterval(reading: LocaltimeReading): { lowMs: number; middleMs: number; highMs: number } {
  const edge = reading.edge;
  if (!edge) throw new Error('not edge-timed');
  const boardUtcMs = tupleSeconds(reading.localtime) * 1000 - zoneMs;
  return { lowMs: boardUtcMs - edge.hostHighMs, middleMs: boardUtcMs - (edge.hostLowMs + edge.hostHighMs) / 2, highMs: boardUtcMs - edge.hostLowMs };
}

/**
 * Every reading's interval must contain the injected offset: that is the claim, under any load. How
 * narrow it is depends on the host: the issue's ±5 ms (REPL) and ±10 ms (AT) are performance
 * figures, measured by the bench (harness/bench/edge.ts) quiet and loaded. Here, on a machine shared
 * with other test runs, a reading may be wider, but it must say so: the error never exceeds its own
 * half-width, and it stays an edge reading (well under the 500 ms of a one-second reading), within
 * twice its promised time.
 */
async function checkOffsets(driver: () => BoardDriver, toleranceMs: number, maxReadingMs: number): Promise<void> {
  for (const offsetMs of OFFSETS_MS) {
    await board.control.setClockOffset(offsetMs);
    const startedMs = performance.now();
    const reading = await driver().readLocaltime({ timeoutMs: 10_000, precision: 'edge' });
    const tookMs = performance.now() - startedMs;
    const offset = offsetInterval(reading);
    const described = `injected ${offsetMs} ms, read ${offset.middleMs.toFixed(2)} ms [${offset.lowMs.toFixed(2)}, ${offset.highMs.toFixed(2)}] (reading ±${reading.edge?.readingMs.toFixed(2)}, round trip ±${reading.edge?.roundTripMs.toFixed(2)}) in ${tookMs.toFixed(0)} ms`;
    expect(offset.lowMs <= offsetMs && offsetMs <= offset.highMs, described).toBe(true);
    const halfWidthMs = (offset.highMs - offset.lowMs) / 2;
    expect(Math.abs(offset.middleMs - offsetMs), described).toBeLessThanOrEqual(Math.max(toleranceMs, halfWidthMs));
    expect(halfWidthMs, described).toBeLessThan(250);
    expect(tookMs, described).toBeLessThan(2 * maxReadingMs);
  }
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('expected the reading to fail');
  return outcome;
}

describe.skipIf(skipWithoutSocat)('edge-timed readings on the simulated board over PTYs', () => {
  it('REPL: the interval contains the injected offset, ticks_ms started just short of its 2^30 wrap', async () => {
    await checkOffsets(() => repl, 5, 3000);
  }, 30_000);

  it('AT: the interval contains the injected offset', async () => {
    await checkOffsets(() => at, 10, 5000);
  }, 60_000);

  it('records the evidence: the board loop and tick exchanges, or every AT poll', async () => {
    await board.control.setClockOffset(0);
    const viaRepl = await repl.readLocaltime({ timeoutMs: 10_000, precision: 'edge' });
    expect(viaRepl.edge?.method).toBe('repl-ticks');
    expect(viaRepl.edge?.evidence).toMatchObject({ loop: { reads: expect.any(Number) }, exchanges: expect.any(Array) });
    const viaAt = await at.readLocaltime({ timeoutMs: 10_000, precision: 'edge' });
    expect(viaAt.edge?.method).toBe('at-bracket');
    expect((viaAt.edge?.evidence.polls as unknown[]).length).toBeGreaterThan(2);
    // precision second is today's single read.
    expect((await at.readLocaltime({ timeoutMs: 5000 })).edge).toBeUndefined();
  }, 30_000);

  it('fails a clock that stands still, runs backwards or jumps, with the readings (rtctest rules)', async () => {
    try {
      await board.control.setFault('clock-drift', '-1000000'); // rate 0: stopped
      const stoppedRepl = await failureOf(repl.readLocaltime({ timeoutMs: 10_000, precision: 'edge' }));
      expect(stoppedRepl).toBeInstanceOf(BoardError);
      expect(stoppedRepl.message).toMatch(/board clock not running: utime\.localtime\(\) read \d{4}-\d\d-\d\d \d\d:\d\d:\d\d throughout 1[5-9]\d\d ms of utime\.ticks_ms\(\) \(\d+ reads/);
      const stoppedAt = await failureOf(at.readLocaltime({ timeoutMs: 10_000, precision: 'edge' }));
      expect(stoppedAt.message).toMatch(/board clock not running: \d+ AT\+CCLK\? polls .* all read "\+CCLK: /);

      await board.control.setFault('clock-drift', '-2000000'); // runs backwards
      expect((await failureOf(repl.readLocaltime({ timeoutMs: 10_000, precision: 'edge' }))).message).toMatch(/board clock went backwards: .* gave (\S+ \S+) then/);
      expect((await failureOf(at.readLocaltime({ timeoutMs: 10_000, precision: 'edge' }))).message).toMatch(/board clock went backwards: consecutive AT\+CCLK\? polls/);

      await board.control.setFault('clock-drift', '100000000000'); // 100 000 s a second
      expect((await failureOf(repl.readLocaltime({ timeoutMs: 10_000, precision: 'edge' }))).message).toMatch(/board clock jumped/);
      expect((await failureOf(at.readLocaltime({ timeoutMs: 10_000, precision: 'edge' }))).message).toMatch(/board clock jumped/);
    } finally {
      await board.control.clearFaults();
    }
  }, 60_000);
});
