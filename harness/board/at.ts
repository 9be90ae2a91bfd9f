import { BoardEnvironmentError, BoardError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import type { AtChannel, CommandOptions, Urc } from '../channel/at/channel.js';
import { tcpipErrorMeaning } from '../channel/at/codes.js';
import { AtGarbledReplyError, CmeError, describeFailure } from '../channel/at/errors.js';
import { quoteBoardText } from '../channel/text.js';
import { hostClock } from '../clock/hostclock.js';
import { aimedSendMs, bracketEdge, consecutiveReadProblem, EDGE_LIMIT_MS, RATE_ALLOWANCE_PPM, tupleSeconds, type ClockPoll, type EdgeInterval } from './edge.js';
import type { AtOk, AtResult } from '../channel/at/result.js';
import type {
  BoardDriver,
  BoardIdentity,
  DialOptions,
  DialResult,
  LocaltimeReading,
  LocaltimeTuple,
  ReadOptions,
  SyncOptions,
  SyncResult,
} from './board.js';

export interface AtBoardOptions {
  /** The board's APN (rig file `apn`), used unless a dial names another; empty keeps the board's own. */
  apn: string;
  /** PDP context id for AT+QNTP until a dial names one; also the default dial profile. */
  cid?: number;
  /** Server for AT+QNTP when a sync names none (QuecPython's ntptime default). */
  defaultNtpServer?: string;
  /** Pause between AT+CEREG? polls while waiting for registration, ms. */
  registrationPollMs?: number;
}

export interface Readiness {
  /** `READY`, `SIM PIN`, ... as AT+CPIN? says. */
  sim: string;
  /** AT+CSQ: 0-31, 99 unknown. */
  rssi: number;
  ber: number;
  /** AT+CEREG? <stat>: 1 home, 5 roaming. */
  registrationStat: number;
}

const REGISTRATION_STATES: Readonly<Record<number, string>> = {
  0: 'not registered, not searching',
  1: 'registered, home network',
  2: 'not registered, searching',
  3: 'registration denied',
  4: 'unknown',
  5: 'registered, roaming',
};

/**
 * A Quectel board driven over its AT port: identify, readiness, dial (AT+QICSGP / AT+QIACT), clock
 * sync (AT+QNTP with autosettime) and local time (AT+CCLK?). Takes its channel; reaches for nothing global.
 */
export class AtBoardDriver implements BoardDriver {
  readonly via = 'at' as const;
  private cid: number;
  /** Contexts the network dropped (`+QIURC: "pdpdeact",<cid>`) that still need AT+QIDEACT. */
  private readonly droppedContexts = new Set<number>();
  private readonly stopListening: () => void;

  constructor(
    readonly channel: AtChannel,
    private readonly options: AtBoardOptions,
  ) {
    this.cid = options.cid ?? 1;
    this.stopListening = channel.onUrc((urc) => this.noticeUrc(urc));
  }

  /** Stops listening for URCs; the channel stays open. */
  dispose(): void {
    this.stopListening();
  }

  async identify(timeoutMs: number, signal?: AbortSignal): Promise<BoardIdentity> {
    const budget = new Budget(timeoutMs, signal);
    const ati = await this.send('ATI', budget);
    const firmware = firstLine(await this.send('AT+QGMR', budget));
    const cgsn = firstLine(await this.send('AT+CGSN', budget));
    const imei = cgsn.replace(/^\+CGSN:\s*/, '').replace(/"/g, '').trim();
    const revision = ati.lines.find((line) => line.startsWith('Revision:'))?.replace('Revision:', '').trim();
    const names = ati.lines.filter((line) => !line.startsWith('Revision:'));
    const details: Record<string, string> = {};
    if (names[0]) details.manufacturer = names[0];
    if (names[1]) details.model = names[1];
    if (revision) details.revision = revision;
    if (firmware) details.firmware = firmware;
    if (imei) details.imei = imei;
    return { model: names[1], firmware: firmware || revision, imei: imei || undefined, details };
  }

  /**
   * SIM ready (AT+CPIN?), signal (AT+CSQ), and registration (AT+CEREG?, polled until home or roaming
   * or the deadline). A missing SIM fails as `+CME ERROR: 10 (SIM not inserted)`.
   */
  async checkReady(timeoutMs: number, signal?: AbortSignal): Promise<Readiness> {
    return this.checkReadyWithin(new Budget(timeoutMs, signal));
  }

  private async checkReadyWithin(budget: Budget): Promise<Readiness> {
    const timeoutMs = budget.timeoutMs;
    const cpin = await this.send('AT+CPIN?', budget).catch((error: unknown) => {
      // +CME ERROR 10-18: no SIM, a locked or failed SIM. The rig's SIM, not the firmware.
      if (error instanceof CmeError && error.code !== undefined && error.code >= 10 && error.code <= 18) {
        throw new BoardEnvironmentError(`${this.channel.address}: SIM not ready: ${error.message}`, { cause: error });
      }
      throw error;
    });
    const sim = firstLine(cpin).replace(/^\+CPIN:\s*/, '');
    if (sim !== 'READY') throw new BoardEnvironmentError(`${this.channel.address}: SIM not ready: AT+CPIN? says ${quoteBoardText(sim)}`);
    const csqLine = firstLine(await this.send('AT+CSQ', budget));
    const csq = /^\+CSQ: ?(\d{1,3}),(\d{1,2})$/.exec(csqLine);
    const rssi = Number(csq?.[1]);
    const ber = Number(csq?.[2]);
    if (!csq || !(rssi <= 31 || rssi === 99 || (rssi >= 100 && rssi <= 199)) || !(ber <= 7 || ber === 99)) {
      throw this.garbled('AT+CSQ', csqLine, '+CSQ: <rssi 0-31|99|100-199>,<ber 0-7|99>');
    }
    for (;;) {
      const cereg = firstLine(await this.send('AT+CEREG?', budget));
      const match = /^\+CEREG: ?([0-5]),(\d{1,2})(?:,.*)?$/.exec(cereg);
      const stat = Number(match?.[2]);
      if (!match || stat > 10) throw this.garbled('AT+CEREG?', cereg, '+CEREG: <n 0-5>,<stat 0-10>[,...]');
      if (stat === 1 || stat === 5) return { sim, rssi, ber, registrationStat: stat };
      const pollMs = this.options.registrationPollMs ?? 1000;
      if (budget.remainingMs() <= pollMs) {
        throw new BoardEnvironmentError(
          `${this.channel.address}: not registered on the network within ${timeoutMs}ms: ` +
            `${cereg || 'no +CEREG line'} (${REGISTRATION_STATES[stat] ?? 'unknown state'}; AT+CSQ ${rssi},${ber})`,
        );
      }
      await sleep(pollMs, budget.signal);
      budget.signal?.throwIfAborted();
    }
  }

  async dial(options: DialOptions): Promise<DialResult> {
    const budget = new Budget(options.timeoutMs, options.signal);
    const cid = options.profile;
    const apn = options.apn ?? this.options.apn;
    this.cid = cid;
    await this.checkReadyWithin(budget);
    if (this.droppedContexts.delete(cid)) await this.deactivate(cid, budget);
    const active = await this.activeAddress(cid, budget);
    if (active) return { profile: cid, address: active, alreadyUp: true, dns: await this.dns(cid, budget) };

    // No APN from the rig or the step: keep the one already configured on the board.
    if (apn) await this.send(`AT+QICSGP=${cid},1,"${apn}"`, budget);
    const activation = await this.execute(`AT+QIACT=${cid}`, budget);
    if (activation.final !== 'OK') {
      // The network may have dropped the context while we asked: Quectel wants AT+QIDEACT before a retry.
      if (this.droppedContexts.delete(cid)) {
        await this.deactivate(cid, budget);
        await this.send(`AT+QIACT=${cid}`, budget);
      } else {
        // A module that dials by itself at boot may have brought the context up between our AT+QIACT?
        // and AT+QIACT=, which then answers ERROR because the context is already active.
        const meanwhile = await this.activeAddress(cid, budget);
        if (meanwhile) return { profile: cid, address: meanwhile, alreadyUp: true, dns: await this.dns(cid, budget) };
        // The network refused the PDP context (a wrong APN, no subscription): the rig's, not the firmware's.
        throw new BoardEnvironmentError(`${this.channel.address}: AT+QIACT=${cid} (APN "${apn}") failed: ${describeFailure(activation)}`);
      }
    }
    const address = await this.activeAddress(cid, budget);
    if (!address) {
      throw new BoardError(`${this.channel.address}: AT+QIACT=${cid} said OK but AT+QIACT? lists no context ${cid}`);
    }
    return { profile: cid, address, alreadyUp: false, dns: await this.dns(cid, budget) };
  }

  /**
   * AT+QNTP with autosettime, then the `+QNTP: <err>,"<time>"` URC within the sync's deadline. A
   * board-reported failure is a SyncResult with ok false; no URC at all is a WaitTimeoutError.
   */
  async syncClock(options: SyncOptions): Promise<SyncResult> {
    const budget = new Budget(options.timeoutMs, options.signal);
    const requestedServer = options.server ?? this.options.defaultNtpServer ?? 'ntp.aliyun.com';
    const hostPort = /^(.+?):(\d+)$/.exec(requestedServer);
    const host = hostPort?.[1] ?? requestedServer;
    const port = hostPort?.[2] ?? '123';
    const command = `AT+QNTP=${this.cid},"${host}",${port},1`;
    const sinceMonoMs = performance.now();
    const answer = await this.execute(command, budget);
    if (answer.final !== 'OK') {
      const boardCode = answer.final === 'ERROR' ? 'ERROR' : (answer.codeText ?? '');
      return { ok: false, requestedServer, reason: `${command}: ${describeFailure(answer)}`, boardCode };
    }
    const urc = await this.channel.waitForUrc('+QNTP:', budget.remainingMs(), { sinceMonoMs, signal: budget.signal });
    const parsed = parseQntpUrc(urc.line);
    if (!parsed) throw this.garbled(command, urc.line, '+QNTP: <err>[,"yyyy/MM/dd,hh:mm:ss±zz"]');
    const boardCode = String(parsed.code);
    if (parsed.code !== 0) {
      return {
        ok: false,
        requestedServer,
        reason: `+QNTP: ${parsed.code} ${tcpipErrorMeaning(parsed.code)}`,
        boardCode,
        unreachable: NTP_UNREACHABLE_CODES.has(parsed.code),
        reportedTime: parsed.time,
      };
    }
    return { ok: true, requestedServer, usedServer: requestedServer, boardCode, reportedTime: parsed.time };
  }

  /** AT+CCLK?: the board's wall-clock fields and zone, with host send and receive times around it. */
  async readLocaltime(options: ReadOptions): Promise<LocaltimeReading> {
    const budget = new Budget(options.timeoutMs, options.signal);
    return options.precision === 'edge' ? this.readClockEdge(budget) : this.readClockOnce(budget);
  }

  /**
   * An edge-timed reading over AT (AT+CCLK? has no sub-second field): polls back to back until the
   * second changes, which brackets the edge to about two round trips; then aimed polls, each sent so
   * its expected round trip's middle falls on the middle of the interval at the next edge ahead, and every
   * poll's bracket is intersected (edge.ts). Checks rtctest's rules on every consecutive pair.
   */
  private async readClockEdge(budget: Budget): Promise<LocaltimeReading> {
    hostClock.refresh();
    const startedMs = hostWallMs();
    const polls: { poll: ClockPoll; reading: LocaltimeReading }[] = [];
    const pollOnce = async (): Promise<ClockPoll> => {
      const hostSendMs = hostWallMs();
      const reading = await this.readClockOnce(budget);
      const poll = { hostSendMs, hostReceiveMs: hostWallMs(), second: tupleSeconds(reading.localtime) };
      const previous = polls[polls.length - 1];
      polls.push({ poll, reading });
      if (previous) this.checkConsecutive(previous, polls[polls.length - 1] as (typeof polls)[number]);
      return poll;
    };
    const first = await pollOnce();
    for (;;) {
      const poll = await pollOnce();
      if (poll.second !== first.second) break;
      // Board time surely passed between the first poll's answer and this poll's request.
      if (poll.hostSendMs - first.hostReceiveMs >= EDGE_LIMIT_MS) {
        throw new BoardError(
          `${this.channel.address}: board clock not running: ${polls.length} AT+CCLK? polls over ${Math.round(poll.hostReceiveMs - first.hostSendMs)} ms ` +
            `all read ${quoteBoardText(polls[0]?.reading.raw ?? '')} (a running clock changes second within ${EDGE_LIMIT_MS} ms)`,
        );
      }
    }
    let interval = this.bracket(polls);
    let aimed = 0;
    for (; aimed < AIMED_POLLS; aimed++) {
      const roundTripsMs = polls.map(({ poll }) => poll.hostReceiveMs - poll.hostSendMs);
      // Narrowing stops at about the quickest round trip (worst-case bounds cannot beat it)...
      if (interval.hostHighMs - interval.hostLowMs <= Math.min(...roundTripsMs) * 1.1 + 0.5) break;
      // ...but aim with what a poll takes now: on a loaded host round trips come in slow spells, and a
      // poll aimed for the quickest one would straddle the edge off-centre and cut little.
      const expectedRoundTripMs = median(roundTripsMs.slice(-RECENT_POLLS));
      const sendAtMs = aimedSendMs(interval, expectedRoundTripMs, hostWallMs() + AIM_LEAD_MS);
      // Keep the whole reading within its promised time, and within the step's deadline.
      if (sendAtMs + expectedRoundTripMs * 3 - startedMs > AT_EDGE_MAX_MS || sendAtMs - hostWallMs() + expectedRoundTripMs * 3 > budget.remainingMs()) break;
      // A timer fires a few ms late on a loaded host: sleep to just short of the aim, spin the rest.
      // A poll that still goes late is a true bracket, only a looser one.
      await sleep(sendAtMs - hostWallMs() - AIM_SPIN_MS, budget.signal);
      budget.signal?.throwIfAborted();
      while (hostWallMs() < sendAtMs);
      await pollOnce();
      interval = this.bracket(polls);
    }
    const last = polls[polls.length - 1] as (typeof polls)[number];
    return {
      ...last.reading,
      edge: {
        method: 'at-bracket',
        ...interval,
        evidence: {
          polls: polls.map(({ poll, reading }) => ({ hostSendMs: poll.hostSendMs, hostReceiveMs: poll.hostReceiveMs, cclk: reading.raw })),
          aimed,
          rateAllowancePpm: RATE_ALLOWANCE_PPM,
        },
      },
    };
  }

  private bracket(polls: readonly { poll: ClockPoll; reading: LocaltimeReading }[]): EdgeInterval {
    const interval = bracketEdge(polls.map(({ poll }) => poll));
    if (interval) return interval;
    throw new BoardError(
      `${this.channel.address}: board clock does not tick once a second: AT+CCLK? polls ` +
        polls.map(({ poll, reading }) => `${quoteBoardText(reading.raw)} at +${Math.round(poll.hostSendMs - (polls[0]?.poll.hostSendMs ?? 0))} ms`).join(', ') +
        ' cannot all be true of one clock',
    );
  }

  private checkConsecutive(previous: { poll: ClockPoll; reading: LocaltimeReading }, next: { poll: ClockPoll; reading: LocaltimeReading }): void {
    const problem = consecutiveReadProblem(previous.poll.second, next.poll.second, next.poll.hostReceiveMs - previous.poll.hostSendMs);
    if (!problem) return;
    throw new BoardError(
      `${this.channel.address}: board clock ${problem === 'backwards' ? 'went backwards' : 'jumped'}: consecutive AT+CCLK? polls ` +
        `${Math.round(next.poll.hostReceiveMs - previous.poll.hostSendMs)} ms apart read ${quoteBoardText(previous.reading.raw)} then ${quoteBoardText(next.reading.raw)}`,
    );
  }

  private async readClockOnce(budget: Budget): Promise<LocaltimeReading> {
    const answer = await this.send('AT+CCLK?', budget);
    const line = answer.lines.find((candidate) => candidate.startsWith('+CCLK:')) ?? '';
    const parsed = parseCclk(line);
    if (!parsed) throw new AtGarbledReplyError(this.channel.address, 'AT+CCLK?', answer.lines, 'expected +CCLK: "yy/MM/dd,hh:mm:ss±zz"');
    return {
      via: 'at',
      localtime: parsed.localtime,
      zoneQuarterHours: parsed.zoneQuarterHours,
      hostSendMs: answer.hostSendMs,
      hostReceiveMs: answer.hostReceiveMs,
      raw: line,
    };
  }

  private async activeAddress(cid: number, budget: Budget): Promise<string | undefined> {
    const answer = await this.send('AT+QIACT?', budget);
    for (const line of answer.lines) {
      const match = /^\+QIACT: ?(\d{1,2}),([01]),([1-4])(?:,"([0-9A-Fa-f.:]*)")?$/.exec(line);
      if (!match) throw this.garbled('AT+QIACT?', line, '+QIACT: <cid>,<state 0|1>,<type 1-4>[,"<address>"]');
      if (Number(match[1]) === cid && match[2] === '1') return match[4] ?? '';
    }
    return undefined;
  }

  private async deactivate(cid: number, budget: Budget): Promise<void> {
    await this.send(`AT+QIDEACT=${cid}`, budget);
  }

  /** AT+QIDNSCFG=<cid>; not every firmware has it, so a failure means "unknown", not a failed dial. */
  private async dns(cid: number, budget: Budget): Promise<string[]> {
    const answer = await this.execute(`AT+QIDNSCFG=${cid}`, budget);
    if (answer.final !== 'OK') return [];
    const line = answer.lines.find((candidate) => candidate.startsWith('+QIDNSCFG:')) ?? '';
    return [...line.matchAll(/"([^"]+)"/g)].map((match) => match[1] ?? '').filter((address) => address !== '0.0.0.0');
  }

  private send(command: string, budget: Budget): Promise<AtOk> {
    return this.channel.send(command, budget.limit(this.channel, command));
  }

  private execute(command: string, budget: Budget): Promise<AtResult> {
    return this.channel.execute(command, budget.limit(this.channel, command));
  }

  /** A reading that does not parse: the board's fault, quoted (escaped, capped) with what was expected. */
  private garbled(command: string, line: string, expected: string): AtGarbledReplyError {
    return new AtGarbledReplyError(this.channel.address, command, [line], `expected ${expected}`);
  }

  private noticeUrc(urc: Urc): void {
    const drop = /^\+QIURC:\s*"pdpdeact",(\d+)/.exec(urc.line);
    if (drop) this.droppedContexts.add(Number(drop[1]));
  }
}

/**
 * Aimed polls after the first bracket, at most: each cuts the interval about in half (down to about
 * one round trip). One costs a second unless the interval is still wide enough to aim at the same
 * edge again; the reading's time (AT_EDGE_MAX_MS) is the real limit.
 */
const AIMED_POLLS = 12;
/** The last ms before an aimed poll are spun, not slept: timers are coarse. */
const AIM_SPIN_MS = 3;
/** How soon after now an aimed poll may be sent: time to set a timer and run the command. */
const AIM_LEAD_MS = 5;
/** Aiming expects a poll to take the median round trip of this many latest polls. */
const RECENT_POLLS = 5;
/** An edge-timed reading over AT takes at most this long (issue 9: 5 s), so aiming stops in time. */
const AT_EDGE_MAX_MS = 4500;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Host wall clock, ms with fractions, Date.now() scale (hostClock: hrtime anchored to Date.now()). */
function hostWallMs(): number {
  return Number(hostClock.nowNs()) / 1e6;
}

/** `+QNTP` codes that say the board could not reach the server: DNS failed, connect failed, timeout. */
const NTP_UNREACHABLE_CODES: ReadonlySet<number> = new Set([565, 566, 569]);

/** An operation's overall deadline (host monotonic clock) and abort signal, shared by its commands. */
class Budget {
  private readonly endsAtMonoMs: number;

  constructor(
    readonly timeoutMs: number,
    readonly signal?: AbortSignal,
  ) {
    this.endsAtMonoMs = performance.now() + timeoutMs;
  }

  remainingMs(): number {
    return Math.max(1, this.endsAtMonoMs - performance.now());
  }

  /** A command's limit: the channel's (Quectel's maximum response time), cut short by what is left of the operation. */
  limit(channel: AtChannel, command: string): CommandOptions {
    const ownMs = channel.limitMs(command);
    const leftMs = Math.round(this.remainingMs());
    if (ownMs <= leftMs) return { timeoutMs: ownMs, limitSource: `${command}'s limit`, signal: this.signal };
    return { timeoutMs: leftMs, limitSource: `what was left of the operation's ${this.timeoutMs}ms`, signal: this.signal };
  }
}

function firstLine(answer: AtOk): string {
  return answer.lines[0] ?? '';
}

/**
 * `+QNTP: 0,"2022/06/20,21:32:20-16"` or `+QNTP: 565` -> code and time; undefined for anything else
 * (a time that is not exactly `yyyy/MM/dd,hh:mm:ss±zz` with every field in range, trailing bytes).
 */
export function parseQntpUrc(line: string): { code: number; time?: string } | undefined {
  const match = /^\+QNTP: ?(\d{1,3})(?:,"([^"]*)")?$/.exec(line);
  if (!match) return undefined;
  const time = match[2] || undefined;
  if (time !== undefined && !parseBoardTime(time, true)) return undefined;
  return { code: Number(match[1]), time };
}

/**
 * `+CCLK: "yy/MM/dd,hh:mm:ss±zz"`: 2- or 4-digit year (UNCONFIRMED which EC200U prints), every other
 * field exactly two digits and in range, the zone a sign and two digits in quarter hours (-48..+56),
 * or no zone at all (undefined). Anything else is undefined: a line that lost or changed bytes must not
 * read as a good time (`+04` cut to `+0` would be a false hour). Returns QuecPython-style fields
 * (weekday 0 = Monday, yearday 1-366).
 */
export function parseCclk(line: string): { localtime: LocaltimeTuple; zoneQuarterHours: number | undefined } | undefined {
  const match = /^\+CCLK: ?"([^"]*)"$/.exec(line);
  return match?.[1] === undefined ? undefined : parseBoardTime(match[1], false);
}

