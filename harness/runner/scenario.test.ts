import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InputError } from '../core/errors.js';
import { commonStepOptions, durationMs, via } from '../core/schema.js';
import { stepRegistry } from '../steps/index.js';
import type { StepDefinition } from '../steps/step.js';
import { loadScenario, parseScenarioText, ValidationError, type StepRegistry } from './scenario.js';
import { editDistance } from './yaml-source.js';

/**
 * Step kinds with the argument shapes of DESIGN.md, defined here so these tests check the loader and
 * not whichever steps are registered today.
 */
function testStep(kind: string, shape: z.ZodRawShape): StepDefinition {
  return {
    kind,
    summary: kind,
    schema: z.object({ ...shape, ...commonStepOptions }).strict() as unknown as StepDefinition['schema'],
    defaultTimeoutMs: 1000,
    describe: () => kind,
    run: () => Promise.resolve({}),
  };
}

const registry: StepRegistry = new Map(
  [
    testStep('dial', { via: via.default('repl'), profile: z.number().int().min(1).max(16).default(1), apn: z.string().optional() }),
    testStep('sync', { via: via.default('repl'), server: z.string().optional(), timezone: z.number().default(0) }),
    testStep('read-time', { via: via.default('repl'), as: z.string().optional(), edge: z.boolean().default(false) }),
    testStep('compare', { read: z.string(), timezone: z.number().default(0), tolerance: durationMs }),
    testStep('at', { command: z.string(), expect: z.string().optional() }),
    stepRegistry.get('wait') as StepDefinition,
  ].map((step) => [step.kind, step]),
);

function parse(text: string, env: Record<string, string> = {}) {
  return parseScenarioText(text, 'scn.yaml', { env, registry });
}

