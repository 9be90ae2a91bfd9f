/**
 * The least a board can do on each port, as pure byte-in/byte-out functions: the floor of the AT and
 * REPL benches (bench/responder.ts runs them on a PTY) and an instant peer for tests.
 */
const RAW_PROMPT = 'raw REPL; CTRL-B to exit\r\n>';
const FRAME_PRINTING_1 = '1\r\n\x04\x04>';
/** Raw-paste granted with a 256-byte window and its first credit: 'R' 0x01, window LE, 0x01. */
const RAW_PASTE_GRANTED = 'R\x01\x00\x01\x01';
/** A line nobody ends is not kept forever. */
const MAX_PENDING_CHARS = 64 * 1024;

/** AT: echoes each command line and answers OK. The state: what is left of the current line. */
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
