/**
 * Board leases across processes, users and CI jobs on one host. Before a board's ports are opened,
 * a lease is taken on each port, keyed by the port itself (a device path through its symlinks, or
 * the normalised `tcp://host:port`), so two runs naming one port through different flags or rig
 * files meet. A lease is one small JSON file in a lock directory every user of the host can write:
 *
 * - taking it is atomic: the record is written to a temporary file and hard-linked to its name
 *   (link(2) fails when the name exists), so a reader never sees a lease without its holder;
 * - a heartbeat rewrites it (temp file + rename) with a later expiry while the run lives;
 * - a lease whose holder died (its pid gone, on this host) or whose expiry passed is taken over,
 *   and the taker is told whose it was, for the report;
 * - it is released on every exit path: close, error, signal (a synchronous `exit` hook), and a
 *   SIGKILLed holder is a dead pid the next run takes over.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { errorMessage, InfrastructureError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import { portIdentity } from './preflight.js';

/** The default lock directory: world-writable and sticky like /tmp, so every user of the host meets there. */
export const DEFAULT_LOCK_DIR = '/tmp/qhil-leases';
export const LOCK_DIR_ENV = 'QHIL_LOCK_DIR';
/** How long a lease lives without a heartbeat: a frozen (SIGSTOPped, suspended) holder loses it after this. */
export const DEFAULT_LEASE_TTL_MS = 60_000;
const LEASE_SUFFIX = '.lease.json';
/** Polling a busy lease: from this, doubling, up to the cap (and never past the wait's deadline). */
const WAIT_FIRST_POLL_MS = 200;
const WAIT_MAX_POLL_MS = 5000;
/** A lease file is a few hundred bytes; anything much larger is not ours and is not read whole. */
const MAX_LEASE_BYTES = 16 * 1024;

/** Who holds a lease. Times are host wall-clock ISO strings. */
export interface LeaseHolder {
  /** The port's identity: a device's real path or `tcp://host:port`. */
  key: string;
  /** The board id the holder gave it (rig or flags). */
  board: string;
  /** The port as the holder named it. */
  address: string;
  user: string;
  host: string;
  pid: number;
  /** When that process started (Linux: /proc/<pid>/stat field 22), so a reused pid is not taken for the holder. */
  pidStart?: string;
  /** CI job id from the environment (GITHUB_RUN_ID, CI_JOB_ID, BUILD_ID...), when there is one. */
  ciJob?: string;
  startedAt: string;
  renewedAt: string;
  expiresAt: string;
  /** Unique per take: tells a lease from a later one by the same process. */
  token: string;
}

/**
 * `device-moved`: the lease is on a device node (`/dev/pts/5`) that the holder named through a link
 * which no longer leads there (socat or ser2net gone, a board re-enumerated): the kernel reuses
 * such numbers for unrelated devices at once, so the holder's link name keeps its lease, not the number.
 */
export type LeaseState = 'held' | 'expired' | 'holder-dead' | 'device-moved';

export interface LeaseEntry {
  file: string;
  holder: LeaseHolder;
  state: LeaseState;
}

/** CI job id variables, most specific first: GitHub Actions, GitLab, Jenkins, Buildkite, CircleCI, Azure, TeamCity. */
const CI_JOB_VARIABLES = ['GITHUB_RUN_ID', 'CI_JOB_ID', 'BUILD_TAG', 'BUILD_ID', 'BUILDKITE_JOB_ID', 'CIRCLE_WORKFLOW_JOB_ID', 'BUILD_BUILDID', 'TEAMCITY_BUILD_ID'];

export function ciJobFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const name of CI_JOB_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      // GitHub's run id names the workflow run; with the attempt and job a rerun is told apart.
      if (name === 'GITHUB_RUN_ID') return [value, env.GITHUB_RUN_ATTEMPT, env.GITHUB_JOB].filter(Boolean).join('/');
      return value;
    }
  }
  return undefined;
}

