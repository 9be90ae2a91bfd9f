import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { SerialPort } from 'serialport';

/** A serial port the machine has, with what USB says about it. */
export interface SerialPortInfo {
  /** The device to open: `/dev/ttyUSB2`, `COM5`. */
  path: string;
  /** Stable names that point at it (`/dev/serial/by-id/...`), best for rig files. */
  stableNames: string[];
  vendorId?: number;
  productId?: number;
  /** USB interface number (`if02`, Windows `MI_02`). */
  interfaceNumber?: number;
  manufacturer?: string;
  product?: string;
  serialNumber?: string;
}

export interface DiscoverOptions {
  /** Roots to read, so tests can give a made-up tree; default `/sys` and `/dev`. */
  sysRoot?: string;
  devRoot?: string;
  /** Also list ports with no USB device behind them (built-in UARTs). */
  includeNonUsb?: boolean;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function readHex(path: string): number | undefined {
  const text = readText(path);
  return text === undefined || !/^[0-9a-f]+$/i.test(text) ? undefined : parseInt(text, 16);
}

/** `/dev/serial/by-id` and `by-path` links, by the device they point at. */
function stableNames(devRoot: string): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const folder of ['by-id', 'by-path']) {
    const dir = join(devRoot, 'serial', folder);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir)) {
      const link = join(dir, entry);
      try {
        const target = basename(resolve(dir, readlinkSync(link)));
        names.set(target, [...(names.get(target) ?? []), link]);
      } catch {
        // Not a link: skip it.
      }
    }
  }
  return names;
}

/**
 * Linux: the serial ports under /sys/class/tty, with the USB device and interface each belongs to
 * (walking up from the port's device to the folder with `bInterfaceNumber`, then the one with `idVendor`).
 */
export function discoverLinuxPorts(options: DiscoverOptions = {}): SerialPortInfo[] {
  const sysRoot = options.sysRoot ?? '/sys';
  const devRoot = options.devRoot ?? '/dev';
  const classDir = join(sysRoot, 'class', 'tty');
  if (!existsSync(classDir)) return [];
  const aliases = stableNames(devRoot);
  const ports: SerialPortInfo[] = [];
  for (const name of readdirSync(classDir).sort()) {
    const deviceLink = join(classDir, name, 'device');
    if (!existsSync(deviceLink)) continue;
    let dir = realpathSync(deviceLink);
    let interfaceNumber: number | undefined;
    let usbDevice: string | undefined;
    for (let depth = 0; depth < 8 && dir !== dirname(dir); depth++, dir = dirname(dir)) {
      if (interfaceNumber === undefined && existsSync(join(dir, 'bInterfaceNumber'))) interfaceNumber = readHex(join(dir, 'bInterfaceNumber'));
      if (existsSync(join(dir, 'idVendor'))) {
        usbDevice = dir;
        break;
      }
    }
    if (!usbDevice && !options.includeNonUsb) continue;
    ports.push({
      path: join(devRoot, name),
      stableNames: aliases.get(name) ?? [],
      ...(usbDevice && {
        vendorId: readHex(join(usbDevice, 'idVendor')),
        productId: readHex(join(usbDevice, 'idProduct')),
        interfaceNumber,
        manufacturer: readText(join(usbDevice, 'manufacturer')),
        product: readText(join(usbDevice, 'product')),
        serialNumber: readText(join(usbDevice, 'serial')),
      }),
    });
  }
  return ports;
}

/** Every serial port: sysfs on Linux (no udev needed), the serialport library elsewhere. */
export async function discoverPorts(options: DiscoverOptions = {}): Promise<SerialPortInfo[]> {
  if (process.platform === 'linux') return discoverLinuxPorts(options);
  const listed = await SerialPort.list();
  return listed.map((port) => {
    // Windows names the interface in the PnP id: USB\VID_2C7C&PID_0901&MI_08\...
    const mi = /MI_([0-9a-f]{2})/i.exec(port.pnpId ?? '')?.[1];
    return {
      path: port.path,
      stableNames: [],
      vendorId: port.vendorId ? parseInt(port.vendorId, 16) : undefined,
      productId: port.productId ? parseInt(port.productId, 16) : undefined,
      interfaceNumber: mi === undefined ? undefined : parseInt(mi, 16),
      manufacturer: port.manufacturer,
      serialNumber: port.serialNumber,
    };
  });
}