/** `yy/MM/dd,hh:mm:ss±zz` (or a 4-digit year), strictly; `zoneRequired` for +QNTP, which always states it. */
function parseBoardTime(text: string, zoneRequired: boolean): { localtime: LocaltimeTuple; zoneQuarterHours: number | undefined } | undefined {
  const match = /^(\d{2}|\d{4})\/(\d{2})\/(\d{2}),(\d{2}):(\d{2}):(\d{2})([+-]\d{2})?$/.exec(text);
  if (!match) return undefined;
  const [, yearText, month, mday, hour, minute, second, zone] = match;
  if (zoneRequired && zone === undefined) return undefined;
  const year = Number(yearText) + (yearText?.length === 2 ? 2000 : 0);
  const fields = [month, mday, hour, minute, second].map(Number) as [number, number, number, number, number];
  const zoneQuarterHours = zone === undefined ? undefined : Number(zone);
  if (!fieldsInRange(year, ...fields) || (zoneQuarterHours !== undefined && (zoneQuarterHours < -48 || zoneQuarterHours > 56))) return undefined;
  const dayMs = Date.UTC(year, fields[0] - 1, fields[1]);
  const weekday = (new Date(dayMs).getUTCDay() + 6) % 7;
  const yearday = Math.round((dayMs - Date.UTC(year, 0, 1)) / 86_400_000) + 1;
  return {
    localtime: [year, ...fields, weekday, yearday],
    // No zone field: unknown, not UTC; the scenario's `timezone` applies (see clock/board-offset.ts).
    zoneQuarterHours,
  };
}

/** A calendar date and time of day that exist (1970-2099; a day the month has; no leap second). */
export function fieldsInRange(year: number, month: number, mday: number, hour: number, minute: number, second: number): boolean {
  if (year < 1970 || year > 2099 || month < 1 || month > 12) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return mday >= 1 && mday <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59 && hour >= 0 && minute >= 0 && second >= 0;
}