/** The lock directory: the flag, else QHIL_LOCK_DIR, else the rig file's `lock-dir`, else the default. */
export function lockDirFrom(flag: string | undefined, rigLockDir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env[LOCK_DIR_ENV] || undefined) ?? rigLockDir ?? DEFAULT_LOCK_DIR;
}

/** What `qhil run --lock-dir/--wait` (and a rig's `lock-dir`) make of the leases. */
export function leaseOptionsFromFlags(flags: { lockDir?: string; rigLockDir?: string; waitMs: number }): { store: LeaseStore; waitMs: number } {
  return { store: new LeaseStore({ lockDir: lockDirFrom(flags.lockDir, flags.rigLockDir) }), waitMs: Math.max(0, flags.waitMs) };
}

/** The lease key of a port address: the same for every name of one device (preflight's portIdentity). */
export function leaseKey(address: string): string {
  return portIdentity(address);
}

/**
 * Every key a port is leased under: the device it is now (so `/dev/ttyUSB2` and its by-id name
 * meet) and, for a link, the link's own name too, since a re-enumerated board moves its by-id link to
 * another ttyUSB (and a rebooted simulated board its PTY) while the run holds the lease.
 */
export function leaseKeys(address: string): string[] {
  const device = leaseKey(address);
  if (address.startsWith('tcp://') || /^(?:\\\\\.\\)?COM\d+$/i.test(address)) return [device];
  const named = resolve(address);
  return named === device ? [device] : [device, named];
}

