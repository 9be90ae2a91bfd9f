/**
 * Symmetric NTP keys, from three places: the CLI (`--key <id>:<type>:<hex>`), a scenario
 * (`{ id, type, hex }`) and a chrony key file. All bad input is an InputError naming where it was.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../../core/errors.js';

export type SntpKeyType = 'MD5' | 'SHA1' | 'AES128';

export interface SntpKey {
  id: number;
  type: SntpKeyType;
  key: Buffer;
}

/** A key as a scenario or rig file writes it. */
export interface SntpKeyConfig {
  id: number;
  type: string;
  hex: string;
}

/** Key ids are uint32; chrony refuses 0 as a key id in requests, so do we. */
const MAX_KEY_ID = 0xffff_ffff;

export function parseKeyType(text: string, where: string): SntpKeyType {
  const upper = text.trim().toUpperCase();
  if (upper === 'MD5' || upper === 'SHA1') return upper;
  if (upper === 'AES128' || upper === 'AES-128' || upper === 'AES-128-CMAC') return 'AES128';
  throw new InputError(`${where}: unknown key type "${text}" (expected MD5, SHA1 or AES128)`);
}

export function parseKeyId(text: string | number, where: string): number {
  const id = typeof text === 'number' ? text : /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isInteger(id) || id < 1 || id > MAX_KEY_ID) {
    throw new InputError(`${where}: bad key id "${text}" (expected an integer from 1 to ${MAX_KEY_ID})`);
  }
  return id;
}

function parseHex(text: string, where: string): Buffer {
  const hex = text.trim();
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) {
    throw new InputError(`${where}: key material must be an even number of hex digits, got "${hex}"`);
  }
  return Buffer.from(hex, 'hex');
}

function checkKeyLength(key: SntpKey, where: string): SntpKey {
  if (key.type === 'AES128' && key.key.length !== 16) {
    throw new InputError(`${where}: an AES128 key must be 16 bytes (32 hex digits), got ${key.key.length} bytes`);
  }
  if (key.key.length === 0) throw new InputError(`${where}: empty key`);
  return key;
}

/** `<id>:<type>:<hex>`, e.g. `1:SHA1:0102...` (the CLI form). */
export function parseKeySpec(spec: string, where = '--key'): SntpKey {
  const parts = spec.split(':');
  if (parts.length !== 3) throw new InputError(`${where}: expected <id>:<type>:<hex>, got "${spec}"`);
  const [id, type, hex] = parts as [string, string, string];
  return checkKeyLength({ id: parseKeyId(id, where), type: parseKeyType(type, where), key: parseHex(hex, where) }, where);
}

/** `{ id, type, hex }` from a scenario or rig file. */
export function keyFromConfig(config: SntpKeyConfig, where = 'reference.keys'): SntpKey {
  return checkKeyLength(
    { id: parseKeyId(config.id, where), type: parseKeyType(config.type, where), key: parseHex(config.hex, where) },
    where,
  );
}

/**
 * chrony's key file format: `<id> [<type>] <key>` per line, `#` comments. The key is `HEX:<hex>`,
 * `ASCII:<text>` or bare ASCII text (chrony's rule, so `1 SHA1 0102` is the four ASCII characters).
 * The type defaults to MD5, as in chrony. Errors carry file:line:column.
 */
export function parseKeyFile(text: string, file: string): SntpKey[] {
  const keys: SntpKey[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const line = rawLine.replace(/#.*$/, '');
    if (line.trim() === '') return;
    const fields = [...line.matchAll(/\S+/g)];
    const at = (fieldIndex: number) => ({ file, line: index + 1, column: (fields[fieldIndex]?.index ?? 0) + 1 });
    const fail = (message: string, fieldIndex: number): never => {
      throw new InputError(message, at(fieldIndex));
    };
    if (fields.length < 2 || fields.length > 3) fail('expected "<id> [<type>] <key>"', 0);
    const words = fields.map((match) => match[0]);
    const guard = <T>(fn: () => T, fieldIndex: number): T => {
      try {
        return fn();
      } catch (error) {
        return fail(error instanceof Error ? error.message.replace(/^[^:]*: /, '') : String(error), fieldIndex);
      }
    };
    const id = guard(() => parseKeyId(words[0] ?? '', 'key id'), 0);
    const typeIndex = words.length >= 3 ? 1 : -1;
    const type: SntpKeyType = typeIndex === 1 ? guard(() => parseKeyType(words[1] ?? '', 'key type'), 1) : 'MD5';
    const keyIndex = typeIndex === 1 ? 2 : 1;
    const material = words[keyIndex] ?? '';
    let key: Buffer;
    if (/^HEX:/i.test(material)) key = guard(() => parseHex(material.slice(4), 'key'), keyIndex);
    else if (/^ASCII:/i.test(material)) key = Buffer.from(material.slice(6), 'latin1');
    else key = Buffer.from(material, 'latin1');
    if (keys.some((existing) => existing.id === id)) fail(`duplicate key id ${id}`, 0);
    guard(() => checkKeyLength({ id, type, key }, 'key'), keyIndex);
    keys.push({ id, type, key });
  });
  return keys;
}

export async function loadKeyFile(path: string): Promise<SntpKey[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read key file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseKeyFile(text, path);
}

/** For logs and reports: never the key material. */
export function describeKey(key: SntpKey): string {
  return `key ${key.id} (${key.type})`;
}
