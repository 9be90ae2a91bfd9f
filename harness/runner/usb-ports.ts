/**
 * Ports by USB serial number and interface role (`at: { usb-serial: X, role: at }`), found with what
 * `qhil ports` knows (sysfs, the Quectel interface table), and the `usb-serial:` pin checked against
 * the device behind a path. A ttyUSB number changes with every re-enumeration; the serial does not.
 */
import { realpathSync } from 'node:fs';
import { quectelPortRole } from '../board/usb-roles.js';
import { InfrastructureError } from '../core/errors.js';
import type { BoardSpec, Via } from '../core/model.js';
import { discoverPorts, type SerialPortInfo } from '../link/discover.js';

function roleOf(port: SerialPortInfo): Via | undefined {
  return port.vendorId !== undefined && port.productId !== undefined ? quectelPortRole(port.vendorId, port.productId, port.interfaceNumber) : undefined;
}

/** The path of the port with this USB serial number and role: its stable by-id name when it has one. */
export function findUsbPort(ports: SerialPortInfo[], usbSerial: string, role: Via): string {
  const device = ports.filter((port) => port.serialNumber === usbSerial);
  if (device.length === 0) {
    const serials = [...new Set(ports.map((port) => port.serialNumber).filter(Boolean))];
    throw new InfrastructureError(`no USB device with serial number ${usbSerial} is plugged in${serials.length > 0 ? ` (there are ${serials.join(', ')})` : ''}: see qhil ports`);
  }
  const match = device.find((port) => roleOf(port) === role);
  if (!match) throw new InfrastructureError(`USB device ${usbSerial} has no interface qhil knows as the ${role} port: see qhil ports`);
  return match.stableNames.find((name) => name.includes('/by-id/')) ?? match.path;
}

/** The USB serial number of the device behind a device path, or undefined when there is none. */
export function usbSerialBehind(ports: SerialPortInfo[], address: string): string | undefined {
  const named = ports.find((port) => port.path === address || port.stableNames.includes(address));
  if (named) return named.serialNumber;
  let real: string;
  try {
    real = realpathSync(address);
  } catch {
    return undefined;
  }
  return ports.find((port) => port.path === real)?.serialNumber;
}

/**
 * The board with its USB-found ports given paths, after checking the `usb-serial:` pin on its device
 * paths. Boards with neither are returned as they are, without reading sysfs.
 */
export async function resolveUsbPorts(spec: BoardSpec, list: () => Promise<SerialPortInfo[]> = () => discoverPorts()): Promise<BoardSpec> {
  if (!spec.usbPorts && spec.pin?.usbSerial === undefined) return spec;
  const ports = await list();
  const resolved: BoardSpec = { ...spec };
  for (const via of ['at', 'repl'] as const) {
    const wanted = spec.usbPorts?.[via];
    if (wanted) resolved[via] = findUsbPort(ports, wanted.usbSerial, wanted.role);
  }
  const pinned = spec.pin?.usbSerial;
  if (pinned !== undefined) {
    for (const via of ['at', 'repl'] as const) {
      const address = resolved[via];
      // A tcp:// port has no USB device this host can see; its IMEI pin is what identifies it.
      if (address === undefined || address.startsWith('tcp://')) continue;
      const serial = usbSerialBehind(ports, address);
      if (serial !== pinned) {
        throw new InfrastructureError(`wrong board on ${address}: USB serial ${serial ?? '(no USB device behind it)'}, rig says ${pinned}`);
      }
    }
  }
  return resolved;
}