function leaseFileName(key: string): string {
  // Readable for `ls`, unique by the hash: `/dev/pts/3` and `/dev/pts_3` must not share a file.
  const readable = key.replace(/^\/+/, '').replace(/[^\w.-]+/g, '_').slice(-80);
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 12);
  return `${readable}-${hash}${LEASE_SUFFIX}`;
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** Is `pid` a live process on this host? EPERM means alive (another user's). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's start time in clock ticks since boot (Linux), or undefined where /proc cannot tell. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function hhmm(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(11, 16)} UTC`;
}

/** "ec200u-01 is in use by alice, pid 4242, CI job 9913, since 02:14 UTC". */
export function describeHolder(holder: LeaseHolder, localHost: string = hostname()): string {
  const parts = [`${holder.board} is in use by ${holder.user}`, `pid ${holder.pid}${holder.host === localHost ? '' : ` on ${holder.host}`}`];
  if (holder.ciJob) parts.push(`CI job ${holder.ciJob}`);
  parts.push(`since ${hhmm(holder.startedAt)}`);
  return `${parts.join(', ')} (port ${holder.address}${holder.address === holder.key ? '' : ` = ${holder.key}`})`;
}

function parseHolder(text: string): LeaseHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LeaseHolder>;
    if (typeof value.key !== 'string' || typeof value.pid !== 'number' || typeof value.token !== 'string' || typeof value.expiresAt !== 'string') return undefined;
    return {
      key: value.key,
      board: String(value.board ?? '?'),
      address: String(value.address ?? value.key),
      user: String(value.user ?? '?'),
      host: String(value.host ?? '?'),
      pid: value.pid,
      ...(typeof value.pidStart === 'string' && { pidStart: value.pidStart }),
      ...(typeof value.ciJob === 'string' && { ciJob: value.ciJob }),
      startedAt: String(value.startedAt ?? ''),
      renewedAt: String(value.renewedAt ?? ''),
      expiresAt: value.expiresAt,
      token: value.token,
    };
  } catch {
    return undefined;
  }
}

export interface LeaseStoreOptions {
  lockDir: string;
  ttlMs?: number;
  /** Injectable for tests: the wall clock (ms) and whether a pid lives. */
  nowMs?: () => number;
  isAlive?: (pid: number) => boolean;
  startOf?: (pid: number) => string | undefined;
  host?: string;
  user?: string;
  pid?: number;
  env?: NodeJS.ProcessEnv;
}

export interface AcquireOptions {
  board: string;
  /** Port addresses as the board names them (device paths or tcp://). */
  addresses: string[];
  /** Queue for this long when a port is busy (0: fail at once). */
  waitMs?: number;
  signal?: AbortSignal;
  /** Called when a dead or expired holder's lease is taken over, when the taker queues, and when a held lease is lost. */
  onNote?: (message: string) => void;
}

/** The leases of one board, held until `release`. */
export interface BoardLease {
  readonly keys: string[];
  /** What was taken over from whom, for the report. */
  readonly notes: string[];
  release(): void;
}

/** Every lease this process holds, released synchronously if the process exits without closing them. */
const heldByProcess = new Set<HeldLease>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A second Ctrl-C or an uncaught error exits without closing the board: its leases go anyway.
  process.on('exit', () => {
    for (const lease of [...heldByProcess]) lease.release();
  });
}

class HeldLease {
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  constructor(
    private readonly store: LeaseStore,
    readonly file: string,
    private holder: LeaseHolder,
    private readonly onLost: (message: string) => void,
  ) {
    heldByProcess.add(this);
    installExitHook();
    const renewEveryMs = Math.max(50, Math.floor(store.ttlMs / 3));
    this.timer = setInterval(() => this.renew(), renewEveryMs);
    // The heartbeat never keeps a finished process alive.
    this.timer.unref();
  }

  get key(): string {
    return this.holder.key;
  }

  renew(): void {
    if (this.released) return;
    const current = this.store.readFile(this.file);
    if (current?.token !== this.holder.token) {
      this.stop();
      this.onLost(
        `the lease on ${this.holder.key} was taken away${current ? ` (${describeHolder(current, this.store.host)})` : ' (released with qhil lease release --kick)'}: another run may now open this port`,
      );
      return;
    }
    const now = this.store.nowMs();
    this.holder = { ...this.holder, renewedAt: new Date(now).toISOString(), expiresAt: new Date(now + this.store.ttlMs).toISOString() };
    try {
      this.store.writeReplacing(this.file, this.holder);
    } catch (error) {
      this.onLost(`cannot renew the lease on ${this.holder.key}: ${errorMessage(error)}`);
    }
  }

  release(): void {
    if (this.released) return;
    this.stop();
    // Only our own lease is removed: a holder that lost it (kicked, expired) leaves the new one alone.
    if (this.store.readFile(this.file)?.token === this.holder.token) {
      try {
        unlinkSync(this.file);
      } catch {
        // Gone already.
      }
    }
  }

  private stop(): void {
    this.released = true;
    clearInterval(this.timer);
    heldByProcess.delete(this);
  }
}

/** The lease directory of a host: take, list, release. */
export class LeaseStore {
  readonly lockDir: string;
  readonly ttlMs: number;
  readonly nowMs: () => number;
  private readonly isAlive: (pid: number) => boolean;
  private readonly startOf: (pid: number) => string | undefined;
  readonly host: string;
  private readonly user: string;
  private readonly pid: number;
  private readonly ciJob: string | undefined;
  private readonly ownStart: string | undefined;

  constructor(options: LeaseStoreOptions) {
    this.lockDir = options.lockDir;
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.nowMs = options.nowMs ?? Date.now;
    this.isAlive = options.isAlive ?? pidAlive;
    this.startOf = options.startOf ?? processStart;
    this.host = options.host ?? hostname();
    this.user = options.user ?? currentUser();
    this.pid = options.pid ?? process.pid;
    this.ciJob = ciJobFromEnv(options.env);
    this.ownStart = this.startOf(this.pid);
  }

  /**
   * Takes a lease on every port of a board (in key order, so two runs wanting the same two ports
   * cannot each hold one and wait for the other). Busy: waits up to `waitMs`, polling with back-off,
   * then throws InfrastructureError naming the holder. Nothing is left held when it throws.
   */
  async acquire(options: AcquireOptions): Promise<BoardLease> {
    this.ensureDir();
    const addressOf = new Map(options.addresses.flatMap((address) => leaseKeys(address).map((key) => [key, address] as const)));
    const keys = [...addressOf.keys()].sort();
    const deadline = performance.now() + (options.waitMs ?? 0);
    const held: HeldLease[] = [];
    const notes: string[] = [];
    const note = (message: string): void => {
      notes.push(message);
      options.onNote?.(message);
    };
    try {
      for (const key of keys) {
        let pollMs = WAIT_FIRST_POLL_MS;
        for (;;) {
          if (options.signal?.aborted) throw new InfrastructureError(`board ${options.board}: the run was stopped while waiting for its lease`);
          const taken = this.tryTake(key, options.board, addressOf.get(key) ?? key, note, options.onNote ?? (() => undefined));
          if (taken.lease) {
            held.push(taken.lease);
            break;
          }
          const leftMs = deadline - performance.now();
          if (leftMs > 0 && pollMs === WAIT_FIRST_POLL_MS) note(`waiting up to ${Math.round(leftMs / 1000)}s for the port: ${describeHolder(taken.busy, this.host)}`);
          if (leftMs <= 0) {
            const waited = options.waitMs ? ` (waited ${Math.round(options.waitMs / 1000)}s)` : '; give --wait <duration> to queue for it';
            throw new InfrastructureError(`${describeHolder(taken.busy, this.host)}${waited}`);
          }
          await sleep(Math.min(pollMs, leftMs), options.signal);
          pollMs = Math.min(WAIT_MAX_POLL_MS, pollMs * 2);
        }
      }
    } catch (error) {
      for (const lease of held) lease.release();
      throw error;
    }
    return {
      keys,
      notes,
      release: () => {
        for (const lease of held) lease.release();
      },
    };
  }

  /** Every lease in the directory, with whether its holder still holds it. */
  list(): LeaseEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.lockDir).filter((name) => name.endsWith(LEASE_SUFFIX));
    } catch {
      return [];
    }
    const entries: LeaseEntry[] = [];
    for (const name of names.sort()) {
      const file = join(this.lockDir, name);
      const holder = this.readFile(file);
      if (holder) entries.push({ file, holder, state: this.stateOf(holder) });
    }
    return entries;
  }

  /** Leases matching a board id or a port address (any of its names). */
  find(boardOrPort: string): LeaseEntry[] {
    const keys = /^(tcp:\/\/|\/|COM\d|\\\\)/i.test(boardOrPort) ? leaseKeys(boardOrPort) : [];
    return this.list().filter((entry) => entry.holder.board === boardOrPort || keys.includes(entry.holder.key));
  }

  /** Removes a lease if it is still the one in `entry` (not one taken since). */
  remove(entry: LeaseEntry): boolean {
    if (this.readFile(entry.file)?.token !== entry.holder.token) return false;
    try {
      unlinkSync(entry.file);
      return true;
    } catch {
      return false;
    }
  }

  stateOf(holder: LeaseHolder): LeaseState {
    if (holder.host === this.host) {
      if (!this.isAlive(holder.pid)) return 'holder-dead';
      // pid_max is often 32768: on a busy host a dead holder's pid soon belongs to another process.
      const start = holder.pidStart === undefined ? undefined : this.startOf(holder.pid);
      if (start !== undefined && start !== holder.pidStart) return 'holder-dead';
    }
    const expires = Date.parse(holder.expiresAt);
    if (!Number.isFinite(expires) || expires < this.nowMs()) return 'expired';
    if (holder.host === this.host && holder.key.startsWith('/dev/') && holder.address !== holder.key && !leaseKeys(holder.address).includes(holder.key)) return 'device-moved';
    return 'held';
  }

  readFile(file: string): LeaseHolder | undefined {
    try {
      const text = readFileSync(file, 'utf8');
      return text.length > MAX_LEASE_BYTES ? undefined : parseHolder(text);
    } catch {
      return undefined;
    }
  }

  /** Replaces `file` at once (temp + rename): a reader sees the old record or the new, never half. */
  writeReplacing(file: string, holder: LeaseHolder): void {
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(temp, `${JSON.stringify(holder)}\n`, { mode: 0o644 });
    try {
      renameSync(temp, file);
    } catch (error) {
      unlinkQuietly(temp);
      throw error;
    }
  }

  private ensureDir(): void {
    try {
      mkdirSync(this.lockDir, { recursive: true, mode: 0o1777 });
    } catch (error) {
      throw new InfrastructureError(`cannot create the lease directory ${this.lockDir}: ${errorMessage(error)}`);
    }
    // mkdir's mode is cut by the umask; the directory must stay writable by every user, as /tmp is.
    try {
      chmodSync(this.lockDir, 0o1777);
    } catch {
      // Someone else's directory: it is theirs to keep writable.
    }
  }

  private newHolder(key: string, board: string, address: string): LeaseHolder {
    const now = this.nowMs();
    return {
      key,
      board,
      address,
      user: this.user,
      host: this.host,
      pid: this.pid,
      ...(this.ownStart !== undefined && { pidStart: this.ownStart }),
      ...(this.ciJob && { ciJob: this.ciJob }),
      startedAt: new Date(now).toISOString(),
      renewedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.ttlMs).toISOString(),
      token: randomBytes(8).toString('hex'),
    };
  }

  /** One attempt at one port: the lease, or who holds it. A dead or expired holder is moved aside first. */
  private tryTake(
    key: string,
    board: string,
    address: string,
    note: (message: string) => void,
    onLost: (message: string) => void,
  ): { lease: HeldLease; busy?: undefined } | { lease?: undefined; busy: LeaseHolder } {
    const file = join(this.lockDir, leaseFileName(key));
    for (let attempt = 0; attempt < 3; attempt++) {
      const holder = this.newHolder(key, board, address);
      if (this.createExclusive(file, holder)) return { lease: new HeldLease(this, file, holder, onLost) };
      const current = this.readFile(file);
      if (!current) {
        // Unreadable (being replaced, or not a lease at all): a foreign file is moved aside, once.
        if (attempt > 0) this.reap(file, undefined);
        continue;
      }
      const state = this.stateOf(current);
      if (state === 'held') return { busy: current };
      if (this.reap(file, current.token)) {
        note(
          `took over the lease on ${key} from ${current.user}, pid ${current.pid}${current.ciJob ? `, CI job ${current.ciJob}` : ''} (board ${current.board}, since ${hhmm(current.startedAt)}): ` +
            (state === 'holder-dead'
              ? 'that process is gone'
              : state === 'device-moved'
                ? `its port ${current.address} no longer leads to this device`
                : `it expired at ${hhmm(current.expiresAt)} without a heartbeat`),
        );
      }
    }
    const current = this.readFile(file);
    if (current) return { busy: current };
    throw new InfrastructureError(`cannot take the lease on ${key} in ${this.lockDir}: the lease file keeps changing`);
  }

  /** link(2) of a complete temp file to the lease name: fails when the name exists, so one taker wins. */
  private createExclusive(file: string, holder: LeaseHolder): boolean {
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      writeFileSync(temp, `${JSON.stringify(holder)}\n`, { mode: 0o644 });
    } catch (error) {
      throw new InfrastructureError(`cannot write a lease in ${this.lockDir}: ${errorMessage(error)}`);
    }
    try {
      linkSync(temp, file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new InfrastructureError(`cannot take a lease in ${this.lockDir}: ${errorMessage(error)}`);
    } finally {
      unlinkQuietly(temp);
    }
  }

  /**
   * Moves a stale lease aside: rename is atomic, so of two takers only one moves it. If what was
   * moved is not the stale lease read (someone took it over meanwhile), it is put back.
   */
  private reap(file: string, staleToken: string | undefined): boolean {
    const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.reaped`;
    try {
      renameSync(file, aside);
    } catch {
      return false;
    }
    const moved = this.readFile(aside);
    if (staleToken !== undefined && moved?.token !== staleToken) {
      try {
        linkSync(aside, file);
      } catch {
        // The name was taken meanwhile; the moved holder finds out at its next heartbeat.
      }
      unlinkQuietly(aside);
      return false;
    }
    unlinkQuietly(aside);
    return true;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}