/** The issues of a text that must fail, as `line:column: message`. */
function issuesOf(text: string, env: Record<string, string> = {}): string[] {
  try {
    parse(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((issue) => `${issue.location.line}:${issue.location.column}: ${issue.message}`);
  }
  throw new Error('expected the scenario to be rejected');
}

const GOOD = `# comment line
name: ntp-sync-repl
description: Dial, sync, compare
tags: [nightly, release]
timeout: 90s
reference: { servers: [ntp.aliyun.com, pool.ntp.org], samples: 3, keys: [{ id: 7, type: AES128, hex: 00112233445566778899aabbccddeeff }] }
steps:
  - dial: { via: repl, profile: 1, timeout: 60s }
  - sync: { via: repl, server: pool.ntp.org, timezone: 0, retries: 2 }
  - read-time: { via: repl, as: t1 }
  - compare:
      read: t1
      tolerance: 2s
  - wait: { for: 500ms }
  - read-time
  - dial:
`;

describe('parseScenarioText: a good scenario', () => {
  it('gives the Scenario shape, durations in ms, each step with its location and index', () => {
    const scenario = parse(GOOD);
    expect(scenario).toMatchObject({
      name: 'ntp-sync-repl',
      description: 'Dial, sync, compare',
      tags: ['nightly', 'release'],
      timeoutMs: 90_000,
      file: 'scn.yaml',
      reference: {
        servers: ['ntp.aliyun.com', 'pool.ntp.org'],
        samples: 3,
        timeoutMs: 5000,
        keys: [{ id: 7, type: 'AES128', hex: '00112233445566778899aabbccddeeff' }],
      },
    });
    expect(scenario.steps.map((step) => [step.kind, step.index, step.location.line, step.location.column])).toEqual([
      ['dial', 0, 8, 5],
      ['sync', 1, 9, 5],
      ['read-time', 2, 10, 5],
      ['compare', 3, 11, 5],
      ['wait', 4, 14, 5],
      ['read-time', 5, 15, 5],
      ['dial', 6, 16, 5],
    ]);
    expect(scenario.steps[0]?.args).toEqual({ via: 'repl', profile: 1, timeout: 60_000, retries: 0 });
    expect(scenario.steps[3]?.args).toEqual({ read: 't1', timezone: 0, tolerance: 2000, retries: 0 });
    expect(scenario.steps[4]?.args).toMatchObject({ forMs: 500 });
    // `- read-time` and `- dial:` have no arguments: the schema's defaults apply.
    expect(scenario.steps[5]?.args).toEqual({ via: 'repl', edge: false, retries: 0 });
    expect(scenario.steps[6]?.args).toEqual({ via: 'repl', profile: 1, retries: 0 });
    expect(scenario.steps[0]?.location.file).toBe('scn.yaml');
  });

  it('applies defaults: 5m timeout, no tags, reference samples 4 and timeout 5s', () => {
    const scenario = parse('name: x\nreference: { servers: [a] }\nsteps: [ { wait: { for: 1s } } ]\n');
    expect(scenario.timeoutMs).toBe(300_000);
    expect(scenario.tags).toEqual([]);
    expect(scenario.reference).toEqual({ servers: ['a'], samples: 4, timeoutMs: 5000, keys: [] });
    expect(scenario.description).toBeUndefined();
  });
});

describe('parseScenarioText: every error names file:line:column and what was expected', () => {
  it('reports a YAML syntax error at its position', () => {
    expect(issuesOf('name: x\nsteps:\n  - dial: { via: repl\n  - wait\n')).toEqual([
      '4:3: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }',
    ]);
  });

  it('says to quote ${...} inside a flow mapping, where YAML reads it as a nested mapping', () => {
    const [first] = issuesOf('name: x\nsteps:\n  - dial: { apn: ${env.APN} }\n', { APN: 'internet' });
    expect(first).toMatch(/^3:\d+: YAML syntax error: .*quote values that use \$\{\.\.\.\}/);
  });

  it('reports duplicate keys as the YAML error they are', () => {
    expect(issuesOf('name: x\nname: y\nsteps: [wait]\n')).toEqual([expect.stringMatching(/^2:1: YAML syntax error: Map keys must be unique/)]);
  });

  it('rejects an unknown step kind at its key, suggesting the nearest and listing the known ones', () => {
    expect(issuesOf('name: x\nsteps:\n  - dial: {}\n  -   dail: { via: repl }\n')).toEqual([
      '4:7: unknown step kind "dail" (did you mean "dial"?); known kinds: at, compare, dial, read-time, sync, wait',
    ]);
    expect(issuesOf('name: x\nsteps: [reboot]\n')).toEqual([
      '2:9: unknown step kind "reboot"; known kinds: at, compare, dial, read-time, sync, wait',
    ]);
  });

  it('points an unknown argument key at the key itself, with the nearest allowed key', () => {
    expect(issuesOf('name: x\nsteps:\n  - compare: { read: t1, tolerence: 2s }\n')).toEqual([
      '3:14: compare: missing required key "tolerance"',
      '3:26: compare: unknown key "tolerence" (did you mean "tolerance"?); expected one of read, timezone, tolerance, timeout, retries',
    ]);
  });

  it('points an unknown top-level or reference key at the key itself', () => {
    expect(issuesOf('name: x\ntag: [a]\nreference: { servers: [a], sample: 2 }\nsteps: [read-time]\n')).toEqual([
      '2:1: top level: unknown key "tag" (did you mean "tags"?); expected one of name, description, tags, timeout, reference, steps',
      '3:28: reference: unknown key "sample" (did you mean "samples"?); expected one of servers, samples, timeout, keys',
    ]);
  });

  it('reports a wrong type at the value, saying what was expected and what was found', () => {
    expect(issuesOf('name: x\nreference: { servers: [a], samples: four }\nsteps:\n  - dial: { profile: "1" }\n')).toEqual([
      '2:37: reference.samples: expected a number, got "four" (a string)',
      '4:22: dial.profile: expected a number, got "1" (a string)',
    ]);
  });

  it('reports a value outside its choices, with the nearest one', () => {
    expect(issuesOf('name: x\nsteps:\n  - sync: { via: rpl }\n')).toEqual(['3:18: sync.via: expected one of repl, at; got "rpl" (a string) (did you mean "repl"?)']);
  });

  it('reports a bad duration at the value', () => {
    expect(issuesOf('name: x\ntimeout: 5 minutes\nsteps:\n  - dial: { timeout: 1 h }\n')).toEqual([
      '2:10: timeout: bad duration "5 minutes": expected a number with a unit, e.g. 500ms, 60s, 5m, 1h',
      '4:22: dial.timeout: bad duration "1 h": expected a number with a unit, e.g. 500ms, 60s, 5m, 1h',
    ]);
  });

  it('says a bare number is not a duration', () => {
    expect(issuesOf('name: x\nsteps:\n  - compare: { read: t1, tolerance: 2 }\n')).toEqual([
      '3:37: compare.tolerance: expected a duration with a unit (500ms, 60s, 5m), got 2 (a number)',
    ]);
  });

  it('reports a missing key at the mapping it belongs in', () => {
    expect(issuesOf('# no name\ndescription: d\nsteps:\n  - compare: { tolerance: 2s }\n')).toEqual([
      '2:1: missing required key "name"',
      '4:14: compare: missing required key "read"',
    ]);
  });

  it('reports a missing argument of a step written without arguments at the step kind', () => {
    expect(issuesOf('name: x\nsteps:\n  - read-time\n  - wait:\n')).toEqual(['4:5: wait: missing required key "for" (wait has no arguments)']);
  });

  it('rejects an empty step list, a missing one, and arguments that are not a mapping', () => {
    expect(issuesOf('name: x\nsteps: []\n')).toEqual(['2:8: steps: needs at least 1 item, got a list']);
    expect(issuesOf('name: x\n')).toEqual(['1:1: missing required key "steps"']);
    expect(issuesOf('name: x\nsteps:\n  - wait: 2s\n')).toEqual([
      '3:11: wait: arguments must be a mapping, e.g. "- wait: { ... }", got "2s" (a string)',
    ]);
  });

  it('explains a step whose arguments are not indented under it', () => {
    expect(issuesOf('name: x\nsteps:\n  - sync:\n    via: at\n')).toEqual([
      '3:5: step 1: a step is "- <kind>: { arguments }" or "- <kind>", with one key; this one has 2 (sync, via); if "via" is an argument of "sync", indent it under it',
    ]);
  });

  it('rejects a file that is not a mapping', () => {
    expect(issuesOf('')).toEqual(['1:1: expected a scenario: a mapping with name and steps, got an empty file']);
    expect(issuesOf('- wait\n')).toEqual(['1:1: expected a scenario: a mapping with name and steps, got a list']);
  });

  it('collects every issue in the file, in file order, one per line of the message', () => {
    let caught: unknown;
    try {
      parse('name: x\nsteps:\n  - dail\n  - wait: { for: soon }\n  - compare: { read: t1, tolerance: 1s, extra: 1 }\ntimeout: 0s\n');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect(caught).toBeInstanceOf(InputError);
    const lines = (caught as ValidationError).message.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.map((line) => line.split(': ')[0])).toEqual(['scn.yaml:3:5', 'scn.yaml:4:18', 'scn.yaml:5:41', 'scn.yaml:6:10']);
    expect(lines[3]).toBe('scn.yaml:6:10: timeout: must be longer than 0');
  });

  it('checks reference keys: hex digits, AES128 length, key type', () => {
    const text = `name: x
reference:
  servers: [a]
  keys:
    - { id: 1, type: AES128, hex: "0011" }
    - { id: 2, type: MD5, hex: xyz }
    - { id: 3, type: SHA256, hex: 0012 }
steps: [read-time]
`;
    expect(issuesOf(text)).toEqual([
      '5:35: reference.keys[0].hex: an AES128 key is 16 bytes (32 hex digits), got 2 bytes',
      '6:32: reference.keys[1].hex: expected the key as hex digits, two per byte',
      '7:22: reference.keys[2].type: expected one of MD5, SHA1, AES128; got "SHA256" (a string)',
      '7:35: reference.keys[2].hex: expected a string, got 12 (a number); quote it to keep it as written: "0012"',
    ]);
  });

  it('rejects a reference key id defined twice, at the second', () => {
    const text = 'name: x\nreference:\n  servers: [a]\n  keys:\n    - { id: 1, type: MD5, hex: "00" }\n    - { id: 1, type: SHA1, hex: "01" }\nsteps: [read-time]\n';
    expect(issuesOf(text)).toEqual(['6:13: reference.keys[1].id: key id 1 is defined twice']);
  });
});

describe('parseScenarioText: ${env.NAME} and ${board.<field>}', () => {
  it('substitutes environment variables in every string value before validation', () => {
    const scenario = parse(
      'name: ${env.NAME}-check\nreference:\n  servers: ["${env.NTP}"]\n  samples: ${env.SAMPLES}\n  timeout: ${env.T}\nsteps:\n  - sync: { server: "${env.NTP}" }\n',
      { NAME: 'lab', NTP: 'ntp1.lab', SAMPLES: '6', T: '2s' },
    );
    expect(scenario.name).toBe('lab-check');
    expect(scenario.reference).toMatchObject({ servers: ['ntp1.lab'], samples: 6, timeoutMs: 2000 });
    expect(scenario.steps[0]?.args).toMatchObject({ server: 'ntp1.lab' });
  });

  it('keeps a quoted substitution a string, where a plain one would be read as a number', () => {
    expect(issuesOf('name: x\nsteps:\n  - dial: { profile: "${env.P}" }\n', { P: '2' })).toEqual([
      '3:22: dial.profile: expected a number, got "2" (a string)',
    ]);
  });

  it('reports an unset variable at the scalar that uses it, once', () => {
    expect(issuesOf('name: x\nsteps:\n  - compare: { read: t1, tolerance: "${env.TOL}" }\n')).toEqual([
      '3:37: environment variable TOL is not set (used as ${env.TOL})',
    ]);
  });

  it('rejects a reference that is neither env nor board', () => {
    expect(issuesOf('name: ${HOME}\nsteps: [read-time]\n')).toEqual([
      '1:7: unknown reference ${HOME}: expected ${env.NAME} or ${board.<field>}',
    ]);
  });

  it('leaves ${board.<field>} for the runner', () => {
    const scenario = parse('name: x\nsteps:\n  - dial: { apn: "${board.apn}" }\n  - at: { command: "AT+CGDCONT=1,\\"IP\\",\\"${board.apn}\\"" }\n');
    expect(scenario.steps[0]?.args).toMatchObject({ apn: '${board.apn}' });
    expect(scenario.steps[1]?.args).toMatchObject({ command: 'AT+CGDCONT=1,"IP","${board.apn}"' });
  });
});

describe('loadScenario', () => {
  it('throws InputError naming the file when it cannot be read', () => {
    expect(() => loadScenario('no/such/scenario.yaml', { registry })).toThrow(InputError);
    expect(() => loadScenario('no/such/scenario.yaml', { registry })).toThrow(/^no\/such\/scenario\.yaml: cannot read scenario file: /);
  });

  it('uses the harness step registry by default', () => {
    const text = 'name: x\nsteps:\n  - dail: { via: repl }\n';
    expect(() => parseScenarioText(text, 'scn.yaml', { env: {} })).toThrow(
      new RegExp(`^scn\\.yaml:3:5: unknown step kind "dail" \\(did you mean "dial"\\?\\); known kinds: ${[...stepRegistry.keys()].sort().join(', ')}$`),
    );
  });

  // Guards every scenario anyone adds to scenarios/, against the steps actually registered.
  const files = readdirSync('scenarios').filter((name) => name.endsWith('.yaml'));
  it('finds the shipped scenarios', () => {
    expect(files).toEqual(expect.arrayContaining(['demo.yaml', 'nightly.yaml', 'ntp-sync-repl.yaml']));
  });
  it.each(files)('scenarios/%s validates against the step registry', (name) => {
    const scenario = loadScenario(join('scenarios', name), { env: {} });
    expect(scenario.steps.length).toBeGreaterThan(0);
  });
});

describe('hostile files: refused with file:line:column, in bounded time, never echoing megabytes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qhil-scn-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function fileIssues(name: string, bytes: Buffer | string): string[] {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    try {
      loadScenario(file, { env: {}, registry });
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      return (error as Error).message.split('\n').map((line) => line.replace(file, 'FILE'));
    }
    throw new Error('expected the file to be rejected');
  }

  it('stops a YAML alias bomb (billion laughs) at its first alias', () => {
    const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (const [name, previous] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e'], ['g', 'f'], ['h', 'g']]) {
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(', ')}]`);
    }
    const started = performance.now();
    expect(issuesOf(`name: x\nsteps: [read-time]\n${levels.join('\n')}\n`)).toEqual([
      '4:8: aliases here expand to more than 100 nodes (a YAML "billion laughs"?): write the values out, or use fewer aliases',
    ]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('reads a file nested 10,000 levels deep as an error, not a crash', () => {
    expect(issuesOf(`name: x\nsteps: [read-time]\nextra: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`)).toEqual([
      expect.stringMatching(/^3:\d+: YAML syntax error: nested too deeply to read: a scenario or rig needs only a few levels$/),
    ]);
  });

  it('refuses UTF-16 files, with or without a byte-order mark', () => {
    const text = 'name: x\nsteps: [read-time]\n';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    expect(fileIssues('le.yaml', le)).toEqual(['FILE:1:1: the scenario file is UTF-16 (byte-order mark FF FE, little-endian); save it as UTF-8']);
    const be = Buffer.from(le).swap16();
    expect(fileIssues('be.yaml', be)).toEqual(['FILE:1:1: the scenario file is UTF-16 (byte-order mark FE FF, big-endian); save it as UTF-8']);
    expect(fileIssues('nobom.yaml', Buffer.from(text, 'utf16le'))).toEqual([
      'FILE:1:2: NUL bytes between the characters: the file looks like UTF-16; save it as UTF-8',
    ]);
  });

  it('refuses NUL bytes and bytes that are not UTF-8 at their line and column', () => {
    expect(issuesOf('name: x\nsteps: [read-time]\ndescription: "a\0b"\n')).toEqual(['3:16: a NUL byte: not a text file?']);
    expect(fileIssues('latin1.yaml', Buffer.from('name: caf\xe9\nsteps: [read-time]\n', 'latin1'))).toEqual([
      'FILE:1:10: byte 0xe9 is not UTF-8 text; save the scenario file as UTF-8',
    ]);
    // A U+FFFD written in the file is text like any other.
    expect(loadScenarioFrom(dir, 'fffd.yaml', 'name: "\uFFFD"\nsteps: [read-time]\n').name).toBe('\uFFFD');
    // So is a UTF-8 byte-order mark, which does not shift columns.
    expect(fileIssues('bom.yaml', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('name: x\nsteps: [dail]\n')]))).toEqual([
      expect.stringMatching(/^FILE:2:9: unknown step kind "dail"/),
    ]);
  });

  it('refuses a file over the size cap before parsing it', () => {
    const started = performance.now();
    const issues = fileIssues('huge.yaml', `name: x\nsteps:\n${'  - dial: { via: repl: x }\n'.repeat(400_000)}`);
    expect(issues).toEqual(['FILE:1:1: the file is over 10.3 MiB; a scenario or rig file may be at most 1.0 MiB']);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('never echoes a megabyte value: quoted values are cut to 80 characters', () => {
    const huge = 'x'.repeat(300_000);
    const issues = issuesOf(`name: x\nsteps:\n  - ${huge}\n  - dial: { via: ${huge} }\n  - dial: { timeout: ${huge} }\n`);
    expect(issues).toHaveLength(3);
    for (const issue of issues) expect(issue.length).toBeLessThan(400);
    expect(issues[0]).toMatch(/^3:5: unknown step kind "x{80}"\.\.\. \(300000 characters\); known kinds: /);
  });

  it('reports at most 50 issues of a file with an error on every line, then how many more', () => {
    const text = `name: x\nsteps:\n${'  - dial: { via: repl: x }\n'.repeat(5_000)}`;
    let error: ValidationError | undefined;
    try {
      parse(text);
    } catch (caught) {
      error = caught as ValidationError;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(error?.issues).toHaveLength(5_000);
    const lines = error?.message.split('\n') ?? [];
    expect(lines).toHaveLength(51);
    expect(lines[0]).toMatch(/^scn\.yaml:3:18: YAML syntax error: /);
    expect(lines[50]).toBe('... and 4950 more');
  });
});

function loadScenarioFrom(dir: string, name: string, text: string) {
  const file = join(dir, name);
  writeFileSync(file, text);
  return loadScenario(file, { env: {}, registry });
}

describe('rules a scenario must keep before anything runs', () => {
  it('refuses durations beyond 24h in every duration field', () => {
    expect(issuesOf('name: x\ntimeout: 99999999999h\nsteps:\n  - wait: { for: 25h }\n')).toEqual([
      '2:10: timeout: bad duration "99999999999h": longer than 24h, the most qhil allows',
      '4:18: wait.for: bad duration "25h": longer than 24h, the most qhil allows',
    ]);
  });

  it("refuses a step timeout longer than the scenario's, at the step's timeout", () => {
    expect(issuesOf('name: x\ntimeout: 1m\nsteps:\n  - dial: { timeout: 90s }\n')).toEqual([
      "4:22: dial.timeout: 1m30s is longer than the scenario's timeout of 1m00s, which would end the step first: lower the step's timeout or raise the scenario's",
    ]);
    expect(parse('name: x\ntimeout: 1m\nsteps:\n  - dial: { timeout: 60s }\n').steps).toHaveLength(1);
  });

  it('refuses reference servers that do not parse, and takes IPv6 in brackets', () => {
    expect(issuesOf('name: x\nreference: { servers: ["[::1", "host:99999", "a b", "::1]:123"] }\nsteps: [read-time]\n')).toEqual([
      '2:24: reference.servers[0]: bad reference server "[::1": expected host, host:port (port 1-65535), or an IPv6 address in brackets: [::1]:123',
      '2:32: reference.servers[1]: bad reference server "host:99999": expected host, host:port (port 1-65535), or an IPv6 address in brackets: [::1]:123',
      '2:46: reference.servers[2]: bad reference server "a b": expected a host name or host:port',
      '2:53: reference.servers[3]: bad reference server "::1]:123": expected host, host:port (port 1-65535), or an IPv6 address in brackets: [::1]:123',
    ]);
    expect(parse('name: x\nreference: { servers: ["[::1]:123", "[fe80::1]", "10.0.0.1:11123", ntp.example] }\nsteps: [read-time]\n').reference?.servers).toHaveLength(4);
  });
});

describe('editDistance (for "did you mean")', () => {
  it.each([
    ['dail', 'dial', 1],
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['ca', 'abc', 3],
    ['read-tmie', 'read-time', 1],
    ['same', 'same', 0],
  ])('%s -> %s is %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
  });
});
