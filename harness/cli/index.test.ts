/**
 * Start-up (cli/command.ts): `qhil --help` imports no command, and a command imports only what it
 * uses. Evidence from a real process: a module-resolve hook (node --import) logs every module the
 * process resolves. Needs `npm run build` (it runs bin/qhil.js, which runs dist/).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, Help } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from './index.js';

const BIN = fileURLToPath(new URL('../../bin/qhil.js', import.meta.url));
/** What no `--help` may load: every command's heavy dependencies. */
const HEAVY_PACKAGES = ['zod', 'yaml', 'execa', 'xmlbuilder2', 'serialport', '@micropython', 'mqtt', 'aedes', 'playwright-core'];

let dir: string;
let hookPath: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'qhil-startup-'));
  hookPath = join(dir, 'log-resolved.mjs');
  // The hooks run on their own thread; each resolved URL is appended to the file the process names.
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function initialize(data) { globalThis.logPath = data.logPath; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(globalThis.logPath, result.url + '\\n');
  return result;
}
`,
  );
  writeFileSync(
    hookPath,
    `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { logPath: process.env.QHIL_RESOLVED_LOG } });
`,
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `qhil ...args` and returns its exit code and every module URL it resolved. */
function loadedBy(args: string[], name: string): { status: number | null; stdout: string; modules: string[] } {
  const logPath = join(dir, `${name}.log`);
  writeFileSync(logPath, '');
  const run = spawnSync(process.execPath, ['--import', pathToFileURL(hookPath).href, BIN, ...args], {
    env: { ...process.env, QHIL_RESOLVED_LOG: logPath, CI: 'true' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  // A module is resolved once per place that imports it: each URL once.
  const modules = [...new Set(readFileSync(logPath, 'utf8').split('\n').filter(Boolean))].sort();
  return { status: run.status, stdout: run.stdout, modules };
}

function packagesIn(modules: string[]): string[] {
  return HEAVY_PACKAGES.filter((name) => modules.some((url) => url.includes(`/node_modules/${name}/`)));
}

function commandFilesIn(modules: string[]): string[] {
  return modules.filter((url) => /\/dist\/cli\/(?!main\.js|index\.js|command\.js)[^/]+\.js$/.test(url));
}

describe('start-up', () => {
  it('`qhil --help` lists every command and loads none of them, nor their dependencies', () => {
    const { status, stdout, modules } = loadedBy(['--help'], 'help');
    expect(status).toBe(0);
    for (const entry of commands) expect(stdout).toContain(`  ${entry.name} ${entry.usage}`);
    // The hook works: it saw the CLI's own modules (else the checks below prove nothing).
    expect(modules.some((url) => url.endsWith('/dist/cli/main.js'))).toBe(true);
    // commander is required (main.ts), which this ESM hook does not see; every heavy package is imported.
    expect(packagesIn(modules)).toEqual([]);
    expect(commandFilesIn(modules)).toEqual([]);
  });

  it('`qhil <command> --help` loads that command\'s own file and nothing else `qhil --help` does not', { timeout: 240_000 }, () => {
    const base = new Set(loadedBy(['--help'], 'help-base').modules);
    const asks = [...commands.map((entry) => [entry.name]), ['sim', 'power'], ['report', 'history']];
    for (const words of asks) {
      const { status, stdout, modules } = loadedBy([...words, '--help'], `${words.join('-')}-help`);
      expect(status).toBe(0);
      expect(stdout).toContain(`Usage: qhil ${words.join(' ')} `);
      // The command file declares the options; its action module (and every dependency) loads when it runs.
      expect(modules.filter((url) => !base.has(url)).map((url) => url.replace(/^.*\/dist\//, ''))).toEqual([`cli/${words[0]}.js`]);
    }
  });

  it('`qhil sim power --help` names the actions the power switch knows', async () => {
    const { POWER_SWITCH_ACTIONS } = await import('../sim/control-socket.js');
    const { POWER_ACTIONS_USAGE } = await import('./sim.js');
    expect(POWER_ACTIONS_USAGE).toBe(POWER_SWITCH_ACTIONS.join(' | '));
  });

  it('`qhil exec --repl` over TCP loads no schema, YAML, process or serial library, nor the AT channel', () => {
    // Port 9 on loopback: nothing listens, the connection is refused at once (exit 3).
    const { status, modules } = loadedBy(['exec', '--repl', 'tcp://127.0.0.1:9', '--timeout', '5s', 'print(1)'], 'exec-tcp');
    expect(status).toBe(3);
    expect(modules.some((url) => url.endsWith('/dist/channel/repl/repl.js'))).toBe(true);
    expect(modules.some((url) => url.endsWith('/dist/cli/exec-repl.js'))).toBe(true);
    expect(packagesIn(modules)).toEqual([]);
    expect(modules.filter((url) => url.includes('/dist/channel/at/'))).toEqual([]);
  });
});

describe('the command list', () => {
  it('lists each command with the usage and description the command itself declares', async () => {
    const help = new Help();
    for (const entry of commands) {
      const program = new Command('qhil');
      (await entry.load()).register(program, { stdout: () => undefined, stderr: () => undefined, interactive: false }, () => undefined);
      const [command] = program.commands;
      expect(command?.name()).toBe(entry.name);
      expect(command && help.subcommandTerm(command)).toBe([entry.name, entry.usage].filter(Boolean).join(' '));
      expect(command?.description()).toBe(entry.description);
    }
  });
});
