import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { keyFromConfig, loadKeyFile, parseKeyFile, parseKeySpec } from './keys.js';

const keyFilePath = fileURLToPath(new URL('../../../fixtures/ntp/chrony.keys', import.meta.url));

describe('--key <id>:<type>:<hex>', () => {
  it('parses each key type', () => {
    expect(parseKeySpec('1:SHA1:0102030405060708090a0b0c0d0e0f1011121314')).toEqual({
      id: 1,
      type: 'SHA1',
      key: Buffer.from('0102030405060708090a0b0c0d0e0f1011121314', 'hex'),
    });
    expect(parseKeySpec('7:md5:abcd').type).toBe('MD5');
    expect(parseKeySpec('3:aes128:000102030405060708090a0b0c0d0e0f').key).toHaveLength(16);
  });

  it.each([
    ['1:SHA1', /expected <id>:<type>:<hex>/],
    ['0:SHA1:00', /bad key id "0"/],
    ['x:SHA1:00', /bad key id "x"/],
    ['1:SHA256:00', /unknown key type "SHA256"/],
    ['1:SHA1:0g', /hex digits/],
    ['1:SHA1:abc', /hex digits/],
    ['1:AES128:0011', /AES128 key must be 16 bytes/],
  ])('rejects %s as bad input', (spec, message) => {
    expect(() => parseKeySpec(spec)).toThrow(InputError);
    expect(() => parseKeySpec(spec)).toThrow(message);
  });
});

describe('scenario keys { id, type, hex }', () => {
  it('parses and names the place of an error', () => {
    expect(keyFromConfig({ id: 2, type: 'MD5', hex: '00ff' })).toEqual({ id: 2, type: 'MD5', key: Buffer.from([0, 255]) });
    expect(() => keyFromConfig({ id: 2, type: 'MD5', hex: '' }, 'rig.yaml reference.keys[0]')).toThrow(
      /^rig.yaml reference.keys\[0\]: key material/,
    );
  });
});

describe('chrony key files', () => {
  it('reads HEX, ASCII, bare ASCII and typeless (MD5) keys, skipping comments', async () => {
    const keys = await loadKeyFile(keyFilePath);
    expect(keys.map(({ id, type }) => [id, type])).toEqual([
      [1, 'SHA1'],
      [2, 'MD5'],
      [3, 'AES128'],
      [4, 'MD5'],
      [5, 'SHA1'],
      [6, 'MD5'],
    ]);
    expect(keys[0]?.key.toString('hex')).toBe('0102030405060708090a0b0c0d0e0f1011121314');
    expect(keys[3]?.key.toString()).toBe('secret');
    expect(keys[4]?.key.toString()).toBe('pass:word');
    expect(keys[5]?.key.toString()).toBe('plainmd5');
    expect(readFileSync(keyFilePath, 'utf8')).toContain('HEX:');
  });

  it('names file:line:column of a bad line', () => {
    expect(() => parseKeyFile('1 SHA1 HEX:00\n\n  2 SHA9 HEX:00\n', 'k.keys')).toThrow('k.keys:3:5: unknown key type "SHA9"');
    expect(() => parseKeyFile('1 AES128 HEX:0011\n', 'k.keys')).toThrow(/^k.keys:1:10: .*16 bytes/);
    expect(() => parseKeyFile('1 MD5 a\n1 MD5 b\n', 'k.keys')).toThrow('k.keys:2:1: duplicate key id 1');
    expect(() => parseKeyFile('justone\n', 'k.keys')).toThrow(/k.keys:1:1: expected/);
  });

  it('gives a clear error for a missing file', async () => {
    await expect(loadKeyFile('/nonexistent/qhil.keys')).rejects.toThrow(/cannot read key file \/nonexistent\/qhil.keys/);
  });
});
