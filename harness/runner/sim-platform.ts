/**
 * The IoT platform of the simulated world: when a scenario's steps sign in to a platform by name
 * (`broker: iot.example`), one embedded platform (platform/platform.ts) serves them all on loopback,
 * knowing each device the steps name, and the simulated boards' host map sends those names to it.
 * A broker given as an IP address is somebody else's (a test's, a lab's): left alone.
 */
import { isIP } from 'node:net';
import type { BoardSpec, Scenario } from '../core/model.js';
import { startPlatform, type SimulatedPlatform } from '../platform/platform.js';
import type { DeviceCredentials } from '../platform/signin.js';
import { stepRegistry } from '../steps/index.js';
import { parseBroker } from '../steps/sync-iot-platform.js';
import { stepArgs } from './checks.js';
import { resolveStepArgs } from './preflight.js';

export interface WorldPlatform {
  platform: SimulatedPlatform;
  /** Broker host name -> `127.0.0.1:<port>`. */
  hosts: Record<string, string>;
}

/** The platforms the scenarios' steps declare (`iotPlatforms`), on each board when a step uses `${board.<field>}`. */
function platformNeeds(scenarios: Scenario[], boards: BoardSpec[]): { names: Set<string>; devices: DeviceCredentials[] } {
  const names = new Set<string>();
  const devices: DeviceCredentials[] = [];
  for (const scenario of scenarios) {
    for (const step of scenario.steps) {
      const definition = stepRegistry.get(step.kind);
      if (!definition?.iotPlatforms) continue;
      const views = step.raw
        ? boards.map((board) => {
            try {
              return resolveStepArgs(step, definition, board);
            } catch {
              return undefined; // the preflight reports it
            }
          })
        : [step.args];
      for (const args of views) {
        if (!args) continue;
        for (const need of definition.iotPlatforms(stepArgs(args))) {
          const host = parseBroker(need.broker)?.host;
          if (host === undefined || isIP(host) !== 0) continue;
          names.add(host);
          if (!devices.some((d) => d.productKey === need.productKey && d.deviceName === need.deviceName && d.deviceSecret === need.deviceSecret)) {
            devices.push({ productKey: need.productKey, deviceName: need.deviceName, deviceSecret: need.deviceSecret });
          }
        }
      }
    }
  }
  return { names, devices };
}

/** Starts the world's platform when a scenario needs one, else resolves to undefined. */
export async function startWorldPlatform(scenarios: Scenario[], boards: BoardSpec[]): Promise<WorldPlatform | undefined> {
  const { names, devices } = platformNeeds(scenarios, boards);
  if (names.size === 0) return undefined;
  const platform = await startPlatform({ devices });
  const address = `127.0.0.1:${platform.port}`;
  return { platform, hosts: Object.fromEntries([...names].map((name) => [name, address])) };
}
