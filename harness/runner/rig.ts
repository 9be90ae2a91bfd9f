/**
 * Loads a rig file (DESIGN.md, "Rig file"): which boards there are and how to reach them, checked the
 * same way as scenarios (every issue, file:line:column), and substitutes `${board.<field>}` in step
 * arguments once the runner knows which board a scenario runs on.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isSeq } from 'yaml';
import { z } from 'zod';
import { errorMessage, InputError } from '../core/errors.js';
import { durationMs } from '../core/schema.js';
import { portAddressProblem } from '../link/address.js';
import { parseFault } from '../sim/faults.js';
import type { BoardSpec, Rig } from '../core/model.js';
import { referenceSchema } from './scenario.js';
import { identityPinFields, identityPinOf, usbPortSchema } from './rig-identity.js';
import {
  describeNode,
  dropEchoes,
  FIELD_NAME_RE,
  locateZodIssues,
  readSourceFile,
  substituteEnv,
  ValidationError,
  YamlSource,
  type EnvLike,
} from './yaml-source.js';

export { ValidationError, type ValidationIssue } from './yaml-source.js';

export interface RigLoadOptions {
  env?: EnvLike;
}

// Port addresses are checked in link/address.ts (light, for `qhil exec`); re-exported for the rig's users.
export { portAddressProblem } from '../link/address.js';

const portAddress = z.string().superRefine((address, ctx) => {
  const problem = portAddressProblem(address);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const BUILT_IN_FIELDS = ['id', 'model', 'at', 'repl', 'apn'] as const;

/** A port by path, or by USB serial number and interface role (resolved when the board is opened). */
const portSource = z.union([portAddress, usbPortSchema]);

const boardSchema = z
  .object({
    id: z.string().regex(/^[\w.-]+$/, 'expected a board id: letters, digits, _ . - (it names report files)'),
    model: z.string().min(1).optional(),
    at: portSource.optional(),
    repl: portSource.optional(),
    apn: z.string().min(1).optional(),
    ...identityPinFields,
    sim: z
      .object({
        profile: z.string().min(1),
        offset: durationMs.default(0),
        // Checked by the simulator's own parser, so the names and values accepted are exactly its own.
        faults: z
          .array(
            z.string().superRefine((fault, ctx) => {
              try {
                parseFault(fault);
              } catch (error) {
                ctx.addIssue({ code: 'custom', message: errorMessage(error).slice(0, 300) });
              }
            }),
          )
          .default([]),
      })
      .strict()
      .optional(),
    /** Custom fields for `${board.<name>}` in scenarios. */
    vars: z
      .record(
        z
          .string()
          .regex(FIELD_NAME_RE, 'expected a field name: a letter or _, then letters, digits, _ or -')
          .refine((name) => !(BUILT_IN_FIELDS as readonly string[]).includes(name), 'is a built-in board field; choose another name'),
        z.union([z.string(), z.number(), z.boolean()]),
      )
      .default({}),
  })
  .strict()
  .superRefine(
    (board, ctx) => {
      if (board.sim !== undefined && (board.at !== undefined || board.repl !== undefined)) {
        ctx.addIssue({ code: 'custom', path: ['sim'], message: 'a board is either simulated (sim) or reached through ports (at, repl), not both' });
      } else if (board.sim === undefined && board.at === undefined && board.repl === undefined) {
        ctx.addIssue({ code: 'custom', message: `board${typeof board.id === 'string' ? ` "${board.id}"` : ''} needs a port (at, repl) or sim` });
      }
    },
    // Only which keys are present matters here, so check even when a value has its own issue.
    { when: (payload) => payload.value !== null && typeof payload.value === 'object' },
  );

const rigSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    reference: referenceSchema.optional(),
    'lock-dir': z.string().min(1).optional(),
    /** At most this many boards at once (a host with little CPU, a USB hub that browns out); default all. */
    concurrency: z.number().int().min(1).max(1024).optional(),
    boards: z.array(boardSchema).min(1),
  })
  .strict()
  .superRefine(
    (rig, ctx) => {
      const firstIndex = new Map<string, number>();
      rig.boards.forEach((board: unknown, index) => {
        const id = board !== null && typeof board === 'object' ? (board as { id?: unknown }).id : undefined;
        if (typeof id !== 'string') return;
        const first = firstIndex.get(id);
        if (first === undefined) firstIndex.set(id, index);
        else ctx.addIssue({ code: 'custom', path: ['boards', index, 'id'], message: `duplicate board id "${id}" (also board ${first + 1})` });
      });
    },
    // Runs even when other values have issues (so every issue is reported at once); hence the guards.
    { when: (payload) => Array.isArray((payload.value as { boards?: unknown } | undefined)?.boards) },
  );

