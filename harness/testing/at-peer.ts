// Test peer: a small live AT responder that is not the project's simulated board. It answers the
// commands a Quectel module answers for identify, dial, NTP and the clock, from the host's own clock
// (UTC, zone +00), on a socat pseudo-terminal, so `qhil run --at <pty>` meets a board it did not write.
import type { Link } from '../link/link.js';
import { SerialLink } from '../link/serial.js';
import { startPtyPair, type PtyPair } from './socat.js';

export interface AtPeer {
  /** The port the harness opens. */
  address: string;
  /** Every command line received, in order. */
  received: string[];
  stop(): Promise<void>;
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** `+CCLK: "yy/MM/dd,hh:mm:ss+00"` for the host's clock now. */
function cclk(nowMs: number): string {
  const d = new Date(nowMs);
  return `+CCLK: "${two(d.getUTCFullYear() % 100)}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())},${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}+00"`;
}

/** The answer lines (without the final code) and the final code of one command line. */
function answer(command: string, state: { echo: boolean; active: boolean }): { lines: string[]; final: string; urc?: string } {
  const upper = command.toUpperCase();
  if (upper === 'AT') return { lines: [], final: 'OK' };
  if (upper === 'ATE0' || upper === 'ATE1') {
    state.echo = upper === 'ATE1';
    return { lines: [], final: 'OK' };
  }
  if (upper === 'ATI') return { lines: ['Quectel', 'EG915U', 'Revision: EG915UEUABR03A01M08'], final: 'OK' };
  if (upper === 'AT+QGMR') return { lines: ['EG915UEUABR03A01M08_01.001.01.001'], final: 'OK' };
  if (upper === 'AT+CGSN') return { lines: ['861234050000018'], final: 'OK' };
  if (upper === 'AT+CPIN?') return { lines: ['+CPIN: READY'], final: 'OK' };
  if (upper === 'AT+CSQ') return { lines: ['+CSQ: 24,99'], final: 'OK' };
  if (upper === 'AT+CEREG?' || upper === 'AT+CREG?' || upper === 'AT+CGREG?') return { lines: [`${upper.slice(2, -1)}: 0,1`], final: 'OK' };
  if (upper.startsWith('AT+QICSGP=')) return { lines: [], final: 'OK' };
  if (upper === 'AT+QIACT?') return { lines: state.active ? ['+QIACT: 1,1,1,"10.20.30.40"'] : [], final: 'OK' };
  if (upper.startsWith('AT+QIACT=')) {
    state.active = true;
    return { lines: [], final: 'OK' };
  }
  if (upper.startsWith('AT+QNTP=')) return { lines: [], final: 'OK', urc: `+QNTP: 0,"${String(new Date().getUTCFullYear())}${cclk(Date.now()).slice(10, -1)}"` };
  if (upper === 'AT+CCLK?') return { lines: [cclk(Date.now())], final: 'OK' };
  if (upper.startsWith('AT+CTZU') || upper.startsWith('AT+QLTS')) return { lines: [], final: 'OK' };
  return { lines: [], final: 'ERROR' };
}

/** Serves the responder on the board end of a link until it closes. */
export function serveAtPeer(board: Link, received: string[] = []): string[] {
  const state = { echo: true, active: false };
  let inbound = '';
  let chain: Promise<void> = Promise.resolve();
  board.onData((bytes) => {
    inbound += bytes.toString('latin1');
    for (;;) {
      const end = inbound.indexOf('\r');
      if (end < 0) break;
      const line = inbound.slice(0, end).replace(/^\n/, '').trim();
      inbound = inbound.slice(end + 1);
      if (!line) continue;
      received.push(line);
      const reply = answer(line, state);
      const text = `${state.echo ? `${line}\r` : ''}${reply.lines.map((l) => `\r\n${l}`).join('')}\r\n${reply.final}\r\n`;
      chain = chain
        .then(() => board.write(Buffer.from(text, 'latin1')))
        .then(() => (reply.urc ? board.write(Buffer.from(`\r\n${reply.urc}\r\n`, 'latin1')) : undefined))
        .catch(() => undefined);
    }
  });
  return received;
}

/** Starts the responder on a fresh socat pseudo-terminal pair. */
export async function startAtPeer(): Promise<AtPeer> {
  const pair: PtyPair = await startPtyPair();
  const board = await SerialLink.open(pair.boardPath);
  const received = serveAtPeer(board);
  return {
    address: pair.hostPath,
    received,
    stop: async () => {
      await board.close().catch(() => undefined);
      await pair.kill();
    },
  };
}
