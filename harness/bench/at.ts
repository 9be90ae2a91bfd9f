import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { AtChannel } from '../channel/at/channel.js';
import type { Link } from '../link/link.js';
import { memoryLinkPair } from '../link/memory.js';
import { SerialLink } from '../link/serial.js';
import { createAtPort } from '../sim/at/port.js';
import { ModemModel } from '../sim/modem.js';
import { resolveBoardProfile, startSimBoard } from '../sim/board.js';
import { servePty } from '../sim/serve.js';

const WARMUP = 20;
const SAMPLES = 500;

interface Rig {
  transport: string;
  host: Link;
  stop(): Promise<void>;
}

/** A simulated modem whose `AT` answers with no artificial delay, so the figure is transport + channel + interpreter. */
function benchModem(): ModemModel {
  return new ModemModel({ ...resolveBoardProfile('ec200u'), atDelays: { AT: 0 } });
}

const noNtp = { ntpQueryUtcMs: () => Promise.reject(new Error('the AT bench does no NTP')) };

function memoryRig(): Rig {
  const pair = memoryLinkPair('bench-at');
  const port = createAtPort(benchModem(), (bytes) => void pair.board.write(bytes), noNtp);
  pair.board.onData((bytes) => port.receive(bytes));
  return { transport: 'memory pair', host: pair.host, stop: async () => pair.host.close() };
}

/**
 * The simulated board (worker, shared modem, AT interpreter) served on a socat pseudo-terminal, as
 * `qhil sim --pty` presents it, with no artificial delay on `AT`.
 */
async function ptyRig(): Promise<Rig> {
  const board = await startSimBoard({ profile: { ...resolveBoardProfile('ec200u'), atDelays: { AT: 0 } } });
  try {
    const served = await servePty(board);
    const host = await SerialLink.open(served.ports.at);
    return {
      transport: 'socat pty to the sim board',
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

function socatAvailable(): boolean {
  return ['/usr/bin/socat', '/bin/socat', '/usr/local/bin/socat'].some((path) => existsSync(path));
}

function percentile(sortedMs: number[], fraction: number): number {
  const index = Math.min(sortedMs.length - 1, Math.ceil(fraction * sortedMs.length) - 1);
  return sortedMs[Math.max(0, index)] ?? Number.NaN;
}

/**
 * AT round-trip latency: `AT` -> `OK` through AtChannel to the simulated board's AT port, over a
 * socat PTY when socat is installed, else to the interpreter over a memory pair. Host monotonic clock, ms.
 * Needs `npm run build` (the sim board runs its workers from dist/).
 */
export async function benchAt(): Promise<Record<string, number | string>> {
  const rig = socatAvailable() ? await ptyRig() : memoryRig();
  try {
    const channel = new AtChannel(rig.host);
    for (let i = 0; i < WARMUP; i += 1) await channel.send('AT', { timeoutMs: 2000 });
    const roundTripsMs: number[] = [];
    for (let i = 0; i < SAMPLES; i += 1) {
      const startedAt = performance.now();
      await channel.send('AT', { timeoutMs: 2000 });
      roundTripsMs.push(performance.now() - startedAt);
    }
    roundTripsMs.sort((a, b) => a - b);
    const round = (ms: number): number => Math.round(ms * 1000) / 1000;
    return {
      atTransport: rig.transport,
      atSamples: SAMPLES,
      // The sim adds no delay of its own to `AT` (profile atDelays): the figure is transport + channel + interpreter.
      atSimDelayMs: 0,
      atRoundTripMedianMs: round(percentile(roundTripsMs, 0.5)),
      atRoundTripP99Ms: round(percentile(roundTripsMs, 0.99)),
      atRoundTripMaxMs: round(roundTripsMs.at(-1) ?? Number.NaN),
    };
  } finally {
    await rig.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchAt().then(
    (result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`),
    (error: unknown) => {
      process.stderr.write(`bench at: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 3;
    },
  );
}
