/**
 * AT round trip (`AT` -> `OK` through AtChannel), split into whose time it is. Four rigs, rounds
 * alternating between the two of each pair:
 *   harness alone       AtChannel over a memory pair to a peer that answers at once (no transport, no sim)
 *   + interpreter       the same pair to the sim's AT interpreter (atDelays AT: 0, so no timer)
 *   PTY floor           a socat PTY to a minimal OK responder in its own process
 *   sim board over PTY  a socat PTY to the simulated board, as `qhil sim --pty` serves it (AT: 0)
 * The simulator's share is the sim board minus the floor (same PTY, same channel); the harness's
 * share is the first rig. Host monotonic clock, ms. Needs `npm run build` (the sim runs from dist/).
 */
import { pathToFileURL } from 'node:url';
import { AtChannel } from '../channel/at/channel.js';
import type { Link } from '../link/link.js';
import { memoryLinkPair } from '../link/memory.js';
import { SerialLink } from '../link/serial.js';
import { createAtPort } from '../sim/at/port.js';
import { ModemModel } from '../sim/modem.js';
import { resolveBoardProfile, startSimBoard } from '../sim/board.js';
import { servePty } from '../sim/serve.js';
import { alternate, comparisonRows, type Spread, type Subject } from './compare.js';
import { startFloor } from './floor.js';
import { atResponder } from '../testing/minimal-peers.js';
import { socatAvailable } from './tools.js';

const SAMPLES = 500;

interface Rig {
  label: string;
  host: Link;
  stop(): Promise<void>;
}

const zeroDelayProfile = () => ({ ...resolveBoardProfile('ec200u'), atDelays: { AT: 0 } });
const noNtp = { ntpQueryUtcMs: () => Promise.reject(new Error('the AT bench does no NTP')) };

function instantPeerRig(): Rig {
  const pair = memoryLinkPair('bench-at-instant');
  const respond = atResponder((text) => void pair.board.write(Buffer.from(text, 'latin1')));
  pair.board.onData((bytes) => respond(Buffer.from(bytes).toString('latin1')));
  return { label: 'AT: harness alone (memory pair, instant peer)', host: pair.host, stop: async () => pair.host.close() };
}

function interpreterRig(): Rig {
  const pair = memoryLinkPair('bench-at-interpreter');
  const port = createAtPort(new ModemModel(zeroDelayProfile()), (bytes) => void pair.board.write(bytes), noNtp);
  pair.board.onData((bytes) => port.receive(Buffer.from(bytes)));
  return {
    label: 'AT: harness + sim interpreter (memory pair)',
    host: pair.host,
    stop: async () => {
      port.dispose();
      await pair.host.close();
    },
  };
}

async function floorRig(): Promise<Rig> {
  const floor = await startFloor('at');
  try {
    const host = await SerialLink.open(floor.hostPath);
    return {
      label: 'AT: minimal OK responder over PTY (floor)',
      host,
      stop: async () => {
        await host.close();
        await floor.stop();
      },
    };
  } catch (error) {
    await floor.stop();
    throw error;
  }
}

async function simPtyRig(): Promise<Rig> {
  const board = await startSimBoard({ profile: zeroDelayProfile() });
  try {
    const served = await servePty(board);
    const host = await SerialLink.open(served.ports.at);
    return {
      label: 'AT -> OK, sim board over PTY',
      host,
      stop: async () => {
        await host.close();
        await served.close();
        await board.close();
      },
    };
  } catch (error) {
    await board.close();
    throw error;
  }
}

function roundTrip(rig: Rig): Subject {
  const channel = new AtChannel(rig.host);
  return {
    label: rig.label,
    run: async () => {
      const startedAt = performance.now();
      await channel.send('AT', { timeoutMs: 2000 });
      return performance.now() - startedAt;
    },
  };
}

/** Two rigs side by side, alternating, after warm-up rounds of each. */
async function pairOf(oursRig: Rig, anchorRig: Rig): Promise<{ rows: Record<string, string>; ours: Spread; anchor: Spread }> {
  const ours = roundTrip(oursRig);
  const anchor = roundTrip(anchorRig);
  for (let i = 0; i < 20; i += 1) {
    await ours.run();
    await anchor.run();
  }
  const result = await alternate(ours, anchor, SAMPLES);
  return { rows: comparisonRows(ours, anchor, result), ...result };
}

async function withRigs<T>(start: () => Promise<[Rig, Rig]>, use: (rigs: [Rig, Rig]) => Promise<T>): Promise<T> {
  const rigs = await start();
  try {
    return await use(rigs);
  } finally {
    for (const rig of rigs) await rig.stop();
  }
}

async function startBoth(first: () => Promise<Rig>, second: () => Promise<Rig>): Promise<[Rig, Rig]> {
  const a = await first();
  try {
    return [a, await second()];
  } catch (error) {
    await a.stop();
    throw error;
  }
}

export async function benchAt(): Promise<Record<string, number | string>> {
  const inProcess = await withRigs(
    async () => [interpreterRig(), instantPeerRig()],
    ([interpreter, instant]) => pairOf(interpreter, instant),
  );
  const figures: Record<string, number | string> = { ...inProcess.rows };
  if (!socatAvailable()) return { ...figures, 'AT over PTY': 'skipped: socat not installed' };
  const overPty = await withRigs(
    () => startBoth(simPtyRig, floorRig),
    ([sim, floor]) => pairOf(sim, floor),
  );
  const ms = (value: number): string => `${value.toFixed(3)} ms`;
  return {
    ...figures,
    ...overPty.rows,
    'AT share: harness (AtChannel, median)': ms(inProcess.anchor.medianMs),
    'AT share: sim AT interpreter (median)': ms(inProcess.ours.medianMs - inProcess.anchor.medianMs),
    'AT share: simulator over PTY (sim board - floor)': ms(overPty.ours.medianMs - overPty.anchor.medianMs),
    'AT share: PTY transport (floor - harness)': ms(overPty.anchor.medianMs - inProcess.anchor.medianMs),
    'AT samples per rig': SAMPLES,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchAt().then(
    (result) => {
      for (const [label, value] of Object.entries(result)) process.stdout.write(`  ${label.padEnd(58)} ${value}\n`);
    },
    (error: unknown) => {
      process.stderr.write(`bench at: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 3;
    },
  );
}
