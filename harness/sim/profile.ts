import { parseDurationMs } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import { dropEchoes, locateZodIssues, readSourceFile, substituteEnv, ValidationError, YamlSource, type EnvLike } from '../runner/yaml-source.js';
import { z } from 'zod';

/** In code (tests, benches), a duration may be a number of ms; `5m` and friends work too. */
const codeDuration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  try {
    return parseDurationMs(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** In a profile file, as in scenarios and rigs: a string with a unit (`500ms`, `60s`, `5m`). */
const fileDuration = z.unknown().transform((value, ctx) => {
  if (typeof value === 'string') {
    try {
      return parseDurationMs(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  }
  const shown = typeof value === 'number' ? String(value) : value === null ? 'nothing' : typeof value;
  ctx.addIssue({ code: 'custom', message: `expected a duration with a unit (500ms, 60s, 5m), got ${shown}` });
  return z.NEVER;
});

/** A simulated board's identity and behaviour (fixtures/sim/*.yaml), with `duration` for its durations. */
function profileSchema<D extends typeof codeDuration | typeof fileDuration>(duration: D) {
  return z
    .object({
      model: z.string(),
      /** `ATI` name line, e.g. `EC200U`. */
      product: z.string(),
      /** Firmware revision as AT+QGMR and modem.getDevFwVersion() print it. */
      firmware: z.string(),
      /** `Revision:` line of ATI. */
      revision: z.string(),
      quecpython: z
        .object({
          /** As the banner and uos.uname() print it, e.g. `v1.12`. */
          version: z.string(),
          /** The banner's build stamp, e.g. `Thu_Jan_13_2022_4:46:28_PM`. */
          buildDate: z.string(),
          release: z.string(),
          qpyver: z.string(),
          /** `uos.uname()` sysname; default: the model (`EC200U-EU`). */
          sysname: z.string().optional(),
          /** `uos.uname()` nodename; default: the product (`EC200U`). */
          nodename: z.string().optional(),
          /** Banner tail and `uos.uname()` machine; default: `<product> with QUECTEL`. */
          machine: z.string().optional(),
          /** `uos.uname()` version; default: `<version> on <buildDate>`. */
          unameVersion: z.string().optional(),
          /** Banner name: most firmware prints `QuecPython`, some `Quecpython`. */
          bannerName: z.string().default('QuecPython'),
        })
        .strict(),
      imei: z.string(),
      sim: z.enum(['ready', 'absent', 'pin']).default('ready'),
      network: z.enum(['registered', 'roaming', 'searching', 'denied']).default('registered'),
      csq: z.number().int().min(0).max(99).default(24),
      apn: z.string().default('internet'),
      address: z.string().default('10.91.44.177'),
      dns: z.array(z.string()).default(['58.242.2.2', '218.104.78.2']),
      /** Clock offset from host UTC at start; positive = board fast. */
      clockOffset: duration.default(0),
      /** RTC drift in parts per million; positive = board runs fast. */
      clockDriftPpm: z.number().default(0),
      /**
       * `utime.ticks_ms()` rate error in ppm. On a module the ticks come from the system timer and the
       * RTC from its own 32 kHz crystal, so the two drift apart: the sim keeps them separate (the
       * `clock-drift` fault moves only the RTC). Default 0: ticks at the host's rate.
       */
      ticksDriftPpm: z.number().min(-1000).max(1000).default(0),
      /** `utime.ticks_ms()` at VM start; set near 2^30 (1073741824) to exercise the wrap. */
      ticksStartMs: z.number().int().min(0).max(2 ** 30 - 1).default(0),
      /**
       * How long the first `utime.localtime()` to see a new second keeps the VM from going on, as a
       * module whose own tasks take the CPU at the RTC's second tick: a board loop timing the edge comes
       * out this much wider. Default 0.
       */
      edgeStall: duration.default(0),
      /**
       * Which of the three \`ntptime.py\` generations in Quectel's repositories the firmware ships
       * (shared/reference/quectel.md): \`core\` settime() with no timezone argument (passing one raises
       * TypeError), OSError escapes when no server answers; \`py\` settime(timezone=0): -1 for a zone
       * outside -12..12, OSError when no server answers, \`host\` left at the fall-back that worked;
       * \`unirtos\` settime(timezone=0, use_rhost=1, timeout=10): -1 for every failure, replies only
       * with first byte 0x1C and stratum 1-15 accepted, \`host\` restored. Every generation keeps only
       * the transmit timestamp's seconds word, so a synced board reads 0-1 s behind.
       */
      ntptime: z.enum(['core', 'py', 'unirtos']).default('py'),
      /**
       * Whether AT+QNTP with autosettime keeps the NTP fraction when it sets the RTC. UNCONFIRMED (no
       * Quectel document says); assumed false, like ntptime and like the whole-second time its URC prints.
       */
      qntpKeepsFraction: z.boolean().default(false),
      /** Zone in quarter hours that AT+CCLK reports (the network's zone). */
      zoneQuarterHours: z.number().int().min(-48).max(56).default(0),
      /** Host names the board resolves, e.g. `ntp.aliyun.com: 127.0.0.1:11123`. Unknown names fail DNS. */
      hosts: z.record(z.string(), z.string()).default({}),
      /** How long an automatic dial takes after boot, and an explicit activation. */
      dialDelay: duration.default(50),
      /** Per-command AT response delays, by command name (`AT+QIACT`: `300ms`); default 5ms. */
      atDelays: z.record(z.string(), duration).default({}),
      /** Whether the REPL answers raw-paste negotiation with R\x01 (true) or R\x00 (false). */
      rawPaste: z.boolean().default(true),
      /** REPL protection: the board answers `REPL refuse` to everything. */
      replProtected: z.boolean().default(false),
      /** How long a hard reboot (AT+CFUN=1,1, the `reboot` fault) keeps the ports away. */
      rebootDelay: duration.default(800),
      /** QuecPython boards dial profile 1 by themselves after boot (the application note waits for it). */
      autoDial: z.boolean().default(true),
      /** Lines the REPL prints before the banner at boot, as some firmware logs do. */
      bootNoise: z.array(z.string()).default([]),
      /** How long ntptime and AT+QNTP wait for each NTP server before giving up on it (the firmware's ntptime.py: 10 s). */
      ntpTimeout: duration.default(10_000),
      /**
       * Year the board's seconds count from, for `utime.time()`, `utime.mktime()` and the `secs` argument of
       * `utime.localtime()`/`utime.gmtime()`: MicroPython and QuecPython count from 2000-01-01 (the
       * firmware's ntptime.py subtracts NTP_DELTA = 3155673600 s from NTP time, protocols.md); 1970
       * models a port built with the Unix epoch. `utime.localtime()` with no argument reads the RTC either way.
       */
      epoch: z.union([z.literal(2000), z.literal(1970)]).default(2000),
    })
    .strict();
}

/** A profile given in code. */
export const boardProfileSchema = profileSchema(codeDuration);
/** A profile file: durations need their units. */
const boardProfileFileSchema = profileSchema(fileDuration);

export type BoardProfile = z.infer<typeof boardProfileSchema>;
export type BoardProfileInput = z.input<typeof boardProfileSchema>;

export function parseBoardProfile(input: unknown, source = 'profile'): BoardProfile {
  const result = boardProfileSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new InputError(`${source}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
  }
  return result.data;
}

/**
 * Reads a profile file as scenarios and rigs are read (runner/yaml-source.ts): the same refusals
 * (size, encoding), `${env.NAME}` substitution, and every problem at file:line:column (ValidationError).
 */
export function loadBoardProfile(path: string, env: EnvLike = process.env): BoardProfile {
  const { source, issues } = YamlSource.parse(readSourceFile(path, 'sim profile'), path);
  if (issues.length > 0) throw new ValidationError(issues);
  const envIssues = substituteEnv(source, env, { boardFields: false });
  const root = source.root;
  const result = boardProfileFileSchema.safeParse(source.toJS());
  const schemaIssues = result.success
    ? []
    : locateZodIssues({ source, schema: boardProfileFileSchema, node: root, fallback: root, label: [] }, result.error.issues);
  const all = dropEchoes([...envIssues, ...schemaIssues]);
  if (all.length > 0 || !result.success) throw new ValidationError(all.length > 0 ? all : [{ location: source.locate(root), message: 'not a board profile' }]);
  return result.data;
}
