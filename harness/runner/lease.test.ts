import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InfrastructureError } from '../core/errors.js';
import { ciJobFromEnv, describeHolder, leaseKey, LeaseStore, lockDirFrom, processStart, type LeaseStoreOptions } from './lease.js';

let dir: string;
let lockDir: string;
const held: { release(): void }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'qhil-lease-test-'));
  lockDir = join(dir, 'locks');
});

afterEach(() => {
  for (const lease of held.splice(0)) lease.release();
  rmSync(dir, { recursive: true, force: true });
});

/** A store as another process would have it: its own pid, user and clock. */
function store(options: Partial<LeaseStoreOptions> = {}): LeaseStore {
  return new LeaseStore({ lockDir, host: 'rig-host', user: 'alice', pid: 4242, isAlive: () => true, startOf: () => undefined, env: {}, ...options });
}

describe('leases', () => {
  it('a second taker of a held port is refused, naming the holder, its CI job and since when', async () => {
    // Both on one fixed clock: the lease must not have expired for the second taker.
    const nowMs = (): number => Date.parse('2026-12-02T02:14:30Z');
    const first = store({ env: { CI_JOB_ID: '9913' }, nowMs });
    held.push(await first.acquire({ board: 'ec200u-01', addresses: ['tcp://127.0.0.1:7002'] }));
    const second = store({ user: 'bob', pid: 5151, nowMs });
    const error = await second.acquire({ board: 'other-name', addresses: ['tcp://127.0.0.1:7002'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as Error).message).toMatch(/^ec200u-01 is in use by alice, pid 4242, CI job 9913, since 02:14 UTC \(port tcp:\/\/127\.0\.0\.1:7002\)/);
    expect((error as Error).message).toContain('--wait');
  });

  it('two names of one device meet: a symlink (by-id) and its target; tcp hosts in any case', async () => {
    const device = join(dir, 'ttyUSB2');
    writeFileSync(device, '');
    const byId = join(dir, 'usb-Quectel_EC200U-if02-port0');
    symlinkSync(device, byId);
    expect(leaseKey(byId)).toBe(leaseKey(device));
    expect(leaseKey('tcp://RigHost:7002')).toBe(leaseKey('tcp://righost:7002'));
    held.push(await store().acquire({ board: 'a', addresses: [byId] }));
    await expect(store({ pid: 5151 }).acquire({ board: 'b', addresses: [device] })).rejects.toThrow(/a is in use by alice/);
  });

  it('a link re-pointed while its lease is held (re-enumeration, a rebooted PTY) still meets the holder', async () => {
    const [first, second] = [join(dir, 'ttyUSB2'), join(dir, 'ttyUSB3')];
    writeFileSync(first, '');
    writeFileSync(second, '');
    const byId = join(dir, 'usb-Quectel_EC200U-if02-port0');
    symlinkSync(first, byId);
    held.push(await store().acquire({ board: 'a', addresses: [byId] }));
    rmSync(byId);
    symlinkSync(second, byId);
    await expect(store({ pid: 5151 }).acquire({ board: 'b', addresses: [byId] })).rejects.toThrow(/a is in use by alice/);
  });

  it('a lease whose holder died on this host is taken over, and the taker says from whom', async () => {
    held.push(await store({ pid: 111 }).acquire({ board: 'ec200u-01', addresses: ['tcp://127.0.0.1:7002'] }));
    const notes: string[] = [];
    const taker = store({ pid: 222, isAlive: (pid) => pid !== 111 });
    const lease = await taker.acquire({ board: 'ec200u-01', addresses: ['tcp://127.0.0.1:7002'], onNote: (m) => notes.push(m) });
    held.push(lease);
    expect(lease.notes).toEqual(notes);
    expect(notes[0]).toMatch(/took over the lease on tcp:\/\/127\.0\.0\.1:7002 from alice, pid 111 .*that process is gone/);
    expect(taker.list()[0]?.holder.pid).toBe(222);
  });

  it('a dead holder whose pid now belongs to another process is still dead (its start time differs)', async () => {
    let started = '1000';
    held.push(await store({ pid: 111, startOf: () => started }).acquire({ board: 'b', addresses: ['tcp://127.0.0.1:7002'] }));
    const taker = store({ pid: 222, startOf: () => started });
    await expect(taker.acquire({ board: 'b', addresses: ['tcp://127.0.0.1:7002'] })).rejects.toThrow(/in use/);
    started = '2000';
    const notes: string[] = [];
    held.push(await taker.acquire({ board: 'b', addresses: ['tcp://127.0.0.1:7002'], onNote: (m) => notes.push(m) }));
    expect(notes[0]).toMatch(/that process is gone/);
  });

  it('reads a real process start time on Linux', () => {
    if (process.platform !== 'linux') return;
    expect(processStart(process.pid)).toMatch(/^\d+$/);
    expect(processStart(process.pid)).toBe(processStart(process.pid));
  });

  it('a holder on another host is never judged dead by pid, only by its expiry', async () => {
    let nowMs = Date.parse('2026-12-02T02:00:00Z');
    const remote = store({ host: 'other-host', pid: 111, ttlMs: 60_000, nowMs: () => nowMs });
    // The heartbeat is stopped at once (as a frozen or unreachable holder's would be).
    const lease = await remote.acquire({ board: 'b', addresses: ['tcp://10.0.0.5:7002'] });
    const local = store({ pid: 222, isAlive: () => false, nowMs: () => nowMs });
    await expect(local.acquire({ board: 'b', addresses: ['tcp://10.0.0.5:7002'] })).rejects.toThrow(/pid 111 on other-host/);
    nowMs += 61_000;
    const notes: string[] = [];
    held.push(await local.acquire({ board: 'b', addresses: ['tcp://10.0.0.5:7002'], onNote: (m) => notes.push(m) }));
    expect(notes[0]).toMatch(/expired at 02:01 UTC without a heartbeat/);
    // The old holder's release leaves the new lease alone.
    lease.release();
    expect(local.list()).toHaveLength(1);
    expect(local.list()[0]?.holder.pid).toBe(222);
  });

  it('--wait queues: the second taker gets the port once the first releases it', async () => {
    const first = await store().acquire({ board: 'a', addresses: ['tcp://127.0.0.1:7002'] });
    setTimeout(() => first.release(), 300);
    const second = await store({ pid: 5151 }).acquire({ board: 'a', addresses: ['tcp://127.0.0.1:7002'], waitMs: 20_000 });
    held.push(second);
    expect(store().list()[0]?.holder.pid).toBe(5151);
  });

  it('a board with two ports takes both or neither', async () => {
    held.push(await store().acquire({ board: 'a', addresses: ['tcp://127.0.0.1:7003'] }));
    await expect(store({ pid: 5151 }).acquire({ board: 'b', addresses: ['tcp://127.0.0.1:7002', 'tcp://127.0.0.1:7003'] })).rejects.toThrow(/in use/);
    expect(store().list().map((entry) => entry.holder.key)).toEqual(['tcp://127.0.0.1:7003']);
  });

  it('the heartbeat renews the expiry, and release removes the file; the directory is world-writable and sticky', async () => {
    let nowMs = 1_000_000;
    const lease = await store({ ttlMs: 150, nowMs: () => nowMs }).acquire({ board: 'a', addresses: ['tcp://127.0.0.1:7002'] });
    const before = store().list()[0]?.holder.expiresAt;
    nowMs += 10_000;
    await new Promise((resolve) => setTimeout(resolve, 400));
    const after = store().list()[0]?.holder.expiresAt;
    expect(Date.parse(after ?? '')).toBeGreaterThan(Date.parse(before ?? ''));
    expect(statSync(lockDir).mode & 0o7777).toBe(0o1777);
    lease.release();
    expect(readdirSync(lockDir)).toEqual([]);
  });

  it('a kicked holder finds out at its next heartbeat', async () => {
    const lost: string[] = [];
    const owner = store({ ttlMs: 150 });
    held.push(await owner.acquire({ board: 'a', addresses: ['tcp://127.0.0.1:7002'], onNote: (m) => lost.push(m) }));
    const [entry] = store().find('a');
    expect(entry && store().remove(entry)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(lost.join('\n')).toMatch(/taken away .*--kick/);
  });

  it('find matches a board id or any name of the port', async () => {
    held.push(await store().acquire({ board: 'ec200u-01', addresses: ['tcp://RIG:7002'] }));
    expect(store().find('ec200u-01')).toHaveLength(1);
    expect(store().find('tcp://rig:7002')).toHaveLength(1);
    expect(store().find('ec200u-02')).toHaveLength(0);
  });

  it('CI job ids and the lock directory come from the environment', () => {
    expect(ciJobFromEnv({ GITHUB_RUN_ID: '77', GITHUB_RUN_ATTEMPT: '2', GITHUB_JOB: 'rig' })).toBe('77/2/rig');
    expect(ciJobFromEnv({ CI_JOB_ID: '9913' })).toBe('9913');
    expect(ciJobFromEnv({})).toBeUndefined();
    expect(lockDirFrom('/flag', '/rig', { QHIL_LOCK_DIR: '/env' })).toBe('/flag');
    expect(lockDirFrom(undefined, '/rig', { QHIL_LOCK_DIR: '/env' })).toBe('/env');
    expect(lockDirFrom(undefined, '/rig', {})).toBe('/rig');
    expect(lockDirFrom(undefined, undefined, {})).toBe('/tmp/qhil-leases');
    expect(describeHolder({ key: 'k', board: 'b', address: 'k', user: 'u', host: 'h', pid: 1, startedAt: 'x', renewedAt: '', expiresAt: '', token: 't' }, 'h')).toBe(
      'b is in use by u, pid 1, since x (port k)',
    );
  });
});
