import { describe, expect, it } from 'vitest';
import { MICROPYTHON_ERRNO, WASM_ERRNO, WASM_TO_MICROPYTHON_ERRNO } from './errno.js';

describe('errno translation (VM -> board)', () => {
  it('gives the numbers mpremote and py/mperrno.h know', () => {
    const board = (name: string) => WASM_TO_MICROPYTHON_ERRNO.get(WASM_ERRNO[name] ?? -1);
    expect(board('ENOENT')).toBe(2);
    expect(board('EEXIST')).toBe(17);
    expect(board('ENOTDIR')).toBe(20);
    expect(board('EISDIR')).toBe(21);
    expect(board('EINVAL')).toBe(22);
    expect(board('EACCES')).toBe(13);
    expect(board('ENOTEMPTY')).toBe(39);
  });

  it('is one to one: no two VM errors become the same board error', () => {
    const boardValues = [...WASM_TO_MICROPYTHON_ERRNO.values()];
    expect(new Set(boardValues).size).toBe(boardValues.length);
    expect(new Set(Object.values(WASM_ERRNO)).size).toBe(Object.keys(WASM_ERRNO).length);
    expect(new Set(Object.values(MICROPYTHON_ERRNO)).size).toBe(Object.keys(MICROPYTHON_ERRNO).length);
  });
});
