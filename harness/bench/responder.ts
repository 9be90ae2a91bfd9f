/**
 * The floor of the AT and REPL benches: the least a board can do, in a process of its own on the
 * board side of a socat PTY. `node dist/bench/responder.js at <pty>` echoes each command line and
 * answers OK; `... repl <pty>` speaks just enough raw REPL (prompt, raw-paste granted, one output
 * frame printing `1`) for ReplChannel.exec("print(1)").
 */
import { openSync, writeSync, constants } from 'node:fs';
import { ReadStream } from 'node:tty';
import { pathToFileURL } from 'node:url';

export type ResponderMode = 'at' | 'repl';

const RAW_PROMPT = 'raw REPL; CTRL-B to exit\r\n>';
const FRAME_PRINTING_1 = '1\r\n\x04\x04>';
/** Raw-paste granted with a 256-byte window and its first credit: 'R' 0x01, window LE, 0x01. */
const RAW_PASTE_GRANTED = 'R\x01\x00\x01\x01';
/** A line nobody ends is not kept forever. */
const MAX_PENDING_CHARS = 64 * 1024;

/** The AT responder's state: what is left of the current line. */
export function atResponder(write: (text: string) => void): (text: string) => void {
  let line = '';
  return (text) => {
    for (const char of text) {
      if (char === '\r') {
        write(`${line}\r\r\nOK\r\n`);
        line = '';
      } else if (char !== '\n' && line.length < MAX_PENDING_CHARS) {
        line += char;
      }
    }
  };
}

/** The REPL responder: raw prompt on Ctrl-A, raw-paste on `\x05A\x01`, one frame per Ctrl-D. */
export function replResponder(write: (text: string) => void): (text: string) => void {
  let pasting = false;
  let previous = '';
  return (text) => {
    for (const char of text) {
      if (pasting) {
        if (char === '\x04') {
          pasting = false;
          write(`\x04${FRAME_PRINTING_1}`);
        }
      } else if (char === '\x03') {
        write('\r\n>>> ');
      } else if (char === '\x01') {
        if (previous === '\x05A') {
          pasting = true;
          write(RAW_PASTE_GRANTED);
        } else {
          write(`\r\n${RAW_PROMPT}`);
        }
      } else if (char === '\x04') {
        write(`OK${FRAME_PRINTING_1}`);
      }
      previous = `${previous}${char}`.slice(-2);
    }
  };
}

function serve(mode: ResponderMode, path: string): void {
  const fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY);
  const write = (text: string): void => void writeSync(fd, Buffer.from(text, 'latin1'));
  const respond = mode === 'at' ? atResponder(write) : replResponder(write);
  const input = new ReadStream(fd);
  input.on('data', (chunk: Buffer | string) => respond(typeof chunk === 'string' ? chunk : chunk.toString('latin1')));
  // The bench closes the PTY (socat exits) or kills this process: either ends it.
  input.on('error', () => process.exit(0));
  input.on('end', () => process.exit(0));
  process.stdout.write('ready\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, path] = process.argv.slice(2);
  if ((mode !== 'at' && mode !== 'repl') || !path) {
    process.stderr.write('usage: responder.js at|repl <pty>\n');
    process.exit(2);
  }
  serve(mode, path);
}
