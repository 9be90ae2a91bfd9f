import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InfrastructureError, InputError } from '../core/errors.js';
import type { BoardIdentity, BoardSpec } from '../core/model.js';
import type { SerialPortInfo } from '../link/discover.js';
import { identityProblem, returnedIdentityProblem } from './identity.js';
import { powerCommands, runPower } from './power.js';
import { parseRigText, ValidationError } from './rig.js';
import { findUsbPort, resolveUsbPorts } from './usb-ports.js';

function issuesOf(text: string): string[] {
  try {
    parseRigText(text, 'rig.yaml', { env: {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((issue) => `${issue.location.line}:${issue.location.column}: ${issue.message}`);
  }
  throw new Error('expected the rig to be rejected');
}

const identity = (over: Partial<BoardIdentity> = {}): BoardIdentity => ({ model: 'EC200U-EU', imei: '864430010001234', firmware: 'EC200UEUAAR03A01M08_OCPU_QPY', details: {}, ...over });
const spec = (pin: BoardSpec['pin']): BoardSpec => ({ id: 'b', at: '/dev/ttyUSB2', fields: {}, pin });

describe('rig: identity, USB ports and power fields', () => {
  it('reads pins, ports by USB serial and role, power commands and the lock folder', () => {
    const rig = parseRigText(
      [
        'name: r',
        'lock-dir: locks',
        'boards:',
        '  - id: b',
        "    at: { usb-serial: 'A1', role: at }",
        '    repl: /dev/ttyUSB6',
        "    imei: '869100000000001'",
        '    firmware: /^EC200U/',
        "    usb-serial: 'A1'",
        '    power: { off: [relay, "1", off], on: [relay, "1", on], timeout: 5s }',
      ].join('\n'),
      '/lab/rig.yaml',
      { env: {} },
    );
    expect(rig.lockDir).toBe('/lab/locks');
    expect(rig.boards[0]).toMatchObject({
      repl: '/dev/ttyUSB6',
      usbPorts: { at: { usbSerial: 'A1', role: 'at' } },
      pin: { imei: '869100000000001', firmware: '/^EC200U/', usbSerial: 'A1' },
      power: { off: ['relay', '1', 'off'], on: ['relay', '1', 'on'], timeoutMs: 5000 },
    });
    expect(rig.boards[0]?.at).toBeUndefined();
  });

  it('rejects a bad IMEI, a firmware pattern that does not compile, a shell line, a power block without cycle or on+off', () => {
    const issues = issuesOf(
      [
        'name: r',
        'boards:',
        '  - id: b',
        '    at: /dev/ttyUSB2',
        '    imei: 8644-3001',
        '    firmware: /(unclosed/',
        '    power: { off: "relay 1 off" }',
        '  - id: c',
        '    at: { usb-serial: A1, role: diag }',
      ].join('\n'),
    );
    expect(issues.join('\n')).toMatch(/5:11: .*an IMEI: 15 digits/);
    expect(issues.join('\n')).toMatch(/6:15: .*(unterminated|Unterminated|invalid|Invalid)/);
    expect(issues.join('\n')).toMatch(/7:19: .*expected a list/);
    expect(issues.join('\n')).toMatch(/9:/);
  });
});

describe('identity pins', () => {
  it('names the port, what the board said and what the rig says', () => {
    expect(identityProblem(spec({ imei: '869100000000001' }), identity(), '/dev/ttyUSB2')).toBe('wrong board on /dev/ttyUSB2: IMEI 864430010001234, rig says 869100000000001');
    expect(identityProblem(spec({ firmware: '/^EC600N/' }), identity(), 'p')).toBe('wrong board on p: firmware EC200UEUAAR03A01M08_OCPU_QPY, rig says /^EC600N/');
    expect(identityProblem(spec({ firmware: 'EC200UEUAAR03A01M08' }), identity(), 'p')).toMatch(/rig says EC200UEUAAR03A01M08$/);
    expect(identityProblem(spec({ imei: '864430010001234', firmware: '/^EC200UEU/' }), identity(), 'p')).toBeUndefined();
    expect(identityProblem(spec({ imei: '864430010001234' }), undefined, 'p')).toMatch(/did not say who it is/);
    expect(identityProblem(spec(undefined), undefined, 'p')).toBeUndefined();
  });

  it('after a reset the same board must answer', () => {
    expect(returnedIdentityProblem(identity(), identity({ imei: '869100000000001' }), 'p')).toBe('a different board answered on p: IMEI 869100000000001, before it was 864430010001234');
    expect(returnedIdentityProblem(identity(), identity(), 'p')).toBeUndefined();
    expect(returnedIdentityProblem(undefined, identity(), 'p')).toBeUndefined();
  });
});

describe('ports by USB serial number and role', () => {
  const ports: SerialPortInfo[] = [
    { path: '/dev/ttyUSB2', stableNames: ['/dev/serial/by-id/usb-Quectel_EC200U-A1-if02-port0'], vendorId: 0x2c7c, productId: 0x0901, interfaceNumber: 2, serialNumber: 'A1' },
    { path: '/dev/ttyUSB6', stableNames: [], vendorId: 0x2c7c, productId: 0x0901, interfaceNumber: 8, serialNumber: 'A1' },
    { path: '/dev/ttyUSB9', stableNames: [], vendorId: 0x2c7c, productId: 0x0901, interfaceNumber: 2, serialNumber: 'B2' },
  ];

  it('finds the interface by role, preferring its by-id name', () => {
    expect(findUsbPort(ports, 'A1', 'at')).toBe('/dev/serial/by-id/usb-Quectel_EC200U-A1-if02-port0');
    expect(findUsbPort(ports, 'A1', 'repl')).toBe('/dev/ttyUSB6');
    expect(() => findUsbPort(ports, 'C3', 'at')).toThrow(/no USB device with serial number C3 is plugged in \(there are A1, B2\)/);
    expect(() => findUsbPort(ports, 'B2', 'repl')).toThrow(InfrastructureError);
  });

  it('resolves a board and checks its usb-serial pin on device paths; tcp ports are not checked', async () => {
    const board: BoardSpec = { id: 'b', fields: {}, usbPorts: { at: { usbSerial: 'A1', role: 'at' } }, repl: 'tcp://127.0.0.1:7002', pin: { usbSerial: 'A1' } };
    expect((await resolveUsbPorts(board, () => Promise.resolve(ports))).at).toBe('/dev/serial/by-id/usb-Quectel_EC200U-A1-if02-port0');
    const wrong: BoardSpec = { id: 'b', fields: {}, usbPorts: { at: { usbSerial: 'B2', role: 'at' } }, pin: { usbSerial: 'A1' } };
    await expect(resolveUsbPorts(wrong, () => Promise.resolve(ports))).rejects.toThrow(/^wrong board on \/dev\/ttyUSB9: USB serial B2, rig says A1$/);
    const plain: BoardSpec = { id: 'b', fields: {}, at: '/dev/ttyUSB2' };
    expect(await resolveUsbPorts(plain, () => Promise.reject(new Error('sysfs must not be read')))).toBe(plain);
  });
});

describe('power commands', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('cycle is the cycle command, else off then on', () => {
    expect(powerCommands({ cycle: ['c'], off: ['f'], on: ['n'], timeoutMs: 1 }, 'cycle')).toEqual([['c']]);
    expect(powerCommands({ off: ['f'], on: ['n'], timeoutMs: 1 }, 'cycle')).toEqual([['f'], ['n']]);
    expect(powerCommands(undefined, 'cycle')).toBeUndefined();
  });

  it('runs argument arrays without a shell, keeps their output in the transcript, and fails on exit codes and timeouts', async () => {
    dir = mkdtempSync(join(tmpdir(), 'qhil-power-'));
    const transcriptPath = join(dir, 'transcripts', 'b-power.log');
    // `$(...)` and `;` reach the program as text: no shell ever sees them.
    const ran = await runPower('b', { cycle: ['node', '-e', 'console.log(process.argv[1])', '$(touch x); echo hi'], timeoutMs: 20_000 }, 'cycle', { transcriptPath });
    expect(ran).toMatch(/^node -e .* \(\d+ms\)$/);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(transcriptPath, 'utf8')).toMatch(/power cycle: \$ node -e .*\n\$\(touch x\); echo hi\n.*power cycle: exit 0 after \d+ms\n/);
    await expect(runPower('b', { cycle: ['node', '-e', 'console.error("relay busy"); process.exit(4)'], timeoutMs: 20_000 }, 'cycle', { transcriptPath })).rejects.toThrow(
      /power cycle of board b: .* failed \(exit code 4\): "relay busy"/,
    );
    await expect(runPower('b', { cycle: ['node', '-e', 'setTimeout(() => {}, 60000)'], timeoutMs: 300 }, 'cycle', { transcriptPath })).rejects.toThrow(/did not finish within 300ms/);
    await expect(runPower('b', { cycle: ['/nonexistent/relay'], timeoutMs: 1000 }, 'cycle', { transcriptPath })).rejects.toThrow(InfrastructureError);
    await expect(runPower('b', undefined, 'cycle', { transcriptPath })).rejects.toThrow(InputError);
  });
});
