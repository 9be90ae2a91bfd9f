// Test helper: a board the runner can use without any port, link or simulator, so the runner's
// rules (retry, abort, deadlines, classification, AT-only / REPL-only) are tested in-process.
import type { AtChannel } from '../channel/at/channel.js';
import type { ReplChannel } from '../channel/repl/repl.js';
import type { BoardDriver, LocaltimeTuple } from '../board/board.js';
import { InfrastructureError } from '../core/errors.js';
import type { BoardIdentity, BoardSpec, LocaltimeReading, Via } from '../core/model.js';
import type { BoardConnection } from '../runner/boards.js';
import type { StepBoard } from '../steps/step.js';

export interface FakeBoardOptions {
  /** Ports the board has. */
  ports: Via[];
  /** The board clock's offset from the host clock, ms. */
  clockOffsetMs?: number;
  /** Replaces readLocaltime: throw, hang, or answer as the test wants. */
  readLocaltime?: (via: Via, signal?: AbortSignal) => Promise<LocaltimeReading>;
  /** Bytes the board "sends" per read (evidence for timeouts). */
  bytesPerRead?: number;
  onHost?: boolean;
}

export interface FakeBoard extends BoardConnection {
  /** Counts every call, for assertions. */
  calls: { read: number; reconnect: number; close: number };
  /** Makes the next step see a vanished port. */
  unplug(): void;
  /** Adds to the bytes-received counter, as board output would. */
  receive(bytes: number): void;
}

function localtimeOf(ms: number): LocaltimeTuple {
  const d = new Date(ms);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  return [
    d.getUTCFullYear(),
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    (d.getUTCDay() + 6) % 7,
    Math.floor((ms - yearStart) / 86_400_000) + 1,
  ];
}

export function fakeBoard(spec: BoardSpec, options: FakeBoardOptions): FakeBoard {
  let received = 0;
  let disconnected = false;
  const calls = { read: 0, reconnect: 0, close: 0 };
  const read = async (via: Via, signal?: AbortSignal): Promise<LocaltimeReading> => {
    calls.read++;
    if (options.readLocaltime) return options.readLocaltime(via, signal);
    const hostSendMs = Date.now();
    received += options.bytesPerRead ?? 40;
    const hostReceiveMs = Date.now();
    return {
      via,
      localtime: localtimeOf(hostSendMs + (options.clockOffsetMs ?? 0)),
      zoneQuarterHours: via === 'at' ? 0 : undefined,
      hostSendMs,
      hostReceiveMs,
      raw: 'fake',
    };
  };
  const driver = (via: Via): BoardDriver => ({
    via,
    identify: async () => ({ model: 'FAKE', firmware: 'FAKE01', details: {} }),
    dial: async (dial) => ({ profile: dial.profile, address: '10.0.0.2', alreadyUp: false, dns: [] }),
    syncClock: async () => ({ ok: true }),
    readLocaltime: (readOptions) => read(via, (readOptions as { signal?: AbortSignal }).signal),
  });
  const missing = (via: Via): InfrastructureError => new InfrastructureError(`board ${spec.id} has no ${via} port`);
  const board: StepBoard & { identify(): Promise<BoardIdentity | undefined> } = {
    id: spec.id,
    ports: options.ports,
    driver: (via) => {
      if (!options.ports.includes(via)) throw missing(via);
      return driver(via);
    },
    replChannel: (): ReplChannel => {
      throw missing('repl');
    },
    atChannel: (): AtChannel => {
      throw missing('at');
    },
    identify: async () => ({ model: 'FAKE', firmware: 'FAKE01', details: {} }),
  };
  return {
    spec,
    board,
    ports: Object.fromEntries(options.ports.map((via) => [via, `fake://${spec.id}/${via}`])),
    transcripts: [],
    get disconnected() {
      return disconnected;
    },
    onHost: options.onHost ?? false,
    bytesReceived: () => received,
    reconnect: async () => {
      calls.reconnect++;
      disconnected = false;
    },
    close: async () => {
      calls.close++;
    },
    calls,
    unplug: () => {
      disconnected = true;
    },
    receive: (bytes) => {
      received += bytes;
    },
  };
}
