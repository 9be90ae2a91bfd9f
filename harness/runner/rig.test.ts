import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import type { BoardSpec } from '../core/model.js';
import { loadRig, parseRigText, portAddressProblem, substituteBoardFields, ValidationError } from './rig.js';

function issuesOf(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseRigText(text, 'rig.yaml', { env });
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((issue) => `${issue.location.line}:${issue.location.column}: ${issue.message}`);
  }
  throw new Error('expected the rig to be rejected');
}

describe('loadRig: the shipped rigs', () => {
  it('reads the simulated bench: offsets in ms, no ports, each board located', () => {
    const rig = loadRig('fixtures/rigs/sim-bench.yaml', { env: {} });
    expect(rig.name).toBe('sim-bench');
    // Simulated boards get the host's clock as reference: the rig names none.
    expect(rig.reference).toBeUndefined();
    // Profile paths are relative to the rig file, so the rig works from any folder.
    expect(rig.boards.map((board) => [board.id, board.sim, board.at, board.repl])).toEqual([
      ['sim-ec200u', { profile: resolve('fixtures/sim/ec200u.yaml'), offsetMs: 0, faults: [] }, undefined, undefined],
      ['sim-ec100y', { profile: resolve('fixtures/sim/ec100y.yaml'), offsetMs: 37_000, faults: [] }, undefined, undefined],
    ]);
    expect(rig.boards[1]?.location).toEqual({ file: 'fixtures/rigs/sim-bench.yaml', line: 11, column: 5 });
  });

  it('reads the hardware example: device paths, tcp:// ports and custom fields as strings', () => {
    const rig = loadRig('fixtures/rigs/bench-example.yaml', { env: {} });
    expect(rig.boards[0]).toMatchObject({
      id: 'ec200u-01',
      model: 'EC200U-EU',
      at: '/dev/serial/by-id/usb-Quectel_EC200U-EU_0123456789-if02-port0',
      apn: 'internet',
      fields: { site: 'bench-1', slot: '3' },
    });
    expect(rig.boards[1]).toMatchObject({ at: 'tcp://ser2net.lab.example:3001', repl: 'tcp://ser2net.lab.example:3002' });
  });

  it.each(readdirSync('fixtures/rigs').filter((name) => name.endsWith('.yaml')))('fixtures/rigs/%s validates', (name) => {
    expect(loadRig(join('fixtures/rigs', name), { env: {} }).boards.length).toBeGreaterThan(0);
  });
});

