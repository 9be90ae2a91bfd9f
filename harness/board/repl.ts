import { BoardEnvironmentError, BoardError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import type { ReplChannel } from '../channel/repl/repl.js';
import { quoteBoardText } from '../channel/text.js';
import { fieldsInRange } from './at.js';
import { hostClock } from '../clock/hostclock.js';
import { timingSlots } from '../clock/timing-slots.js';
import type { Gate } from '../core/gate.js';
import {
  consecutiveReadProblem,
  EDGE_LIMIT_MS,
  edgeFromExchanges,
  exchangeTargetHalfWidthMs,
  formatTuple,
  RATE_ALLOWANCE_PPM,
  ticksDiff,
  TICKS_PERIOD,
  tupleSeconds,
  type EdgeInterval,
  type TickExchange,
} from './edge.js';
import type { PyValue } from '../channel/repl/pyliteral.js';
import { PythonError, pythonStringLiteral } from '../channel/repl/repl.js';
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

export interface ReplBoardOptions {
  /** Time to wait between `dataCall.getInfo` polls while a call comes up. */
  dialPollMs?: number;
  /** Whose turns the tick exchanges take (timing-slots.ts); the process's own unless a test gives its own. */
  timingSlots?: Gate;
}

/**
 * A QuecPython board over its REPL port, using the QuecPython modules a person would use
 * (`dataCall`, `checkNet`, `ntptime`, `utime`, `uos`, `modem`), as in Quectel's NTP application note.
 */
export class ReplBoardDriver implements BoardDriver {
  readonly via = 'repl' as const;

  constructor(
    readonly repl: ReplChannel,
    private readonly options: ReplBoardOptions = {},
  ) {}

  async identify(timeoutMs: number, signal?: AbortSignal): Promise<BoardIdentity> {
    const left = deadline(timeoutMs);
    // Each field on its own, so a module the firmware lacks costs only that field.
    await this.repl.exec(IDENTIFY_SOURCE, { timeoutMs: left(), signal });
    const answer = await this.repl.eval('_qhil_identify()', { timeoutMs: left(), signal });
    const fields = asMap(answer);
    const details: Record<string, string> = {};
    const uname = fields.get('uname');
    if (Array.isArray(uname)) {
      const names = ['sysname', 'nodename', 'release', 'version', 'machine', 'qpyver'];
      uname.forEach((item, index) => {
        const text = String(item);
        // QuecPython prints 'key=value' strings; plain MicroPython prints bare values.
        const eq = text.indexOf('=');
        if (eq > 0) details[text.slice(0, eq)] = text.slice(eq + 1);
        else details[names[index] ?? `uname${index}`] = text;
      });
    }
    for (const key of ['firmware', 'imei']) {
      const value = fields.get(key);
      if (typeof value === 'string') details[key] = value;
    }
    const machine = details.machine ?? '';
    const version = /^(v[\d.]+)/.exec(details.version ?? '')?.[1];
    return {
      model: machine.replace(/\s+with\s+QUECTEL$/i, '') || details.sysname,
      firmware: details.firmware,
      quecpython: /quectel/i.test(machine) || details.qpyver ? version : undefined,
      imei: details.imei,
      details,
    };
  }

  async dial(options: DialOptions): Promise<DialResult> {
    const left = deadline(options.timeoutMs);
    const signal = options.signal;
    const first = await this.callInfo(options.profile, left(), signal);
    if (first.state === 1 && first.address !== '0.0.0.0') {
      return { profile: options.profile, address: first.address, alreadyUp: true, dns: first.dns };
    }
    const apn = options.apn ?? '';
    // Activate, and while the network refuses (a board still registering after power-on), try again
    // each second: checkNet.wait_network_connected would wait for an automatic data call that a
    // board with auto-dial off never makes.
    for (;;) {
      const activation = await this.repl.eval(
        `(__import__('dataCall').setPDPContext(${options.profile}, 0, ${pythonStringLiteral(apn)}, '', '', 0), ` +
          `__import__('dataCall').activate(${options.profile}))`,
        { timeoutMs: left(), signal },
      );
      if (Array.isArray(activation) && activation[1] === 0) break;
      const simStatus = await this.repl.eval(`__import__('sim').getStatus()`, { timeoutMs: left(), signal });
      if (simStatus !== 1) {
        throw new BoardEnvironmentError(`SIM card not ready: sim.getStatus() returned ${String(simStatus)} (${SIM_STATUS[String(simStatus)] ?? 'not ready'}); no data call`);
      }
      if (left() < 2500) {
        const net = await this.repl
          .eval(`__import__('checkNet').wait_network_connected(1)`, { timeoutMs: left(), signal })
          .catch((error: unknown) => {
            signal?.throwIfAborted();
            return `unknown (${error instanceof Error ? error.message : String(error)})`;
          });
        throw new BoardEnvironmentError(
          `dataCall.activate(${options.profile}) kept returning ${String(Array.isArray(activation) ? activation[1] : activation)} ` +
            `(APN ${JSON.stringify(apn)}) for ${options.timeoutMs}ms; network: checkNet.wait_network_connected(1) gave ${describeNetState(net)}`,
        );
      }
      await sleep(1000, signal);
      signal?.throwIfAborted();
    }
    for (;;) {
      const info = await this.callInfo(options.profile, left(), signal);
      if (info.state === 1 && info.address !== '0.0.0.0') {
        return { profile: options.profile, address: info.address, alreadyUp: false, dns: info.dns };
      }
      if (left() < (this.options.dialPollMs ?? 200)) {
        throw new BoardError(
          `data call on profile ${options.profile} not up within ${options.timeoutMs}ms: dataCall.getInfo says state ${info.state}, address ${info.address}`,
        );
      }
      await sleep(this.options.dialPollMs ?? 200, signal);
      signal?.throwIfAborted();
    }
  }

  /** `dataCall.getInfo(profile, 0)` -> `(profileID, ipType, [state, reconnect, addr, priDNS, secDNS])`. */
  private async callInfo(profile: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<CallInfo> {
    const value = await this.repl.eval(`__import__('dataCall').getInfo(${profile}, 0)`, { timeoutMs, signal });
    const details = Array.isArray(value) ? value[2] : undefined;
    if (value === -1) return { state: 0, address: '0.0.0.0', dns: [] };
    if (!Array.isArray(details) || typeof details[0] !== 'number' || typeof details[2] !== 'string') {
      throw new BoardError(`dataCall.getInfo(${profile}, 0) gave an unexpected answer: ${quoteBoardText(String(value))}`);
    }
    return {
      state: details[0],
      address: details[2],
      dns: details.slice(3).filter((item): item is string => typeof item === 'string'),
    };
  }

  async syncClock(options: SyncOptions): Promise<SyncResult> {
    const setHost = options.server ? `r['sethost'] = ntptime.sethost(${pythonStringLiteral(options.server)})\n` : '';
    // settime() returns 0 or -1 on most firmware, but raises OSError after its silent fall-backs on
    // others (quectel.md): both are a failed sync. ntptime.host afterwards says which server it used.
    const code =
      'import ntptime\nr = {}\n' +
      setHost +
      `try:\n    ${settimeCall(Math.trunc(options.timezoneHours))}\n` +
      "except Exception as e:\n    r['error'] = '%s: %s' % (type(e).__name__, e)\n" +
      "r['host'] = ntptime.host\nprint(repr(r))";
    const { stdout } = await this.repl.exec(code, { timeoutMs: options.timeoutMs, signal: options.signal });
    const answer = asMap(this.repl.parseAnswer(stdout, 'ntptime.settime()'));
    const usedServer = typeof answer.get('host') === 'string' ? (answer.get('host') as string) : undefined;
    const error = answer.get('error');
    const settime = answer.get('settime');
    const setHostCode = answer.get('sethost');
    const result: SyncResult = { ok: false, requestedServer: options.server, usedServer };
    if (setHostCode !== undefined && setHostCode !== 0) {
      return { ...result, reason: `ntptime.sethost(${JSON.stringify(options.server)}) returned ${String(setHostCode)}`, boardCode: String(setHostCode) };
    }
    // QuecPython raises this after every fall-back server failed to answer: nothing reached the board.
    if (typeof error === 'string') return { ...result, reason: error, boardCode: error.split(':')[0], unreachable: error === 'OSError: Server connection failed!' };
    if (settime !== 0) return { ...result, reason: `ntptime.settime() returned ${String(settime)}`, boardCode: String(settime) };
    return { ...result, ok: true, boardCode: '0' };
  }

  async readLocaltime(options: ReadOptions): Promise<LocaltimeReading> {
    if (options.precision === 'edge') return this.readLocaltimeEdge(options);
    const left = deadline(options.timeoutMs);
    // Import first, so the timed exchange carries as little work as possible.
    await this.repl.exec('import utime', { timeoutMs: left(), signal: options.signal });
    const hostSendMs = Date.now();
    const { stdout } = await this.repl.exec('print(utime.localtime())', { timeoutMs: left(), signal: options.signal });
    const hostReceiveMs = Date.now();
    const value = this.repl.parseAnswer(stdout, 'utime.localtime()');
    return { via: 'repl', localtime: toLocaltimeTuple(value, stdout), hostSendMs, hostReceiveMs, raw: stdout.trim() };
  }

  /**
   * An edge-timed reading. On the board, a tight loop reads `utime.localtime()` between two
   * `utime.ticks_ms()` until the second changes (within EDGE_LIMIT_MS of board ticks, else the clock
   * is not running); then `print(utime.ticks_ms())` exchanges relate the ticks to the host clock
   * (Cristian), each exchange's bounds intersected (edge.ts), until the interval is narrow or the
   * reading's 3 s are nearly up. The board loop's own slowness is in the interval: `readingMs`.
   */
  private async readLocaltimeEdge(options: ReadOptions): Promise<LocaltimeReading> {
    const left = deadline(options.timeoutMs);
    const signal = options.signal;
    const startedMonoMs = performance.now();
    hostClock.refresh();
    await this.repl.exec(EDGE_SOURCE, { timeoutMs: left(), signal });
    let found = await this.edgeLoop(left, signal);
    // A loop the board (or, for the sim, a loaded host) ran slowly at the edge gives a wide edge:
    // try the next second, while that still leaves time for the exchanges within the promised 3 s.
    const loopWidthMs = (edge: EdgeLoop): number => ticksDiff(edge.ticksAfterMs, edge.ticksBeforeMs);
    // Every loop not kept, for the evidence: why a reading took a second longer.
    const passedOver: EdgeLoop[] = [];
    const widestMs = options.widestLoopMs ?? NARROW_EDGE_MS;
    while (loopWidthMs(found.loop) > widestMs && performance.now() - startedMonoMs < REPL_RETRY_BEFORE_MS && left() > EDGE_LIMIT_MS + 1500) {
      const again = await this.edgeLoop(left, signal);
      if (loopWidthMs(again.loop) < loopWidthMs(found.loop)) {
        passedOver.push(found.loop);
        found = again;
      } else passedOver.push(again.loop);
    }
    const { loop, after, hostSendMs, hostReceiveMs, raw } = found;
    const exchangesEndMonoMs = Math.min(startedMonoMs + REPL_EDGE_MAX_MS, performance.now() + left() - 1000);
    // Cristian, with every exchange's bounds intersected: keep asking until the interval is narrow or
    // the reading's time is up. On a loaded host most exchanges are slow; the few quick ones (or
    // quick on one side) are what narrows it.
    // The target allows for the loop's own width (an edge 3 ticks wide can never be within 2 ms) and
    // for the rate allowance over the ticks from the edge to the latest exchange (an edge kept from a
    // second ago carries 0.2 ms of it).
    const targetMs = (exchanges: readonly TickExchange[]): number =>
      exchangeTargetHalfWidthMs(loop, exchanges, REPL_TARGET_HALF_WIDTH_MS, REPL_TARGET_EXCHANGE_SHARE_MS);
    const enough = (exchanges: readonly TickExchange[]): boolean =>
      exchanges.length >= MIN_TICK_EXCHANGES &&
      (exchanges.length >= MAX_TICK_EXCHANGES || performance.now() >= exchangesEndMonoMs || halfWidthMs(edgeFromExchanges(loop, exchanges)) <= targetMs(exchanges));
    // One of the process's timing turns (timing-slots.ts), waited for while the exchanges' window leaves room for them.
    const turn = await (this.options.timingSlots ?? timingSlots).acquire(signal, exchangesEndMonoMs - EXCHANGES_RESERVE_MS - performance.now());
    signal?.throwIfAborted();
    let exchanges: TickExchange[];
    try {
      exchanges = await this.tickExchanges(enough, left, signal);
    } finally {
      turn.release();
    }
    const interval = edgeFromExchanges(loop, exchanges);
    const { lowFrom, highFrom, ...edgeInterval } = interval;
    return {
      via: 'repl',
      localtime: after,
      hostSendMs,
      hostReceiveMs,
      raw,
      edge: {
        method: 'repl-ticks',
        ...edgeInterval,
        evidence: {
          loop: { before: loop.before, after, ticksBeforeMs: loop.ticksBeforeMs, ticksAfterMs: loop.ticksAfterMs, reads: loop.iterations, loopMs: loop.loopMs },
          ...(passedOver.length > 0 && {
            passedOver: passedOver.map((wide) => ({ ticksBeforeMs: wide.ticksBeforeMs, ticksAfterMs: wide.ticksAfterMs, reads: wide.iterations, loopMs: wide.loopMs })),
          }),
          exchanges,
          // The exchanges whose bounds the interval's low and high ends are.
          lowFrom,
          highFrom,
          rateAllowancePpm: RATE_ALLOWANCE_PPM,
        },
      },
    };
  }

  /**
   * `utime.ticks_ms()` exchanges until `enough` says so. Each is one byte to the board and one line
   * back from a loop already running there (`_qhil_ticks`): a single round trip, where an exec of its
   * own would add the raw-paste handshake in front of the read and widen every bound by it. The
   * board reads ticks after our byte arrived and before its line left, so [write, line in] holds the
   * read. A board without `sys.stdin` (PythonError) gets one exec per exchange instead.
   */
  private async tickExchanges(enough: (exchanges: readonly TickExchange[]) => boolean, left: () => number, signal: AbortSignal | undefined): Promise<TickExchange[]> {
    const exchanges: TickExchange[] = [];
    const lines = new TickLines();
    const stopListening = this.repl.link.onData((bytes) => lines.take(bytes, hostWallMs()));
    // Stops the board's loop (the exec's abort sends Ctrl-C) when our side gives up on it.
    const giveUp = new AbortController();
    const run = this.repl.exec(`_qhil_ticks(${MAX_TICK_EXCHANGES})`, { timeoutMs: left(), signal: signal ? AbortSignal.any([signal, giveUp.signal]) : giveUp.signal });
    try {
      // The exec ends by itself once its last line is out, or fails: either way no more lines are due.
      const ended = run.then(
        () => undefined,
        () => undefined,
      );
      const nextLine = async (): Promise<TickLine> => {
        const line = await Promise.race([lines.next(), ended]);
        if (line) return line;
        await run;
        throw new BoardError(`${this.repl.port}: the ticks loop ended early: ${exchanges.length} of the lines it owed came`);
      };
      const ready = await nextLine();
      if (ready.ticksText !== undefined) throw new BoardError(`${this.repl.port}: garbled reply: the ticks loop answered before it was asked`);
      while (!enough(exchanges)) {
        const hostSendMs = hostWallMs();
        await this.repl.receiver.write('.');
        const line = await nextLine();
        if (line.ticksText === undefined) throw new BoardError(`${this.repl.port}: garbled reply: the ticks loop said it was ready twice`);
        exchanges.push({ hostSendMs, hostReceiveMs: line.hostReceiveMs, ticksMs: parseTicks(Number(line.ticksText), `QHILT${line.ticksText}`) });
      }
      // The loop ends by itself after MAX_TICK_EXCHANGES; a stop byte past that would reach the prompt.
      if (exchanges.length < MAX_TICK_EXCHANGES) await this.repl.receiver.write('q');
      await run;
      return exchanges;
    } catch (error) {
      giveUp.abort(error);
      await run.catch(() => undefined);
      if (!(error instanceof PythonError)) throw error;
      return this.tickExecs(enough, left, signal);
    } finally {
      stopListening();
    }
  }

  /** One `print(utime.ticks_ms())` exec per exchange: the fall-back (see tickExchanges). */
  private async tickExecs(enough: (exchanges: readonly TickExchange[]) => boolean, left: () => number, signal: AbortSignal | undefined): Promise<TickExchange[]> {
    const exchanges: TickExchange[] = [];
    while (!enough(exchanges)) {
      const hostSendMs = hostWallMs();
      const answer = await this.repl.exec('print(utime.ticks_ms())', { timeoutMs: left(), signal });
      const hostReceiveMs = hostWallMs();
      exchanges.push({ hostSendMs, hostReceiveMs, ticksMs: parseTicks(this.repl.parseAnswer(answer.stdout, 'utime.ticks_ms()'), answer.stdout) });
    }
    return exchanges;
  }

  /** Runs the board-side edge loop once and applies rtctest's rules to what it saw. */
  private async edgeLoop(
    left: () => number,
    signal: AbortSignal | undefined,
  ): Promise<{ loop: EdgeLoop; after: LocaltimeTuple; hostSendMs: number; hostReceiveMs: number; raw: string }> {
    const hostSendMs = hostWallMs();
    // Up to the edge limit on the board, plus what compiling and answering may take on a slow one.
    const { stdout } = await this.repl.exec(`print(repr(_qhil_edge(${EDGE_LIMIT_MS})))`, { timeoutMs: Math.min(left(), EDGE_LIMIT_MS + 1500), signal });
    const hostReceiveMs = hostWallMs();
    const loop = parseEdgeLoop(this.repl.parseAnswer(stdout, '_qhil_edge()'), stdout);
    if (loop.after === undefined) {
      throw new BoardError(
        `board clock not running: utime.localtime() read ${formatTuple(loop.before)} throughout ${loop.loopMs} ms of utime.ticks_ms() ` +
          `(${loop.iterations} reads; a running clock changes second within ${EDGE_LIMIT_MS} ms)`,
      );
    }
    const apartMs = ticksDiff(loop.ticksAfterMs, loop.ticksBeforeMs);
    const problem = consecutiveReadProblem(tupleSeconds(loop.before), tupleSeconds(loop.after), apartMs + 1);
    if (problem) {
      throw new BoardError(
        `board clock ${problem === 'backwards' ? 'went backwards' : 'jumped'}: consecutive utime.localtime() reads ` +
          `${apartMs} ms apart (utime.ticks_ms()) gave ${formatTuple(loop.before)} then ${formatTuple(loop.after)}`,
      );
    }
    return { loop, after: loop.after, hostSendMs, hostReceiveMs, raw: stdout.trim() };
  }
}

/**
 * An edge no wider than this (ticks between the reads around it) is kept; a wider one is tried again,
 * unless the step says how wide it may be (`widest-loop:`). Its share of the half-width is at most
 * 3.5 ms, so with the round trip's (about 1 ms) a reading stays within ±5 ms. A second try costs a
 * second: a scenario whose tolerance is a second and more (ntp-sync-repl) has no use for it, and on a
 * rig it is a second on the run's wall time (on a 2-core host a sim rig's loops are descheduled
 * 13-22 ms at times, in about half the runs of 32 boards).
 */
const NARROW_EDGE_MS = 6;
/** ...if no more than this has passed: a second edge costs up to a second, and a reading has 3 s. */
const REPL_RETRY_BEFORE_MS = 1300;
/** An edge-timed reading over the REPL takes at most 3 s (issue 9); exchanges stop here, a margin short. */
const REPL_EDGE_MAX_MS = 2700;
/** A timing turn is waited for until this long before the exchanges' end: time for the few they need. */
const EXCHANGES_RESERVE_MS = 400;
/** Tick exchanges: at least this many, and more (up to the cap and the time) until the half-width is this narrow. */
const MIN_TICK_EXCHANGES = 4;
const MAX_TICK_EXCHANGES = 100;
const REPL_TARGET_HALF_WIDTH_MS = 2;
/** ...or, for an edge whose own ticks leave more than that (edgeFloorHalfWidthMs), until the exchanges add no more than this to it. */
const REPL_TARGET_EXCHANGE_SHARE_MS = 0.5;

function halfWidthMs(interval: EdgeInterval | undefined): number {
  return interval === undefined ? Infinity : (interval.hostHighMs - interval.hostLowMs) / 2;
}

/**
 * The board-side edge loop. `p` is ticks before the last read still in the old second, `c` ticks after
 * the first read in the new one: the edge lies in [p, c + 1) (ticks floor). Locals, not attribute
 * look-ups, keep each pass short on a slow board. Gives up after `limit_ms` of ticks: (s0, None, ...).
 */
const EDGE_SOURCE = `
import utime
def _qhil_edge(limit_ms):
    lt = utime.localtime
    tk = utime.ticks_ms
    td = utime.ticks_diff
    p = tk()
    s0 = lt()
    start = tk()
    n = 0
    while True:
        a = tk()
        s = lt()
        c = tk()
        n += 1
        if s != s0:
            return (s0, s, p, c, n, td(c, start))
        if td(a, start) >= limit_ms:
            return (s0, None, p, c, n, td(a, start))
        p = a
def _qhil_ticks(n):
    import sys
    rd = sys.stdin.read
    tk = utime.ticks_ms
    print('QHILG')
    for i in range(n):
        if rd(1) == 'q':
            break
        print('QHILT%d' % tk())
`;

interface EdgeLoop {
  before: LocaltimeTuple;
  after: LocaltimeTuple | undefined;
  ticksBeforeMs: number;
  ticksAfterMs: number;
  iterations: number;
  loopMs: number;
}

function parseEdgeLoop(value: PyValue, raw: string): EdgeLoop {
  if (Array.isArray(value) && value.length === 6) {
    const [before, after, p, c, n, loopMs] = value;
    const numbers = [p, c, n, loopMs];
    if (numbers.every((item) => typeof item === 'number' && Number.isInteger(item))) {
      const [ticksBeforeMs, ticksAfterMs, iterations, loop] = numbers as number[];
      return {
        before: toLocaltimeTuple(before ?? null, raw),
        after: after === null ? undefined : toLocaltimeTuple(after ?? null, raw),
        ticksBeforeMs: parseTicks(ticksBeforeMs ?? -1, raw),
        ticksAfterMs: parseTicks(ticksAfterMs ?? -1, raw),
        iterations: iterations ?? 0,
        loopMs: loop ?? 0,
      };
    }
  }
  throw new BoardError(`garbled reply: the edge loop gave ${quoteBoardText(raw.trim())}: expected (localtime, localtime or None, ticks, ticks, reads, ms)`);
}

function parseTicks(value: PyValue, raw: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < TICKS_PERIOD) return value;
  throw new BoardError(`garbled reply: utime.ticks_ms() gave ${quoteBoardText(raw.trim())}: expected an integer 0..2^30-1`);
}

interface TickLine {
  /** The digits after QHILT; undefined for the ready line. */
  ticksText: string | undefined;
  /** Host wall clock when the chunk that completed the line arrived. */
  hostReceiveMs: number;
}

/**
 * The ticks loop's lines (`QHILG`, `QHILT<ticks>`) picked out of the REPL port's bytes as they
 * arrive, each stamped with its arrival. Anything else on the port (the raw REPL's frame) is skipped;
 * the text kept is capped (board output is untrusted).
 */
class TickLines {
  private text = '';
  private readonly lines: TickLine[] = [];
  private waiting: ((line: TickLine) => void) | undefined;

  take(bytes: Buffer, hostReceiveMs: number): void {
    this.text = (this.text + bytes.toString('latin1')).slice(-TICK_LINES_MAX_CHARS);
    for (let match = TICK_LINE.exec(this.text); match; match = TICK_LINE.exec(this.text)) {
      this.text = this.text.slice(match.index + match[0].length);
      const line = { ticksText: match[1], hostReceiveMs };
      const waiting = this.waiting;
      this.waiting = undefined;
      if (waiting) waiting(line);
      else this.lines.push(line);
    }
  }

  next(): Promise<TickLine> {
    const line = this.lines.shift();
    if (line) return Promise.resolve(line);
    return new Promise((resolve) => (this.waiting = resolve));
  }
}

const TICK_LINE = /QHIL(?:G|T(\d{1,10}))\r?\n/;
const TICK_LINES_MAX_CHARS = 4096;

/** Host wall clock, ms with fractions, Date.now() scale (hostClock: hrtime anchored to Date.now()). */
function hostWallMs(): number {
  return Number(hostClock.nowNs()) / 1e6;
}

/**
 * `ntptime.settime(tz)` as Python, one indented block. The oldest ntptime (quectel.md generation 1)
 * takes no timezone (TypeError): for UTC it is asked again without one, which means the same.
 */
function settimeCall(timezoneHours: number): string {
  if (timezoneHours !== 0) return `r['settime'] = ntptime.settime(${timezoneHours})`;
  return "try:\n        r['settime'] = ntptime.settime(0)\n    except TypeError:\n        r['settime'] = ntptime.settime()";
}

const IDENTIFY_SOURCE = `
def _qhil_identify():
    r = {}
    try:
        import uos
        r['uname'] = tuple(uos.uname())
    except Exception as e:
        r['uname_error'] = repr(e)
    try:
        import modem
        r['firmware'] = modem.getDevFwVersion()
        r['imei'] = modem.getDevImei()
    except Exception as e:
        r['modem_error'] = repr(e)
    return r
`;

/** sim.getStatus(): 0 removed, 1 ready, 2 PIN required (quectel.md). */
const SIM_STATUS: Readonly<Record<string, string>> = { '0': 'no SIM card', '1': 'ready', '2': 'PIN required' };

interface CallInfo {
  state: number;
  address: string;
  dns: string[];
}

function asMap(value: PyValue): Map<unknown, PyValue> {
  if (!(value instanceof Map)) throw new BoardError(`garbled reply: expected a dict from the board, got ${quoteBoardText(String(value))}`);
  return value;
}

/** Time left of an operation's `timeoutMs` (host monotonic clock), at least 1 ms, for each of its execs. */
function deadline(timeoutMs: number): () => number {
  const endsAtMonoMs = performance.now() + timeoutMs;
  return () => Math.max(1, endsAtMonoMs - performance.now());
}

function describeNetState(value: PyValue): string {
  if (!Array.isArray(value)) return String(value);
  const [stage, sub] = value;
  const meaning = stage === 1 ? ' (SIM card not ready: no SIM card or PIN needed)' : stage === 2 ? ' (not registered on the network)' : '';
  return `(${String(stage)}, ${String(sub)})${meaning}`;
}

/**
 * `utime.localtime()`'s answer, strictly: exactly 8 integers, a date and time that exist, weekday
 * 0-6, yearday 1-366. Anything else (a tuple that lost a field or a digit on the way) is a garbled reply.
 */
export function toLocaltimeTuple(value: PyValue, raw: string): LocaltimeTuple {
  const fields = Array.isArray(value) && value.length === 8 && value.every((field) => typeof field === 'number' && Number.isInteger(field)) ? (value as number[]) : undefined;
  const [year, month, mday, hour, minute, second, weekday, yearday] = fields ?? [];
  if (
    !fields ||
    !fieldsInRange(year ?? -1, month ?? -1, mday ?? -1, hour ?? -1, minute ?? -1, second ?? -1) ||
    weekday === undefined ||
    weekday < 0 ||
    weekday > 6 ||
    yearday === undefined ||
    yearday < 1 ||
    yearday > 366
  ) {
    throw new BoardError(`garbled reply: utime.localtime() gave ${quoteBoardText(raw.trim())}: expected 8 integers (year, month, mday, hour, minute, second, weekday 0-6, yearday 1-366), each in range`);
  }
  return fields as LocaltimeTuple;
}
