import { describe, expect, it } from 'vitest';
import { alternate, comparisonRows, type Subject } from './compare.js';

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