describe('parseRigText: errors name file:line:column', () => {
  it('checks port addresses: tcp:// needs host and port, a device path must be absolute', () => {
    const text = `name: r
boards:
  - id: a
    at: tcp://lab-host
    repl: ttyUSB3
  - id: b
    at: tcp://lab-host:70000
    repl: rfc2217://lab-host:4000
  - { id: c, at: COM5, repl: '\\\\.\\COM12' }
`;
    expect(issuesOf(text)).toEqual([
      '4:9: boards[0].at: bad port address "tcp://lab-host": expected tcp://host:port',
      '5:11: boards[0].repl: bad port address "ttyUSB3": expected a device path (/dev/ttyUSB2, /dev/serial/by-id/..., COM5) or tcp://host:port',
      '7:9: boards[1].at: bad port address "tcp://lab-host:70000": TCP port must be 1..65535',
      '8:11: boards[1].repl: unsupported port address "rfc2217://lab-host:4000": expected a device path (/dev/ttyUSB2, /dev/serial/by-id/..., COM5) or tcp://host:port',
    ]);
  });

  it('needs a way to reach each board, and not both sim and ports', () => {
    expect(issuesOf('name: r\nboards:\n  - id: a\n    model: EC200U\n  - id: b\n    at: /dev/ttyUSB2\n    sim: { profile: p.yaml }\n')).toEqual([
      '3:5: boards[0]: board "a" needs a port (at, repl) or sim',
      '7:10: boards[1].sim: a board is either simulated (sim) or reached through ports (at, repl), not both',
    ]);
  });

  it('rejects a board id used twice, at the second one', () => {
    expect(issuesOf('name: r\nboards:\n  - { id: a, at: /dev/ttyUSB2 }\n  - { id: a, at: ttyUSB6 }\n')).toEqual([
      '4:11: boards[1].id: duplicate board id "a" (also board 1)',
      '4:18: boards[1].at: bad port address "ttyUSB6": expected a device path (/dev/ttyUSB2, /dev/serial/by-id/..., COM5) or tcp://host:port',
    ]);
  });

  it('points an unknown board key at the key, with the nearest allowed key', () => {
    expect(issuesOf('name: r\nboards:\n  - id: a\n    at: /dev/ttyUSB2\n    modle: EC200U\n')).toEqual([
      '5:5: boards[0]: unknown key "modle" (did you mean "model"?); expected one of id, model, at, repl, apn, imei, firmware, usb-serial, power, sim, vars',
    ]);
  });

  it('checks sim offsets as durations and vars names against the built-in fields', () => {
    expect(issuesOf('name: r\nboards:\n  - id: a\n    sim: { profile: p.yaml, offset: 37 }\n    vars: { id: x, site: lab }\n')).toEqual([
      '4:37: boards[0].sim.offset: expected a duration with a unit (500ms, 60s, 5m), got 37 (a number)',
      '5:13: boards[0].vars: key "id": is a built-in board field; choose another name',
    ]);
  });

  it('substitutes ${env.NAME} and rejects ${board.<field>}, which only scenarios can use', () => {
    const rig = parseRigText('name: r\nboards:\n  - id: a\n    at: ${env.AT_PORT}\n', 'rig.yaml', { env: { AT_PORT: '/dev/ttyUSB2' } });
    expect(rig.boards[0]?.at).toBe('/dev/ttyUSB2');
    expect(issuesOf('name: r\nboards:\n  - id: a\n    at: ${env.AT_PORT}\n    apn: ${board.id}\n')).toEqual([
      '4:9: environment variable AT_PORT is not set (used as ${env.AT_PORT})',
      '5:10: ${board.id}: board fields can only be used in scenario files',
    ]);
  });

  it("checks sim faults with the simulator's own parser: names and values", () => {
    expect(
      issuesOf('name: r\nboards:\n  - id: a\n    sim: { profile: p.yaml, faults: [ntp-silent, usb-disconnect=2s, clock-ofset=2s, clock-drift, garbled-output=2] }\n'),
    ).toEqual([
      expect.stringMatching(/^4:69: boards\[0\]\.sim\.faults\[2\]: unknown sim fault "clock-ofset": expected one of no-sim, .*usb-disconnect$/),
      '4:85: boards[0].sim.faults[3]: sim fault "clock-drift" needs a value, e.g. clock-drift=40',
      expect.stringMatching(/^4:98: boards\[0\]\.sim\.faults\[4\]: sim fault "garbled-output": bad value "2", e\.g\. garbled-output=0\.01/),
    ]);
  });

  it('refuses sim offsets beyond 24h', () => {
    expect(issuesOf('name: r\nboards:\n  - id: a\n    sim: { profile: p.yaml, offset: 99999999999h }\n')).toEqual([
      '4:37: boards[0].sim.offset: bad duration "99999999999h": longer than 24h, the most qhil allows',
    ]);
  });

  it('stops a YAML alias bomb at its first alias, with its place', () => {
    const levels = ['x: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (const [name, previous] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e'], ['g', 'f']]) {
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(', ')}]`);
    }
    expect(issuesOf(`name: r\nboards: [{ id: a, at: /dev/ttyUSB2 }]\n${levels.join('\n')}\n`)).toEqual([
      '4:8: aliases here expand to more than 100 nodes (a YAML "billion laughs"?): write the values out, or use fewer aliases',
    ]);
  });

  it('needs at least one board', () => {
    expect(issuesOf('name: r\nboards: []\n')).toEqual(['2:9: boards: needs at least 1 item, got a list']);
  });
});

describe('rig concurrency', () => {
  it('reads concurrency: as a whole number of boards, 1 or more', () => {
    expect(parseRigText('name: r\nconcurrency: 4\nboards:\n  - { id: a, at: /dev/ttyUSB2 }\n', 'rig.yaml', { env: {} }).concurrency).toBe(4);
    expect(parseRigText('name: r\nboards:\n  - { id: a, at: /dev/ttyUSB2 }\n', 'rig.yaml', { env: {} }).concurrency).toBeUndefined();
    expect(issuesOf('name: r\nconcurrency: 0\nboards:\n  - { id: a, at: /dev/ttyUSB2 }\n')).toEqual(["2:14: concurrency: must be >= 1, got 0 (a number)"]);
    expect(issuesOf('name: r\nconcurrency: 2.5\nboards:\n  - { id: a, at: /dev/ttyUSB2 }\n')).toEqual([expect.stringMatching(/^2:14: concurrency: /)]);
  });
});

describe('portAddressProblem', () => {
  it('accepts the DESIGN.md forms', () => {
    for (const address of ['/dev/ttyUSB2', '/dev/serial/by-id/usb-Quectel-if02-port0', 'COM5', 'tcp://ser2net:3001', 'tcp://[::1]:3001']) {
      expect(portAddressProblem(address)).toBeUndefined();
    }
  });

  it('refuses control characters, and never echoes a long address whole', () => {
    expect(portAddressProblem('/dev/tty\u001b]52;c;AAAA\u0007')).toBe('bad port address "/dev/tty\\u001b]52;c;AAAA\\u0007": control characters in a device path');
    expect(portAddressProblem(`garbage${'x'.repeat(10_000)}`)?.length).toBeLessThan(250);
  });
});

describe('substituteBoardFields', () => {
  const board: BoardSpec = {
    id: 'ec200u-01',
    model: 'EC200U-EU',
    apn: 'internet',
    at: '/dev/ttyUSB2',
    fields: { site: 'bench-1', slot: '3' },
  };

  it('replaces built-in and custom fields in nested strings, leaving other values alone', () => {
    const args = {
      apn: '${board.apn}',
      code: "print('${board.id} on ${board.model} at ${board.site}/${ board.slot }')",
      list: ['${board.at}', 5, true, null],
      nested: { deep: '${env.X} ${board.slot}' },
      timeoutMs: 60_000,
    };
    expect(substituteBoardFields(args, board)).toEqual({
      apn: 'internet',
      code: "print('ec200u-01 on EC200U-EU at bench-1/3')",
      list: ['/dev/ttyUSB2', 5, true, null],
      nested: { deep: '${env.X} 3' },
      timeoutMs: 60_000,
    });
    expect(args.apn).toBe('${board.apn}');
  });

  it('throws InputError naming an unknown field and the fields the board has', () => {
    expect(() => substituteBoardFields({ a: '${board.rack}' }, board)).toThrow(InputError);
    expect(() => substituteBoardFields({ a: '${board.rack}' }, board)).toThrow(
      '${board.rack}: board "ec200u-01" has no field "rack"; it has id, model, at, apn, site, slot',
    );
  });

  it('throws InputError for a built-in field this board does not set', () => {
    expect(() => substituteBoardFields('${board.repl}', board)).toThrow('${board.repl}: board "ec200u-01" has no repl');
  });
});
