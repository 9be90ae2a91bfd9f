import { InputError } from '../core/errors.js';
import { parseDurationMs } from '../core/duration.js';

/** The named faults of DESIGN.md, as `qhil sim --fault`, rig files and `control.setFault` take them. */
export const FAULT_NAMES = [
  'no-sim',
  'no-network',
  'dial-refused',
  'ntp-silent',
  'clock-offset',
  'clock-drift',
  'slow-output',
  'garbled-output',
  'repl-refuse',
  'reboot',
  'usb-disconnect',
] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

/**
 * How `garbled-output` corrupts a byte it picks: `replace` it with another byte, `drop` it (a line
 * loses bytes: `+04"` becomes `+0"`), or either at even odds (`mixed`, the default), as a noisy UART does.
 */
export const GARBLE_MODES = ['replace', 'drop', 'mixed'] as const;
export type GarbleMode = (typeof GARBLE_MODES)[number];
/** The seed when none is given: the same corruption on every run, so a test that saw it sees it again. */
export const DEFAULT_GARBLE_SEED = 1;

/** A fault with its value parsed: durations in ms, drift in ppm, garble as a 0..1 rate. */
export interface Fault {
  name: FaultName;
  /** clock-offset: ms (board ahead > 0); clock-drift: ppm; slow-output: ms per chunk; garbled-output: rate; usb-disconnect: ms away. */
  value?: number;
  /** garbled-output only: what happens to a picked byte, and the seed of the pseudo-random picks. */
  garble?: { mode: GarbleMode; seed: number };
}

const NEEDS_VALUE: ReadonlySet<FaultName> = new Set(['clock-offset', 'clock-drift', 'slow-output', 'garbled-output']);

/** Parses `name` or `name=value` (or name and value apart). Throws InputError naming the fault. */
export function parseFault(text: string, separateValue?: string): Fault {
  const [rawName, inlineValue] = text.includes('=') ? [text.slice(0, text.indexOf('=')), text.slice(text.indexOf('=') + 1)] : [text, undefined];
  const name = rawName.trim() as FaultName;
  if (!FAULT_NAMES.includes(name)) {
    throw new InputError(`unknown sim fault "${rawName}": expected one of ${FAULT_NAMES.join(', ')}`);
  }
  const valueText = separateValue ?? inlineValue;
  if (valueText === undefined || valueText === '') {
    if (NEEDS_VALUE.has(name)) throw new InputError(`sim fault "${name}" needs a value, e.g. ${example(name)}`);
    return { name };
  }
  const fail = (): never => {
    throw new InputError(`sim fault "${name}": bad value "${valueText}", e.g. ${example(name)}`);
  };
  switch (name) {
    case 'clock-offset':
    case 'slow-output':
    case 'usb-disconnect': {
      try {
        const ms = parseDurationMs(valueText);
        if (name !== 'clock-offset' && ms < 0) fail();
        return { name, value: ms };
      } catch {
        return fail();
      }
    }
    case 'clock-drift': {
      const ppm = Number(valueText.replace(/ppm$/, ''));
      if (!Number.isFinite(ppm)) fail();
      return { name, value: ppm };
    }
    case 'garbled-output': {
      // <rate>[,<mode>][,seed=<n>]
      const [rateText = '', ...extras] = valueText.split(',').map((part) => part.trim());
      const rate = rateText.endsWith('%') ? Number(rateText.slice(0, -1)) / 100 : rateText === '' ? Number.NaN : Number(rateText);
      if (!Number.isFinite(rate) || rate < 0 || rate > 1) fail();
      let mode: GarbleMode = 'mixed';
      let seed = DEFAULT_GARBLE_SEED;
      for (const extra of extras) {
        const seedText = /^seed=(\d{1,10})$/.exec(extra)?.[1];
        if (seedText !== undefined && Number(seedText) <= 0xffff_ffff) seed = Number(seedText);
        else if ((GARBLE_MODES as readonly string[]).includes(extra)) mode = extra as GarbleMode;
        else fail();
      }
      return { name, value: rate, garble: { mode, seed } };
    }
    default:
      return fail();
  }
}

function example(name: FaultName): string {
  switch (name) {
    case 'clock-offset':
      return 'clock-offset=-2.5s';
    case 'clock-drift':
      return 'clock-drift=40';
    case 'slow-output':
      return 'slow-output=20ms';
    case 'garbled-output':
      return 'garbled-output=0.01 or garbled-output=5%,drop,seed=7 (modes: replace, drop, mixed)';
    case 'usb-disconnect':
      return 'usb-disconnect=2s';
    default:
      return name;
  }
}

/**
 * The `garbled-output` fault's corruption, deterministic for a seed: each byte is picked with
 * probability `rate` (mulberry32, a small well-known PRNG; the stream depends only on the bytes fed,
 * not on how they were chunked) and replaced by a different byte or dropped, as `mode` says.
 */
export class Garbler {
  private state: number;

  constructor(
    readonly rate: number,
    readonly mode: GarbleMode = 'mixed',
    seed: number = DEFAULT_GARBLE_SEED,
  ) {
    this.state = seed >>> 0;
  }

  garble(bytes: Uint8Array): Buffer {
    if (this.rate <= 0) return Buffer.from(bytes);
    const out: number[] = [];
    for (const byte of bytes) {
      if (this.next() >= this.rate) {
        out.push(byte);
        continue;
      }
      const drop = this.mode === 'drop' || (this.mode === 'mixed' && this.next() < 0.5);
      // Another byte, never the same one: a "replaced" byte that did not change would hide the fault.
      if (!drop) out.push((byte + 1 + Math.floor(this.next() * 255)) & 0xff);
    }
    return Buffer.from(out);
  }

  /** mulberry32: uniform in [0, 1). */
  private next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
}
