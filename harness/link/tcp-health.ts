import { readFile } from 'node:fs/promises';

/** What the kernel says about one established TCP connection (Linux `/proc/net/tcp{,6}`). */
export interface TcpConnectionState {
  /** Bytes sent but not yet acknowledged by the far end. */
  unacknowledgedBytes: number;
  /** Retransmission timeouts since the far end last acknowledged anything (0 while it answers). */
  retransmits: number;
  /** Keepalive (or zero-window) probes sent and not answered. */
  probesUnanswered: number;
  /** The kernel timer that is running: 1 retransmit, 2 keepalive, 4 zero-window probe, 0 none. */
  timer: number;
}

export interface TcpEndpoints {
  localPort: number;
  remotePort: number;
  family: 'IPv4' | 'IPv6';
}

/** How long a table read stays fresh: links ticking together share one read. */
const TABLE_FRESH_MS = 150;

/**
 * The kernel's table of TCP connections, read at most once per TABLE_FRESH_MS however many links
 * ask, so a rig of many ports costs a few reads a second. Linux only: elsewhere `state` is always
 * undefined and the links fall back to keepalive and their write deadline.
 */
export class ProcNetTcp {
  private cached: { readAtMs: number; family: TcpEndpoints['family']; rows: Promise<string[]> }[] = [];
  private unavailable = process.platform !== 'linux';

  async state(endpoints: TcpEndpoints): Promise<TcpConnectionState | undefined> {
    if (this.unavailable) return undefined;
    const rows = await this.rows(endpoints.family);
    const local = `:${hexPort(endpoints.localPort)}`;
    const remote = `:${hexPort(endpoints.remotePort)}`;
    for (const row of rows) {
      const fields = row.trim().split(/\s+/);
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const [, localAddress, remoteAddress, state, queues, timer, retransmits, , probes] = fields;
      if (state !== '01' || !localAddress?.endsWith(local) || !remoteAddress?.endsWith(remote)) continue;
      return {
        unacknowledgedBytes: Number.parseInt(queues?.split(':')[0] ?? '0', 16),
        retransmits: Number.parseInt(retransmits ?? '0', 16),
        probesUnanswered: Number.parseInt(probes ?? '0', 10),
        timer: Number.parseInt(timer?.split(':')[0] ?? '0', 16),
      };
    }
    return undefined;
  }

  private rows(family: TcpEndpoints['family']): Promise<string[]> {
    const nowMs = performance.now();
    const fresh = this.cached.find((entry) => entry.family === family && nowMs - entry.readAtMs < TABLE_FRESH_MS);
    if (fresh) return fresh.rows;
    const rows = readFile(family === 'IPv6' ? '/proc/net/tcp6' : '/proc/net/tcp', 'latin1').then(
      (text) => text.split('\n').slice(1),
      () => {
        this.unavailable = true;
        return [];
      },
    );
    this.cached = [...this.cached.filter((entry) => entry.family !== family), { readAtMs: nowMs, family, rows }];
    return rows;
  }
}

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0');
}

/** One table for the process: every TcpLink asks it, so its reads are shared. */
export const procNetTcp = new ProcNetTcp();
