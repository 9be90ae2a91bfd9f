import { EventEmitter } from 'node:events';
import { hostClock } from '../clock/hostclock.js';
import type { BoardProfile } from './profile.js';

/** Host wall clock (Date.now() scale) with sub-ms fractions. */
function hostWallMs(): number {
  return Number(hostClock.nowNs()) / 1e6;
}

export type SimState = 'ready' | 'absent' | 'pin';
export type NetworkState = 'registered' | 'roaming' | 'searching' | 'denied';

export interface PdpContext {
  cid: number;
  /** 1 IPv4, 2 IPv6, 3 IPv4v6 (AT+QICSGP numbering). */
  ipType: number;
  apn: string;
  user: string;
  password: string;
  auth: number;
  active: boolean;
  address: string;
}

/** Faults a test can inject into a simulated board. */
export interface FaultSet {
  /** The NTP query is never sent (as if the server were silent). */
  ntpSilent: boolean;
  /** The network refuses PDP activation. */
  dialRefused: boolean;
  /** Output is slowed down by this many ms per chunk. */
  slowOutputMs: number;
  /** A fraction (0..1) of output bytes are replaced by garbage. */
  garbleRate: number;
  /** The REPL answers `REPL refuse` to everything (QuecPython REPL protection). */
  replRefused: boolean;
}

export function defaultFaults(): FaultSet {
  return { ntpSilent: false, dialRefused: false, slowOutputMs: 0, garbleRate: 0, replRefused: false };
}

/**
 * The one modem both ports of a simulated board share, as on a real module: a sync over AT shows in
 * `utime.localtime()` and the other way round. Times here are ms; `host` means the host wall clock.
 *
 * The RTC holds a naive wall-clock reading (no zone) that advances with the host clock, scaled by
 * drift. `zoneQuarterHours` is the zone AT+CCLK reports alongside it.
 */
export class ModemModel extends EventEmitter {
  sim: SimState;
  network: NetworkState;
  csq: number;
  zoneQuarterHours: number;
  readonly contexts = new Map<number, PdpContext>();
  readonly faults: FaultSet = defaultFaults();
  /**
   * QuecPython's `utime.setTimeZone()` hours: kept with the modem so it survives a soft reboot, as
   * the firmware keeps it outside the VM (UNCONFIRMED; a hard reboot resets it to 0).
   */
  get utimeZoneHours(): number {
    return this.zoneHours;
  }

  set utimeZoneHours(hours: number) {
    this.zoneHours = hours;
    this.emit('rtc-changed');
  }

  private zoneHours = 0;
  /** Host names the board resolves to `ip` or `ip:port`. */
  readonly hosts: Map<string, string>;

  private rtcBaseReadingMs: number;
  private rtcBaseHostMs: number;
  private driftPpm: number;

  constructor(
    readonly profile: BoardProfile,
    /** Host wall clock, ms with fractions: the RTC's seconds must change at sub-ms host instants for edge timing. */
    private readonly hostNowMs: () => number = hostWallMs,
  ) {
    super();
    this.sim = profile.sim;
    this.network = profile.network;
    this.csq = profile.csq;
    this.zoneQuarterHours = profile.zoneQuarterHours;
    this.hosts = new Map(Object.entries(profile.hosts));
    this.driftPpm = profile.clockDriftPpm;
    this.rtcBaseHostMs = hostNowMs();
    this.rtcBaseReadingMs = this.rtcBaseHostMs + profile.clockOffset + profile.zoneQuarterHours * 15 * 60_000;
    this.contexts.set(1, {
      cid: 1,
      ipType: 1,
      apn: profile.apn,
      user: '',
      password: '',
      auth: 0,
      active: false,
      address: '0.0.0.0',
    });
  }

  /** The host wall clock the RTC runs against, ms with fractions. */
  nowMs(): number {
    return this.hostNowMs();
  }

  /**
   * The RTC's wall-clock reading, ms since 1970 as if it were UTC (it is in the board's zone), now or
   * at host instant `atHostMs` (not before the RTC was last set).
   */
  rtcReadingMs(atHostMs = this.hostNowMs()): number {
    const elapsedMs = Math.max(atHostMs, this.rtcBaseHostMs) - this.rtcBaseHostMs;
    return this.rtcBaseReadingMs + elapsedMs * (1 + this.driftPpm / 1e6);
  }

