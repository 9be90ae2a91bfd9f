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

/** A fault with its value parsed: durations in ms, drift in ppm, garble as a 0..1 rate. */
export interface Fault {
  name: FaultName;
  /** clock-offset: ms (board ahead > 0); clock-drift: ppm; slow-output: ms per chunk; garbled-output: rate; usb-disconnect: ms away. */
  value?: number;
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
      const rate = valueText.endsWith('%') ? Number(valueText.slice(0, -1)) / 100 : Number(valueText);
      if (!Number.isFinite(rate) || rate < 0 || rate > 1) fail();
      return { name, value: rate };
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
      return 'garbled-output=0.01';
    case 'usb-disconnect':
      return 'usb-disconnect=2s';
    default:
      return name;
  }
}
