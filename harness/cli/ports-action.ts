/** What `qhil ports` does (ports.ts declares it): serialport's discovery and the Quectel USB tables. */
import { QUECTEL_VENDOR_ID, quectelModules, quectelPortRole } from '../board/usb-roles.js';
import { discoverPorts, type SerialPortInfo } from '../link/discover.js';
import { ExitCode, type CliIo } from './command.js';

function hex4(value: number | undefined): string {
  return value === undefined ? '----' : value.toString(16).padStart(4, '0');
}

export interface PortRow extends SerialPortInfo {
  quectel: boolean;
  role?: string;
  modules?: string;
}

export function describePorts(ports: SerialPortInfo[]): PortRow[] {
  return ports.map((port) => {
    const quectel = port.vendorId === QUECTEL_VENDOR_ID;
    const role = port.vendorId !== undefined && port.productId !== undefined ? quectelPortRole(port.vendorId, port.productId, port.interfaceNumber) : undefined;
    const modules = quectel && port.productId !== undefined ? quectelModules(port.productId) : undefined;
    return { ...port, quectel, ...(role && { role }), ...(modules && { modules }) };
  });
}

export function formatPorts(rows: PortRow[]): string {
  if (rows.length === 0) return 'no USB serial ports found (is the board plugged in? on Linux, is its driver bound?)\n';
  const lines = rows.map((row) => {
    const what = row.quectel ? `Quectel ${row.modules ?? row.product ?? ''}`.trim() : [row.manufacturer, row.product].filter(Boolean).join(' ');
    const iface = row.interfaceNumber === undefined ? '    ' : `if${String(row.interfaceNumber).padStart(2, '0')}`;
    const role = row.role ? row.role.toUpperCase() : row.quectel ? '-' : '';
    return [row.path.padEnd(16), `${hex4(row.vendorId)}:${hex4(row.productId)}`, iface, role.padEnd(4), what, ...row.stableNames.map((name) => `\n    ${name}`)].join('  ');
  });
  return `${lines.join('\n')}\n`;
}

/** `qhil ports [--all] [--json]`; resolves to the exit code. */
export async function listPorts(flags: { all?: boolean; json?: boolean }, io: CliIo): Promise<ExitCode> {
  const rows = describePorts(await discoverPorts({ includeNonUsb: Boolean(flags.all) }));
  io.stdout(flags.json ? `${JSON.stringify(rows, null, 2)}\n` : formatPorts(rows));
  return ExitCode.Ok;
}
