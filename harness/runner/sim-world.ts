import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import { FIRMWARE_NTP_FALLBACKS, FIRMWARE_NTP_HOST } from '../sim/ntp.js';
import type { BoardSpec, ReferenceSpec, Scenario, StepSpec } from '../core/model.js';
import { stepRegistry } from '../steps/index.js';
import type { StepDefinition } from '../steps/step.js';
import { stepArgs } from './checks.js';
import { resolveStepArgs } from './preflight.js';
import { startWorldPlatform, type WorldPlatform } from './sim-platform.js';

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
  /** The embedded IoT platform, when a scenario signs in to one by name. */
  platform?: WorldPlatform;
  close(): Promise<void>;
}

/**
 * The NTP host names the scenarios' steps declare (`ntpHosts`). A step that uses `${board.<field>}` is
 * asked on each of `boards` with its fields filled in; without boards it is skipped.
 */
export function ntpHostsOf(scenarios: Scenario[], boards: BoardSpec[] = []): Set<string> {
  const names = new Set<string>();
  for (const scenario of scenarios) {
    for (const step of scenario.steps) {
      const definition = stepRegistry.get(step.kind);
      if (!definition?.ntpHosts) continue;
      const views = step.raw ? boards.map((board) => argsOrUndefined(step, definition, board)) : [step.args];
      for (const args of views) {
        if (args) for (const name of definition.ntpHosts(stepArgs(args))) names.add(name);
      }
    }
  }
  return names;
}

function argsOrUndefined(step: StepSpec, definition: StepDefinition, board: BoardSpec): Record<string, unknown> | undefined {
  try {
    return resolveStepArgs(step, definition, board);
  } catch {
    // The preflight reports it.
    return undefined;
  }
}

/** `boards`, when given, lets steps that use `${board.<field>}` name their NTP hosts too. */
export async function startSimWorld(scenarios: Scenario[], boards: BoardSpec[] = []): Promise<SimWorld> {
  const server = await startSntpServer({ host: '127.0.0.1', port: 0 });
  const address = `127.0.0.1:${server.port}`;
  const names = new Set(DEFAULT_NTP_NAMES);
  for (const name of ntpHostsOf(scenarios, boards)) names.add(name);
  const platform = await startWorldPlatform(scenarios, boards).catch(async (error: unknown) => {
    await server.close();
    throw error;
  });
  return {
    server,
    hosts: { ...Object.fromEntries([...names].map((name) => [name, address])), ...platform?.hosts },
    reference: { servers: [address], samples: 4, timeoutMs: 5000, keys: [] },
    platform,
    close: async () => {
      await Promise.all([server.close(), platform?.platform.close()]);
    },
  };
}
