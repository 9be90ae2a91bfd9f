/**
 * The rig file's board fields for identity, port discovery by USB serial number, and power:
 * `imei:`, `firmware:` (exact or `/pattern/`), `usb-serial:`, `at: { usb-serial, role }` and
 * `power: { on, off, cycle, timeout }`. Kept apart from rig.ts so the rig schema grows by one line.
 */
import { z } from 'zod';
import { UserPattern } from '../core/pattern.js';
import { durationMs } from '../core/schema.js';
import type { BoardPin, BoardSpec, PowerSpec, Via } from '../core/model.js';

/** A firmware pin written `/.../` is a regular expression; anything else is matched exactly. */
export function firmwarePattern(pin: string): UserPattern | undefined {
  const match = /^\/(.+)\/$/s.exec(pin);
  return match ? UserPattern.compile(match[1] as string) : undefined;
}

const firmwarePin = z
  .string()
  .min(1)
  .superRefine((pin, ctx) => {
    try {
      firmwarePattern(pin);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

/** One command as an argument array: the program, then its arguments; never a shell line. */
const command = z
  .array(z.string().refine((arg) => !arg.includes('\0'), 'no NUL characters in a command argument'))
  .min(1, 'a command: [program, arguments...]');

const DEFAULT_POWER_TIMEOUT_MS = 30_000;

export const usbPortSchema = z
  .object({
    'usb-serial': z.string().min(1),
    role: z.enum(['at', 'repl']),
  })
  .strict();

export const identityPinFields = {
  imei: z.string().regex(/^\d{14,16}$/, 'an IMEI: 15 digits').optional(),
  firmware: firmwarePin.optional(),
  'usb-serial': z.string().min(1).optional(),
  power: z
    .object({
      on: command.optional(),
      off: command.optional(),
      cycle: command.optional(),
      timeout: durationMs.refine((ms) => ms > 0, 'must be longer than 0').default(DEFAULT_POWER_TIMEOUT_MS),
    })
    .strict()
    .refine((power) => power.cycle !== undefined || (power.on !== undefined && power.off !== undefined), 'give cycle, or both off and on')
    .optional(),
};

type PortSource = string | z.output<typeof usbPortSchema>;

interface IdentityFields {
  at?: PortSource;
  repl?: PortSource;
  imei?: string;
  firmware?: string;
  'usb-serial'?: string;
  power?: { on?: string[]; off?: string[]; cycle?: string[]; timeout: number };
}

/** The BoardSpec fields these rig fields become. */
export function identityPinOf(board: IdentityFields): Pick<BoardSpec, 'pin' | 'usbPorts' | 'power'> {
  const pin: BoardPin = {
    ...(board.imei !== undefined && { imei: board.imei }),
    ...(board.firmware !== undefined && { firmware: board.firmware }),
    ...(board['usb-serial'] !== undefined && { usbSerial: board['usb-serial'] }),
  };
  const usbPorts: NonNullable<BoardSpec['usbPorts']> = {};
  for (const via of ['at', 'repl'] as const satisfies Via[]) {
    const source = board[via];
    if (source !== undefined && typeof source !== 'string') usbPorts[via] = { usbSerial: source['usb-serial'], role: source.role };
  }
  const power: PowerSpec | undefined = board.power && {
    ...(board.power.on && { on: board.power.on }),
    ...(board.power.off && { off: board.power.off }),
    ...(board.power.cycle && { cycle: board.power.cycle }),
    timeoutMs: board.power.timeout,
  };
  return {
    ...(Object.keys(pin).length > 0 && { pin }),
    ...(Object.keys(usbPorts).length > 0 && { usbPorts }),
    ...(power && { power }),
  };
}
