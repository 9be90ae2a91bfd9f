/**
 * The floor of the AT and REPL benches: the least a board can do, in a process of its own on the
 * board side of a socat PTY. `node dist/bench/responder.js at <pty>` echoes each command line and
 * answers OK; `... repl <pty>` speaks just enough raw REPL (prompt, raw-paste granted, one output
 * frame printing `1`) for ReplChannel.exec("print(1)").
 */
import { openSync, writeSync, constants } from 'node:fs';
import { ReadStream } from 'node:tty';
import { pathToFileURL } from 'node:url';
import { atResponder, replResponder } from '../testing/minimal-peers.js';

export type ResponderMode = 'at' | 'repl';

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
