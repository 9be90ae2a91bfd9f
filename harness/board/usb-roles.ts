/**
 * What each USB interface of a Quectel module is for, by product id (reference/quectel.md, from
 * QuecPython's VS Code extension). Interfaces not listed (diagnostics, NMEA, modem) get no role.
 */
export const QUECTEL_VENDOR_ID = 0x2c7c;

export type PortRole = 'repl' | 'at';

interface ModuleInterfaces {
  modules: string;
  roles: Readonly<Record<number, PortRole>>;
}

const BY_PRODUCT_ID: Readonly<Record<number, ModuleInterfaces>> = {
  0x0901: { modules: 'EC600U / EC200U', roles: { 8: 'repl', 2: 'at' } },
  0x6001: { modules: 'EC600N', roles: { 5: 'repl', 3: 'at' } },
  // BG95 serves its REPL on the interface Windows calls the NMEA port.
  0x0700: { modules: 'BG95', roles: { 1: 'repl' } },
  0x0125: { modules: 'EC25 / EG25', roles: { 2: 'at' } },
};

export function quectelModules(productId: number): string | undefined {
  return BY_PRODUCT_ID[productId]?.modules;
}

export function quectelPortRole(vendorId: number, productId: number, interfaceNumber: number | undefined): PortRole | undefined {
  if (vendorId !== QUECTEL_VENDOR_ID || interfaceNumber === undefined) return undefined;
  return BY_PRODUCT_ID[productId]?.roles[interfaceNumber];
}
