/**
 * `qhil sntp`, run in-process. The program is built as cli/main.ts builds it, with this one command,
 * so these tests do not depend on every other command importing cleanly.
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command, CommanderError } from 'commander';
import { ExitCode } from '../cli/command.js';
import { sntpCommand, terminalText } from '../cli/sntp.js';
import { errorMessage, InputError } from '../core/errors.js';
import type { ReferenceResult } from './reference.js';
import { startSntpServer, type SntpServer } from './sntp/server.js';

async function qhil(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: (text: string) => (stdout += text), stderr: (text: string) => (stderr += text), interactive: false };
  let code: number = ExitCode.Ok;
  const program = new Command('qhil').exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  sntpCommand.register(program, io, (exit) => (code = exit));
  try {
    await program.parseAsync(['node', 'qhil', ...args]);
  } catch (error) {
    if (error instanceof CommanderError) code = error.exitCode === 0 ? ExitCode.Ok : ExitCode.BadInput;
    else {
      io.stderr(`qhil: ${errorMessage(error)}\n`);
      code = error instanceof InputError ? ExitCode.BadInput : ExitCode.Infrastructure;
    }
  }
  return { code, stdout, stderr };
}

const SHA1_HEX = '0102030405060708090a0b0c0d0e0f1011121314';
let server: SntpServer;
let silent: SntpServer;
let dir: string;

beforeAll(async () => {
  server = await startSntpServer({ offsetMs: 1234, stratum: 2, refId: '192.0.2.1', keys: [{ id: 1, type: 'SHA1', key: Buffer.from(SHA1_HEX, 'hex') }] });
  silent = await startSntpServer({ drop: true });
  dir = await mkdtemp(join(tmpdir(), 'qhil-sntp-cli-'));
});
afterAll(async () => {
  await server.close();
  await silent.close();
  await rm(dir, { recursive: true, force: true });
});

describe('qhil sntp', () => {
  it('prints each server and the combined answer', async () => {
    const { code, stdout } = await qhil('sntp', `127.0.0.1:${server.port}`, '--samples', '3');
    expect(code).toBe(0);
    const [serverLine, combined] = stdout.trim().split('\n') as [string, string];
    expect(serverLine).toMatch(
      new RegExp(`^127\\.0\\.0\\.1:${server.port}  offset \\+123\\d\\.\\d{3} ms  delay \\d+\\.\\d{3} ms  ± \\d+\\.\\d{3} ms  ` +
        'stratum 2  refid 192\\.0\\.2\\.1  leap none  kept sample [123] of 3  ok$'),
    );
    expect(combined).toMatch(new RegExp(`^combined: offset \\+123\\d\\.\\d{3} ms ± \\d+\\.\\d{3} ms from 127\\.0\\.0\\.1:${server.port}, measured at 20`));
  });

  it('prints the ReferenceResult with --json', async () => {
    const { code, stdout } = await qhil('sntp', `127.0.0.1:${server.port}`, '--json', '--samples', '2', '--key', `1:SHA1:${SHA1_HEX}`);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as ReferenceResult;
    expect(Math.abs(result.offsetMs - 1234)).toBeLessThan(5);
    expect(result.servers[0]).toMatchObject({ ok: true, stratum: 2, refId: '192.0.2.1' });
    expect(result.servers[0]?.samples).toHaveLength(2);
  });

  it('reads keys from a chrony key file', async () => {
    const keyFile = join(dir, 'chrony.keys');
    await writeFile(keyFile, `# lab keys\n7 MD5 HEX:00ff\n1 SHA1 HEX:${SHA1_HEX}\n`);
    const good = await qhil('sntp', `127.0.0.1:${server.port}`, '--key-file', keyFile, '--key-id', '1', '--samples', '1');
    expect(good.code).toBe(0);
    // Key 7 (the first in the file) is unknown to the server: no fallback to unauthenticated time.
    const bad = await qhil('sntp', `127.0.0.1:${server.port}`, '--key-file', keyFile, '--samples', '1', '--timeout', '300ms');
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/no authenticated reply from 127\.0\.0\.1:\d+/);
  });

  it('exits 3 naming the server when nothing answers; with --json the reasons are JSON too', async () => {
    const plain = await qhil('sntp', `127.0.0.1:${silent.port}`, '--timeout', '200ms');
    expect(plain.code).toBe(3);
    expect(plain.stderr).toMatch(new RegExp(`no reply from 127\\.0\\.0\\.1:${silent.port}`));
    const json = await qhil('sntp', `127.0.0.1:${silent.port}`, '--timeout', '200ms', '--json');
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ servers: [{ ok: false, reason: 'no reply' }] });
  });

  it.each([
    [['--samples', '0'], /--samples: expected a whole number from 1 to 64, got "0"/],
    [['--samples', '1.5'], /--samples: expected a whole number from 1 to 64, got "1.5"/],
    [['--samples', '65'], /--samples: expected a whole number/],
    [['--samples', '-1'], /--samples: expected a whole number/],
    [['--samples', 'four'], /--samples: expected a whole number/],
    [['--timeout', '2m'], /--timeout: at most 1m00s \(the deadline of one reference query\), got "2m"/],
    [['--timeout', '99999999999h'], /--timeout: .*99999999999h/],
    [['--timeout', '0s'], /--timeout: must be positive/],
    [['--max-distance', '2m'], /--max-distance: at most 1m00s/],
    [['--max-offset', '0ms'], /--max-offset: must be positive/],
    [['--max-offset', 'a day'], /--max-offset: bad duration/],
    [['--timeout', '5'], /--timeout: bad duration/],
    [['--key', '1:SHA256:00'], /unknown key type/],
    [['--key-file', '/nonexistent/keys'], /cannot read key file/],
    [['--key', `1:SHA1:${SHA1_HEX}`, '--key-id', '2'], /no key 2/],
  ])('exits 2 on bad flags %j', async (flags, message) => {
    const { code, stderr } = await qhil('sntp', `127.0.0.1:${server.port}`, ...flags);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(server.requests).toBeGreaterThan(0); // sanity: the server is up, the flags were the problem
  });

  it('gives up on bad input at once, without sending a packet', async () => {
    const before = server.requests;
    const started = performance.now();
    const { code } = await qhil('sntp', `127.0.0.1:${server.port}`, '--timeout', '99999999999h');
    expect(code).toBe(2);
    expect(performance.now() - started).toBeLessThan(500);
    expect(server.requests).toBe(before);
  });

  it('exits 3, not "ok", when the only server is 100 years off', async () => {
    const farOff = await startSntpServer({ offsetMs: 100 * 365.25 * 86_400_000 });
    try {
      // An implausible reply is passed over while a genuine one may follow: the query waits out its deadline.
      const { code, stdout, stderr } = await qhil('sntp', `127.0.0.1:${farOff.port}`, '--samples', '1', '--timeout', '1s');
      expect(code).toBe(3);
      expect(stdout).toBe('');
      expect(stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${farOff.port}: implausible time: the server says 19\\d\\d-.*36\\.1 years behind the host clock`));
      expect(stderr).not.toMatch(/\bok\b/);
    } finally {
      await farOff.close();
    }
  });

  it('prints no byte from the network raw: a hostile refid arrives escaped, on the terminal and in JSON', async () => {
    const hostile = await startSntpServer({ stratum: 0, refId: '\x1b]52' });
    try {
      const plain = await qhil('sntp', `127.0.0.1:${hostile.port}`, '--samples', '1');
      expect(plain.code).toBe(3);
      expect(plain.stderr).toContain('refid "\\x1b]52" is no kiss code');
      const json = await qhil('sntp', `127.0.0.1:${hostile.port}`, '--samples', '1', '--json');
      expect(json.code).toBe(3);
      expect(JSON.parse(json.stdout)).toMatchObject({ servers: [{ reason: 'unsynchronised (stratum 0, refid "\\x1b]52" is no kiss code)' }] });
      for (const text of [plain.stdout, plain.stderr, json.stdout, json.stderr]) {
        expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      }
    } finally {
      await hostile.close();
    }
  });

  it('escapes every control character but the newline for the terminal', () => {
    expect(terminalText('a\x1b]52;c;aGk=\x07b\n\x9b2J\x7f\u202e\0')).toBe('a\\u001b]52;c;aGk=\\u0007b\n\\u009b2J\\u007f\\u202e\\u0000');
    expect(terminalText('café 中 ±')).toBe('café 中 ±');
  });

  it('exits 2 on a malformed server', async () => {
    const hostileName = await qhil('sntp', '\x1b[2Jhost');
    expect(hostileName.code).toBe(2);
    expect(hostileName.stderr).toContain('bad NTP server "\\u001b[2Jhost"');
    expect(hostileName.stderr).not.toContain('\x1b');
    expect((await qhil('sntp', '127.0.0.1:99999')).code).toBe(2);
    expect((await qhil('sntp')).code).toBe(2);
  });
});