  /** Sets the RTC's wall-clock reading (what a sync does). */
  setRtcReadingMs(readingMs: number): void {
    this.rtcBaseHostMs = this.hostNowMs();
    this.rtcBaseReadingMs = readingMs;
    this.emit('rtc-set', readingMs);
    this.emit('rtc-changed');
  }

  /** The RTC's rate against the host clock, ppm (profile, or a clock-drift fault). */
  get clockDriftPpm(): number {
    return this.driftPpm;
  }

  /** Sets the RTC to true UTC (host wall clock) + `offsetMs` + the network zone, as at power-on. */
  setClockOffsetMs(offsetMs: number): void {
    this.setRtcReadingMs(this.hostNowMs() + offsetMs + this.zoneQuarterHours * 15 * 60_000);
  }

  /** Moves the clock by `deltaMs` (fault injection: a clock step). */
  stepClockMs(deltaMs: number): void {
    this.setRtcReadingMs(this.rtcReadingMs() + deltaMs);
  }

  setDriftPpm(ppm: number): void {
    this.setRtcReadingMs(this.rtcReadingMs());
    this.driftPpm = ppm;
    // Every change of what localtime() reads, for the VM thread's copy (shared-rtc.ts).
    this.emit('rtc-changed');
  }

  get registered(): boolean {
    return this.sim === 'ready' && (this.network === 'registered' || this.network === 'roaming');
  }

  context(cid: number): PdpContext {
    let context = this.contexts.get(cid);
    if (!context) {
      context = { cid, ipType: 1, apn: '', user: '', password: '', auth: 0, active: false, address: '0.0.0.0' };
      this.contexts.set(cid, context);
    }
    return context;
  }

  /**
   * Activates a PDP context. Resolves to the address, or rejects with the reason a real network
   * would give (no SIM, not registered, refused).
   */
  async activate(cid: number): Promise<string> {
    const context = this.context(cid);
    if (this.sim !== 'ready') throw new ModemError('sim', 'SIM not ready');
    if (!this.registered) throw new ModemError('network', 'not registered on the network');
    await new Promise((resolve) => setTimeout(resolve, this.profile.dialDelay));
    if (this.faults.dialRefused) throw new ModemError('refused', 'PDP activation refused by the network');
    if (!context.apn) throw new ModemError('apn', 'APN not configured');
    context.active = true;
    context.address = cid === 1 ? this.profile.address : `10.91.44.${176 + cid}`;
    this.emit('pdp', cid, true);
    return context.address;
  }

  deactivate(cid: number): void {
    const context = this.context(cid);
    context.active = false;
    context.address = '0.0.0.0';
    this.emit('pdp', cid, false);
  }

  /** A hard reboot: every data call is gone; the RTC (battery-backed) keeps running. */
  powerCycle(): void {
    for (const context of this.contexts.values()) {
      if (context.active) this.deactivate(context.cid);
    }
    this.utimeZoneHours = 0;
  }

  /** The network drops a context on its own (AT: `+QIURC: "pdpdeact",<cid>`). */
  dropContext(cid: number): void {
    this.deactivate(cid);
    this.emit('pdp-dropped', cid);
  }

  /** Resolves a host name as the board's DNS would: `{ address, port }` or undefined when unknown. */
  resolve(host: string, defaultPort = 123): { address: string; port: number } | undefined {
    const mapped = this.hosts.get(host) ?? (/^\d+\.\d+\.\d+\.\d+$/.test(host) ? host : undefined);
    if (!mapped) return undefined;
    const match = /^(.*?)(?::(\d+))?$/.exec(mapped);
    return { address: match?.[1] ?? mapped, port: match?.[2] ? Number(match[2]) : defaultPort };
  }
}

export class ModemError extends Error {
  constructor(
    readonly kind: 'sim' | 'network' | 'refused' | 'apn',
    message: string,
  ) {
    super(message);
    this.name = 'ModemError';
  }
}
