import { InfrastructureError } from '../core/errors.js';
import type { AtChannel } from '../channel/at/channel.js';
import type { ReplChannel } from '../channel/repl/repl.js';
import type { StepBoard } from '../steps/step.js';
import { AtBoardDriver } from './at.js';
import type { BoardDriver, BoardIdentity, Via } from './board.js';
import { ReplBoardDriver } from './repl.js';

export interface QuecBoardPorts {
  repl?: ReplChannel;
  at?: AtChannel;
}

/**
 * One Quectel board: its channels, given to it (it never opens anything itself), and a driver per
 * port, so steps can ask for `via: repl` or `via: at` and get the same kind of answer.
 */
export class QuecBoard implements StepBoard {
  identity?: BoardIdentity;
  private readonly drivers = new Map<Via, BoardDriver>();

  constructor(
    readonly id: string,
    private readonly channels: QuecBoardPorts,
    readonly apn?: string,
  ) {
    if (channels.repl) this.drivers.set('repl', new ReplBoardDriver(channels.repl));
    if (channels.at) this.drivers.set('at', new AtBoardDriver(channels.at, { apn: apn ?? '' }));
  }

  get ports(): Via[] {
    return [...this.drivers.keys()];
  }

  driver(via: Via): BoardDriver {
    const driver = this.drivers.get(via);
    if (!driver) throw this.missing(via);
    return driver;
  }

  replChannel(): ReplChannel {
    if (!this.channels.repl) throw this.missing('repl');
    return this.channels.repl;
  }

  atChannel(): AtChannel {
    if (!this.channels.at) throw this.missing('at');
    return this.channels.at;
  }

  /** Identifies the board over whichever port it has, REPL first (it names the QuecPython version). */
  async identify(timeoutMs: number, signal?: AbortSignal): Promise<BoardIdentity | undefined> {
    for (const via of ['repl', 'at'] as const) {
      const driver = this.drivers.get(via);
      if (!driver) continue;
      this.identity = await driver.identify(timeoutMs, signal);
      return this.identity;
    }
    return undefined;
  }

  private missing(via: Via): InfrastructureError {
    return new InfrastructureError(
      `board ${this.id} has no ${via === 'repl' ? 'REPL' : 'AT'} port: give it one in the rig file (${via}: <port>) or with --${via} <port>`,
    );
  }
}
