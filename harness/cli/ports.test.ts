import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverLinuxPorts } from '../link/discover.js';
import { describePorts, formatPorts } from './ports-action.js';

/** A made-up /sys and /dev with an EC200U (AT on if02, REPL on if08) and an FTDI adapter. */
function fakeMachine(): { sysRoot: string; devRoot: string } {
  const root = mkdtempSync(join(tmpdir(), 'qhil-ports-'));
  const sysRoot = join(root, 'sys');
  const devRoot = join(root, 'dev');
  const usb = (device: string, vid: string, pid: string, product: string, serial: string): string => {
    const dir = join(sysRoot, 'devices', 'pci0000:00', 'usb1', device);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'idVendor'), `${vid}\n`);
    writeFileSync(join(dir, 'idProduct'), `${pid}\n`);
    writeFileSync(join(dir, 'product'), `${product}\n`);
    writeFileSync(join(dir, 'serial'), `${serial}\n`);
    return dir;
  };
  const tty = (deviceDir: string, iface: string, number: number, name: string): void => {
    const ifaceDir = join(deviceDir, iface);
    const portDir = join(ifaceDir, name);
    mkdirSync(portDir, { recursive: true });
    writeFileSync(join(ifaceDir, 'bInterfaceNumber'), `${number.toString(16).padStart(2, '0')}\n`);
    mkdirSync(join(sysRoot, 'class', 'tty', name), { recursive: true });
    symlinkSync(portDir, join(sysRoot, 'class', 'tty', name, 'device'));
  };
  const quectel = usb('1-1', '2c7c', '0901', 'Android', 'QC123');
  tty(quectel, '1-1:1.2', 2, 'ttyUSB0');
  tty(quectel, '1-1:1.8', 8, 'ttyUSB6');
  tty(quectel, '1-1:1.3', 3, 'ttyUSB1');
  const ftdi = usb('1-2', '0403', '6001', 'FT232R USB UART', 'A1B2');
  tty(ftdi, '1-2:1.0', 0, 'ttyUSB9');
  mkdirSync(join(sysRoot, 'class', 'tty', 'tty0'), { recursive: true });
  mkdirSync(join(devRoot, 'serial', 'by-id'), { recursive: true });
  symlinkSync('../../ttyUSB6', join(devRoot, 'serial', 'by-id', 'usb-Quectel_EC200U_QC123-if08-port0'));
  return { sysRoot, devRoot };
}

describe('qhil ports', () => {
  it('recognises a Quectel board and names the role of each interface', () => {
    const { sysRoot, devRoot } = fakeMachine();
    const rows = describePorts(discoverLinuxPorts({ sysRoot, devRoot }));
    expect(rows.map((row) => [row.path.replace(devRoot, '/dev'), row.interfaceNumber, row.role ?? null, row.quectel])).toEqual([
      ['/dev/ttyUSB0', 2, 'at', true],
      ['/dev/ttyUSB1', 3, null, true],
      ['/dev/ttyUSB6', 8, 'repl', true],
      ['/dev/ttyUSB9', 0, null, false],
    ]);
    expect(rows[2]?.stableNames.map((name) => name.replace(devRoot, '/dev'))).toEqual(['/dev/serial/by-id/usb-Quectel_EC200U_QC123-if08-port0']);
    const text = formatPorts(rows);
    expect(text).toMatch(/ttyUSB6 +2c7c:0901 +if08 +REPL +Quectel EC600U \/ EC200U/);
    expect(text).toMatch(/ttyUSB9 +0403:6001 +if00 +FT232R USB UART/);
  });

  it('says so when there is no USB serial port', () => {
    expect(formatPorts([])).toMatch(/no USB serial ports found/);
  });
});
