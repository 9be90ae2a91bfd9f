import { join } from 'node:path';
import { AtChannel } from '../channel/at/channel.js';
import { ReplChannel } from '../channel/repl/repl.js';
import { QuecBoard } from '../board/quec-board.js';
import type { Via } from '../board/board.js';
import type { Link } from '../link/link.js';
import { openLink } from '../link/open.js';
import { TranscriptTap } from '../link/transcript.js';
import { startSimBoard, type SimBoard } from '../sim/board.js';
import type { BoardSpec } from './model.js';

/** A board opened for a run: its QuecBoard, the transcripts it writes, and how to let it go. */
export interface OpenBoard {
  spec: BoardSpec;
  board: QuecBoard;
  ports: Partial<Record<Via, string>>;
  /** Transcript paths relative to the run folder. */
  transcripts: string[];
  close(): Promise<void>;
}

export interface OpenBoardOptions {
  runDir: string;
  /** Extra names simulated boards resolve (the demo maps NTP names to its local server). */
  simHosts?: Record<string, string>;
}

function transcriptName(boardId: string, via: Via): string {
  return join('transcripts', `${boardId.replace(/[^\w.-]/g, '_')}-${via}.log`);
}

/**
 * Opens a board's ports (or starts its simulated board), wraps each in a transcript tap, and builds
 * its channels. Throws InfrastructureError naming the port when one cannot be opened; whatever was
 * opened before the failure is closed again.
 */
export async function openBoard(spec: BoardSpec, options: OpenBoardOptions): Promise<OpenBoard> {
  const links: Partial<Record<Via, Link>> = {};
  const ports: Partial<Record<Via, string>> = {};
  const transcripts: string[] = [];
  let sim: SimBoard | undefined;
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled(Object.values(links).map((link) => link.close()));
    await sim?.close();
  };
  try {
    if (spec.sim) {
      sim = await startSimBoard({
        profile: spec.sim.profile,
        clockOffsetMs: spec.sim.offsetMs,
        faults: spec.sim.faults,
        hosts: options.simHosts,
      });
    }
    for (const via of ['repl', 'at'] as const) {
      const address = sim ? `sim://${spec.id}/${via}` : spec[via];
      if (!address) continue;
      const relative = transcriptName(spec.id, via);
      const path = join(options.runDir, relative);
      links[via] = sim ? new TranscriptTap(sim.hostLink(via), path) : await openLink(address, { transcriptPath: path });
      ports[via] = address;
      transcripts.push(relative);
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  const repl = links.repl ? new ReplChannel(links.repl, { transcriptPath: join(options.runDir, transcriptName(spec.id, 'repl')) }) : undefined;
  const at = links.at ? new AtChannel(links.at, { transcriptPath: join(options.runDir, transcriptName(spec.id, 'at')) }) : undefined;
  const board = new QuecBoard(spec.id, { repl, at }, spec.apn ?? (sim ? sim.profile.apn : undefined));
  return {
    spec,
    board,
    ports,
    transcripts,
    close: async () => {
      await repl?.release().catch(() => undefined);
      await closeAll();
    },
  };
}
