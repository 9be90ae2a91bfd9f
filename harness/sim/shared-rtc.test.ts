import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ModemModel } from './modem.js';
import { resolveBoardProfile } from './board.js';
import { monoMs, SharedRtc } from './shared-rtc.js';

describe('SharedRtc (the VM thread reads localtime() without a bridge call)', () => {
  it('reads nothing before the first publish, then the published reading moving on at its drift, in the setTimeZone zone', () => {
    const rtc = new SharedRtc();
    expect(rtc.localtime()).toBeUndefined();
    const atMonoMs = monoMs();
    // 2026-12-02 00:30:05.999 (a Wednesday, day 336), 1% fast.
    rtc.publish({ readingMs: Date.UTC(2026, 11, 2, 0, 30, 5, 999), atMonoMs, driftPpm: 10_000, zoneHours: 0 });
    expect(rtc.localtime(atMonoMs)).toEqual([2026, 12, 2, 0, 30, 5, 2, 336]);
    // 0.995 ms of host time is 1.005 ms of RTC time: over the edge (at the host's rate it would not be).
    expect(rtc.localtime(atMonoMs + 0.995)).toEqual([2026, 12, 2, 0, 30, 6, 2, 336]);
    expect(rtc.localtime(atMonoMs + 1000)?.[5]).toBe(7);
    rtc.publish({ readingMs: Date.UTC(2026, 11, 31, 23, 0, 0), atMonoMs, driftPpm: 0, zoneHours: 8 });
    expect(rtc.localtime(atMonoMs)).toEqual([2027, 1, 1, 7, 0, 0, 4, 1]);
  });

  it('gives another thread what the board worker published, as the modem reads it', async () => {
    const modem = new ModemModel(resolveBoardProfile('ec200u'));
    const rtc = new SharedRtc();
    const publish = (): void => rtc.publish({ readingMs: modem.rtcReadingMs(), atMonoMs: monoMs(), driftPpm: modem.clockDriftPpm, zoneHours: modem.utimeZoneHours });
    modem.on('rtc-changed', publish);
    publish();
    modem.setRtcReadingMs(Date.UTC(2030, 5, 15, 12, 0, 0, 500));
    modem.setDriftPpm(40);
    modem.utimeZoneHours = -5;
    const script = `
      const { parentPort, workerData } = require('node:worker_threads');
      const seq = new Int32Array(workerData, 0, 1);
      const values = new Float64Array(workerData, 0, 5);
      parentPort.postMessage({ seq: Atomics.load(seq, 0), readingMs: values[1], driftPpm: values[3], zoneHours: values[4] });`;
    const seen = await new Promise<{ seq: number; readingMs: number; driftPpm: number; zoneHours: number }>((resolve, reject) => {
      const worker = new Worker(script, { eval: true, workerData: rtc.buffer });
      worker.once('message', (message) => {
        resolve(message as { seq: number; readingMs: number; driftPpm: number; zoneHours: number });
        void worker.terminate();
      });
      worker.once('error', reject);
    });
    expect(seen.seq % 2).toBe(0);
    expect(seen.driftPpm).toBe(40);
    expect(seen.zoneHours).toBe(-5);
    expect(Math.abs(seen.readingMs - Date.UTC(2030, 5, 15, 12, 0, 0, 500))).toBeLessThan(1000);
    expect(rtc.localtime()?.slice(0, 5)).toEqual([2030, 6, 15, 7, 0]);
  });

  it('says which second the reading is in and how far the next one is, at its drift; a stopped clock never gets there', () => {
    const rtc = new SharedRtc();
    expect(rtc.secondAndNext()).toBeUndefined();
    const atMonoMs = monoMs();
    rtc.publish({ readingMs: 5000.25, atMonoMs, driftPpm: 0, zoneHours: 3 });
    expect(rtc.secondAndNext(atMonoMs)).toEqual({ second: 5, toNextMs: 999.75 });
    // Twice as fast: the next second is half the host time away.
    rtc.publish({ readingMs: 5999, atMonoMs, driftPpm: 1e6, zoneHours: 0 });
    expect(rtc.secondAndNext(atMonoMs)).toEqual({ second: 5, toNextMs: 0.5 });
    rtc.publish({ readingMs: 5999, atMonoMs, driftPpm: -1e6, zoneHours: 0 });
    expect(rtc.secondAndNext(atMonoMs + 10)).toEqual({ second: 5, toNextMs: Infinity });
  });

  it('wakes a thread sleeping on the clock as soon as another thread publishes a change', async () => {
    const rtc = new SharedRtc();
    rtc.publish({ readingMs: 0, atMonoMs: monoMs(), driftPpm: 0, zoneHours: 0 });
    const script = `
      const { parentPort, workerData } = require('node:worker_threads');
      const seq = new Int32Array(workerData, 0, 1);
      const before = Atomics.load(seq, 0);
      parentPort.postMessage('sleeping');
      const started = performance.now();
      Atomics.wait(seq, 0, before, 10000);
      parentPort.postMessage(performance.now() - started);`;
    const worker = new Worker(script, { eval: true, workerData: rtc.buffer });
    try {
      const sleptMs = await new Promise<number>((resolve, reject) => {
        worker.on('message', (message: unknown) => {
          if (message === 'sleeping') setTimeout(() => rtc.publish({ readingMs: 1000, atMonoMs: monoMs(), driftPpm: 0, zoneHours: 0 }), 50);
          else resolve(message as number);
        });
        worker.once('error', reject);
      });
      expect(sleptMs).toBeLessThan(5000);
    } finally {
      await worker.terminate();
    }
  });
});
