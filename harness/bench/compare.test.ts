import { describe, expect, it } from 'vitest';
import { alternate, comparisonRows, timeProcess, type Subject } from './compare.js';

describe('side-by-side rows', () => {
  it('alternate which side runs first, and mark a ratio over its target MISSED', async () => {
    const order: string[] = [];
    const side = (label: string, ms: number): Subject => ({ label, run: async () => (order.push(label), ms) });
    const ours = side('ours', 30);
    const anchor = side('anchor', 10);
    const result = await alternate(ours, anchor, 4);
    expect(order).toEqual(['ours', 'anchor', 'ours', 'anchor', 'anchor', 'ours', 'ours', 'anchor', 'anchor', 'ours']);
    expect(comparisonRows(ours, anchor, result, 2)).toEqual({
      ours: '30.0 ms (30.0–30.0)',
      '  vs anchor': '10.0 ms (10.0–10.0)',
      '  ratio to anchor': '3x  (target <= 2x: MISSED)',
    });
    expect(comparisonRows(ours, anchor, result, 3)['  ratio to anchor']).toBe('3x  (target <= 3x: met)');
  });
});

describe('process times', () => {
  it('measure a whole process: wall time spawn to exit, its CPU time apart from its waiting', async () => {
    const times = await timeProcess({ file: process.execPath, args: ['-e', 'setTimeout(() => console.log("done"), 300)'], check: (out) => expect(out).toBe('done\n') });
    expect(times.wallMs).toBeGreaterThanOrEqual(300);
    // The 300 ms spent asleep are wall time, not CPU time.
    expect(times.cpuMs).toBeGreaterThan(0);
    expect(times.cpuMs ?? Infinity).toBeLessThan(times.wallMs);
  });

  it('refuse a figure from a process that failed or printed the wrong answer', async () => {
    await expect(timeProcess({ file: process.execPath, args: ['-e', 'process.exit(3)'] })).rejects.toThrow('exit 3');
    await expect(
      timeProcess({
        file: process.execPath,
        args: ['-e', 'console.log(2)'],
        check: (out) => {
          if (out.trim() !== '1') throw new Error(`printed ${out.trim()}, not 1`);
        },
      }),
    ).rejects.toThrow('printed 2, not 1');
  });
});