/** A profile given as a path (`../sim/ec200u.yaml`) is read relative to the rig file; a bare name (`ec200u`) is kept. */
function profileRelativeTo(rigFile: string, profile: string): string {
  if (!/[\\/]|\.ya?ml$/i.test(profile) || isAbsolute(profile)) return profile;
  return resolve(dirname(rigFile), profile);
}

export function loadRig(file: string, options: RigLoadOptions = {}): Rig {
  return parseRigText(readSourceFile(file, 'rig'), file, options);
}

export function parseRigText(text: string, file: string, options: RigLoadOptions = {}): Rig {
  const { source, issues } = YamlSource.parse(text, file);
  if (issues.length > 0) throw new ValidationError(issues);
  issues.push(...substituteEnv(source, options.env ?? process.env, { boardFields: false }));
  const root = source.root;
  if (!isMap(root)) {
    throw new ValidationError([
      { location: source.locate(root), message: `expected a rig: a mapping with name and boards, got ${root ? describeNode(root) : 'an empty file'}` },
    ]);
  }
  const parsed = rigSchema.safeParse(source.toJS());
  if (!parsed.success) {
    issues.push(...locateZodIssues({ source, schema: rigSchema, node: root, fallback: root, label: [] }, parsed.error.issues));
  }
  if (issues.length > 0 || !parsed.success) throw new ValidationError(dropEchoes(issues));

  const boardsNode = source.walk(root, ['boards']).node;
  const rig = parsed.data;
  return {
    name: rig.name,
    ...(rig.reference && { reference: rig.reference }),
    ...(rig['lock-dir'] !== undefined && { lockDir: resolve(dirname(file), rig['lock-dir']) }),
    ...(rig.concurrency !== undefined && { concurrency: rig.concurrency }),
    boards: rig.boards.map((board, index): BoardSpec => {
      const location = isSeq(boardsNode) ? source.locate(source.resolve(boardsNode.items[index])) : undefined;
      return {
        id: board.id,
        ...(board.model !== undefined && { model: board.model }),
        ...(typeof board.at === 'string' && { at: board.at }),
        ...(typeof board.repl === 'string' && { repl: board.repl }),
        ...identityPinOf(board),
        ...(board.apn !== undefined && { apn: board.apn }),
        ...(board.sim && { sim: { profile: profileRelativeTo(file, board.sim.profile), offsetMs: board.sim.offset, faults: board.sim.faults } }),
        fields: Object.fromEntries(Object.entries(board.vars).map(([name, value]) => [name, String(value)])),
        ...(location && { location }),
      };
    }),
    file,
  };
}

// ---------------------------------------------------------------------------------------------
// ${board.<field>}

function retypeScalar(text: string): string | number | boolean {
  if (/^[-+]?\d+(\.\d+)?$/.test(text.trim())) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

const BOARD_REFERENCE_RE = /\$\{\s*board\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}/g;

/** The value of `${board.<field>}` for `board`: a built-in field or one of its `vars`. */
function boardField(board: BoardSpec, field: string): string {
  if (Object.hasOwn(board.fields, field)) return board.fields[field] as string;
  if ((BUILT_IN_FIELDS as readonly string[]).includes(field)) {
    const value = board[field as (typeof BUILT_IN_FIELDS)[number]];
    if (value !== undefined) return value;
    throw new InputError(`\${board.${field}}: board "${board.id}" has no ${field}`);
  }
  const known = [...BUILT_IN_FIELDS.filter((name) => board[name] !== undefined), ...Object.keys(board.fields)];
  throw new InputError(`\${board.${field}}: board "${board.id}" has no field "${field}"; it has ${known.join(', ')}`);
}

/**
 * Replaces `${board.<field>}` in every string inside `value` (objects and arrays copied, other values
 * kept). Throws InputError naming the field when the board lacks it.
 */
export function substituteBoardFields(value: unknown, board: BoardSpec): unknown {
  if (typeof value === 'string') {
    // A value that is one reference takes the field's type, as YAML would have read it in place: `8` is a number.
    const whole = /^\$\{\s*board\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}$/.exec(value.trim());
    if (whole) return retypeScalar(boardField(board, whole[1] as string));
    return value.replace(BOARD_REFERENCE_RE, (_whole, field: string) => boardField(board, field));
  }
  if (Array.isArray(value)) return value.map((item: unknown) => substituteBoardFields(item, board));
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substituteBoardFields(item, board)]));
  }
  return value;
}
