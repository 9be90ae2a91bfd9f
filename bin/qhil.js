#!/usr/bin/env node
// Runs the compiled CLI; `npm install` builds it (the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('qhil: dist/ is missing; run `npm install` or `npm run build` first\n');
  process.exit(2);
}
// A stop signal that no command handles (while modules load, or a command without a handler) exits 3,
// saying so, and never kills the process by the signal; a command that listens for it decides itself.
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
// Output that cannot be written (`| head`, a closed terminal) must not end a run as if a test failed:
// the run goes on, its record is written, and its exit code stands.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
process.on('uncaughtException', (error) => {
  try {
    process.stderr.write(`qhil: internal error (a bug in qhil, please report it): ${error?.stack ?? error}\n`);
  } finally {
    process.exit(3);
  }
});
for (const signal of STOP_SIGNALS) {
  process.on(signal, () => {
    if (process.listenerCount(signal) > 1) return;
    process.stderr.write(`qhil: ${signal}: stopped\n`);
    process.exit(3);
  });
}
const { main } = await import(entry.href);
const code = await main(process.argv);
// The command is done and its record written: a signal now exits with the command's own code, at once.
for (const signal of STOP_SIGNALS) {
  process.removeAllListeners(signal);
  process.on(signal, () => process.exit(code));
}
// Exit as soon as the command is done: a socket still waiting on an unreachable server (a reference
// query a stopped run gave up on) must not keep the process alive. Flush output first.
await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write('', resolve))));
process.exit(code);
