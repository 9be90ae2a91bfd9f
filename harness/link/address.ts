/**
 * Port addresses (DESIGN.md, CLI): what `--repl` / `--at` and a rig file's `at:` / `repl:` accept.
 * Kept apart from the rig loader so a command that only opens a port (`qhil exec`) does not load
 * zod and yaml to check its flag.
 */
import { InputError } from '../core/errors.js';
import { quoted } from '../core/quote.js';
import { parseTcpAddress } from './tcp.js';

const PORT_EXAMPLES = 'a device path (/dev/ttyUSB2, /dev/serial/by-id/..., COM5) or tcp://host:port';

/** Why `address` is not a port address, or undefined when it is one. */
export function portAddressProblem(address: string): string | undefined {
  const shown = quoted(address);
  if (address.startsWith('tcp://')) {
    try {
      const { port } = parseTcpAddress(address);
      return port >= 1 && port <= 65535 ? undefined : `bad port address ${shown}: TCP port must be 1..65535`;
    } catch {
      return `bad port address ${shown}: expected tcp://host:port`;
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) return `unsupported port address ${shown}: expected ${PORT_EXAMPLES}`;
  // A path with a NUL or a line break cannot be opened, and would garble the messages that name it.
  if (/[\0-\x1f]/.test(address)) return `bad port address ${shown}: control characters in a device path`;
  if (address.startsWith('/') || /^COM\d+$/i.test(address) || /^\\\\\.\\COM\d+$/i.test(address)) return undefined;
  return `bad port address ${shown}: expected ${PORT_EXAMPLES}`;
}

/** `--repl <port>` / `--at <port>` of a command that opens a port itself (`qhil exec`): InputError (exit 2) unless it is a port address. */
export function checkPortFlag(flag: string, address: string): void {
  const problem = portAddressProblem(address);
  if (problem) throw new InputError(`${flag}: ${problem}`);
}
