/**
 * Whole-process start-up, as a user meets it (issue 13): each qhil command beside the tool it
 * replaces, spawn to exit, runs alternating, median and min–max:
 *   qhil exec --repl <pty> "print(1)"  vs  mpremote connect <pty> exec "print(1)"  (same sim board)
 *   qhil --help                         vs  node -e 0
 *   qhil sntp <server> --samples 1      vs  ntpdig <server> (one sample each, loopback server on :123)
 * Run alone with `node dist/bench/process.js [runs]` after `npm run build`.
 */
import { randomInt } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import { startSimBoard } from '../sim/board.js';
import { servePty } from '../sim/serve.js';
import { alternate, processComparisonRows, processSubject } from './compare.js';
import { findMpremote, findNtpdig, QHIL_BIN, socatAvailable } from './tools.js';

const DEFAULT_RUNS = 15;
/** Plain lines, no colour or live progress, in qhil and in the anchors alike. */
const PLAIN_ENV = { ...process.env, CI: 'true', NO_COLOR: '1' };

function printsOne(stdout: string): void {
  if (stdout.trim() !== '1') throw new Error(`printed ${JSON.stringify(stdout.slice(0, 200))}, not 1`);
}

async function benchExec(runs: number): Promise<Record<string, string>> {
  const mpremote = findMpremote();
  if (typeof mpremote === 'string') return { 'qhil exec vs mpremote exec': `skipped: ${mpremote}` };
  if (!socatAvailable()) return { 'qhil exec vs mpremote exec': 'skipped: socat not installed (it serves the sim board on a PTY)' };
  const board = await startSimBoard({ profile: 'ec200u' });
  try {
    const served = await servePty(board);
    try {
      const pty = served.ports.repl;
      const ours = processSubject('qhil exec --repl <pty> "print(1)"', {
        file: process.execPath,
        args: [QHIL_BIN, 'exec', '--repl', pty, 'print(1)'],
        env: PLAIN_ENV,
        check: printsOne,
      });
      const anchor = processSubject('mpremote connect <pty> exec "print(1)"', {
        file: mpremote.file,
        args: [...mpremote.args, 'connect', pty, 'exec', 'print(1)'],
        env: { ...mpremote.env, NO_COLOR: '1' },
        check: printsOne,
      });
      return processComparisonRows(ours, anchor, await alternate(ours, anchor, runs), 1.3);
    } finally {
      await served.close();
    }
  } finally {
    await board.close();
  }
}

async function benchHelp(runs: number): Promise<Record<string, string>> {
  const ours = processSubject('qhil --help', {
    file: process.execPath,
    args: [QHIL_BIN, '--help'],
    env: PLAIN_ENV,
    check: (stdout) => {
      if (!stdout.includes('Commands:')) throw new Error('printed no command list');
    },
  });
  const anchor = processSubject('node -e 0', { file: process.execPath, args: ['-e', '0'], env: PLAIN_ENV });
  return processComparisonRows(ours, anchor, await alternate(ours, anchor, runs), 2);
}

/**
 * ntpdig asks port 123 only, so the server listens there, on a loopback address of its own
 * (127.x.y.z, all loopback on Linux) so a bench of another worktree running at once does not collide.
 */
async function startPort123Server(): Promise<SntpServer | string> {
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const host = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    try {
      return await startSntpServer({ host, port: 123 });
    } catch (error) {
      lastError = (error as Error).message;
      if ((error as NodeJS.ErrnoException).code === 'EACCES') break;
    }
  }
  return `cannot listen on port 123 (ntpdig asks there only; needs root or CAP_NET_BIND_SERVICE): ${lastError}`;
}

async function benchSntpProcess(runs: number): Promise<Record<string, string>> {
  const ntpdig = findNtpdig();
  if (typeof ntpdig === 'string') return { 'qhil sntp vs ntpdig': `skipped: ${ntpdig}` };
  const server = await startPort123Server();
  if (typeof server === 'string') return { 'qhil sntp vs ntpdig': `skipped: ${server}` };
  try {
    const ours = processSubject('qhil sntp <127.x.y.z> --samples 1', {
      file: process.execPath,
      args: [QHIL_BIN, 'sntp', server.address, '--samples', '1'],
      env: PLAIN_ENV,
    });
    const anchor = processSubject('ntpdig <127.x.y.z> (1 sample)', {
      file: ntpdig.file,
      args: ['-t', '5', server.address],
      env: ntpdig.env,
      check: (stdout) => {
        if (!stdout.includes(server.address)) throw new Error(`no answer from ${server.address}: ${JSON.stringify(stdout.slice(0, 200))}`);
      },
    });
    return processComparisonRows(ours, anchor, await alternate(ours, anchor, runs), 2);
  } finally {
    await server.close();
  }
}

/** Every start-up comparison; `runs` per side. */
export async function benchProcesses(runs = DEFAULT_RUNS): Promise<Record<string, string>> {
  return { ...(await benchHelp(runs)), ...(await benchSntpProcess(runs)), ...(await benchExec(runs)) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = process.argv[2] ? Number(process.argv[2]) : DEFAULT_RUNS;
  for (const [label, value] of Object.entries(await benchProcesses(runs))) process.stdout.write(`  ${label.padEnd(48)} ${value}\n`);
}
