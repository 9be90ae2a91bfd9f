/**
 * `qhil lease list` and `qhil lease release <board|port> [--kick]`: the board leases of this host
 * (runner/lease.ts). Heavy modules are imported inside the actions: start-up stays quick.
 */
import type { Command } from 'commander';
import { ExitCode, type CliCommand, type CliIo } from './command.js';

interface LeaseFlags {
  lockDir?: string;
  json?: boolean;
  kick?: boolean;
}

export const leaseCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit) {
    const lease = program.command('lease').description('board leases on this host: who holds which port (see qhil run --wait)');
    lease
      .command('list')
      .description('list the leases: port, board, holder, since, expiry, and whether the holder is still there')
      .option('--lock-dir <dir>', 'lease folder (default $QHIL_LOCK_DIR, else /tmp/qhil-leases)')
      .option('--json', 'print JSON')
      .action(async (flags: LeaseFlags) => {
        const { LeaseStore, lockDirFrom } = await import('../runner/lease.js');
        const { safeField } = await import('../core/text.js');
        const entries = new LeaseStore({ lockDir: lockDirFrom(flags.lockDir, undefined) }).list();
        if (flags.json) {
          io.stdout(`${JSON.stringify(entries.map((entry) => ({ ...entry.holder, state: entry.state, file: entry.file })), null, 2)}\n`);
        } else if (entries.length === 0) {
          io.stdout('no leases\n');
        } else {
          for (const { holder, state } of entries) {
            const cells = [holder.board, holder.key, `${holder.user}@${holder.host} pid ${holder.pid}`, holder.ciJob ? `CI job ${holder.ciJob}` : '', `since ${holder.startedAt}`, `expires ${holder.expiresAt}`, state];
            io.stdout(`${cells.filter(Boolean).map((cell) => safeField(cell, 120)).join('  ')}\n`);
          }
        }
        setExit(ExitCode.Ok);
      });
    lease
      .command('release')
      .description("release a board's leases: a dead or expired holder's at once; a live holder's only with --kick")
      .argument('<board|port>', 'a board id, or a port address (any name of it)')
      .option('--kick', "take the lease from a live holder too, and stop it (SIGTERM) when it runs on this host")
      .option('--lock-dir <dir>', 'lease folder (default $QHIL_LOCK_DIR, else /tmp/qhil-leases)')
      .action(async (target: string, flags: LeaseFlags) => {
        const { describeHolder, LeaseStore, lockDirFrom, pidAlive } = await import('../runner/lease.js');
        const { safeField } = await import('../core/text.js');
        const { hostname } = await import('node:os');
        const store = new LeaseStore({ lockDir: lockDirFrom(flags.lockDir, undefined) });
        const entries = store.find(target);
        if (entries.length === 0) {
          io.stderr(`qhil: no lease on ${safeField(target, 120)} in ${store.lockDir}\n`);
          setExit(ExitCode.Ok);
          return;
        }
        let refused = false;
        // Every lease is removed before any holder is signalled: a holder stopping on SIGTERM removes its
        // other leases itself, and that is not "changed meanwhile".
        const released: { entry: (typeof entries)[number]; who: string }[] = [];
        for (const entry of entries) {
          const who = safeField(describeHolder(entry.holder, store.host), 300);
          if (entry.state === 'held' && !flags.kick) {
            io.stderr(`qhil: ${who}: still held; give --kick to take it away\n`);
            refused = true;
            continue;
          }
          if (!store.remove(entry)) {
            io.stderr(`qhil: the lease on ${safeField(entry.holder.key, 120)} changed meanwhile; see qhil lease list\n`);
            refused = true;
            continue;
          }
          released.push({ entry, who });
        }
        const signalled = new Set<number>();
        for (const { entry, who } of released) {
          let stopped = '';
          // One SIGTERM per holder (a board has two ports): a second one makes a run leave at once.
          if (entry.state === 'held' && entry.holder.host === hostname() && !signalled.has(entry.holder.pid) && pidAlive(entry.holder.pid)) {
            signalled.add(entry.holder.pid);
            try {
              // SIGTERM stops a qhil run cleanly: its ports closed, what it measured written, exit 3.
              process.kill(entry.holder.pid, 'SIGTERM');
              stopped = `; sent SIGTERM to pid ${entry.holder.pid}`;
            } catch (error) {
              stopped = `; could not signal pid ${entry.holder.pid} (${(error as NodeJS.ErrnoException).code ?? 'error'}): it finds the lease gone at its next heartbeat`;
            }
          }
          io.stdout(`released ${entry.state === 'held' ? 'the live' : `the ${entry.state === 'expired' ? 'expired' : entry.state === 'device-moved' ? 'moved device\'s' : "dead holder's"}`} lease: ${who}${stopped}\n`);
        }
        setExit(refused ? ExitCode.Infrastructure : ExitCode.Ok);
      });
  },
};
