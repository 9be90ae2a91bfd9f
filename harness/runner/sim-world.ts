import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import { FIRMWARE_NTP_FALLBACKS, FIRMWARE_NTP_HOST } from '../sim/ntp.js';
import type { ReferenceSpec, Scenario } from '../core/model.js';

/** Names simulated boards know by default, as on a real QuecPython board (ntptime's fall-backs included). */
const DEFAULT_NTP_NAMES = [FIRMWARE_NTP_HOST, ...FIRMWARE_NTP_FALLBACKS];

/**
 * The little world a simulated board lives in when no hardware is attached: one SNTP server on
 * loopback serving the host's clock, and a host map that sends the NTP names the scenarios use to it.
 * Nothing leaves the machine.
 */
export interface SimWorld {
  server: SntpServer;
  /** Host name -> `127.0.0.1:<port>`, for the simulated boards' DNS. */
  hosts: Record<string, string>;
  /** The local server as a reference clock. */
  reference: ReferenceSpec;
  close(): Promise<void>;
}

export async function startSimWorld(scenarios: Scenario[]): Promise<SimWorld> {
  const server = await startSntpServer({ host: '127.0.0.1', port: 0 });
  const address = `127.0.0.1:${server.port}`;
  const names = new Set(DEFAULT_NTP_NAMES);
  for (const scenario of scenarios) {
    for (const step of scenario.steps) {
      if (step.kind === 'sync' && typeof step.args.server === 'string' && !step.args.server.includes('${')) names.add(step.args.server);
    }
  }
  return {
    server,
    hosts: Object.fromEntries([...names].map((name) => [name, address])),
    reference: { servers: [address], samples: 4, timeoutMs: 5000, keys: [] },
    close: () => server.close(),
  };
}
