/**
 * Where a simulated board's files are: its profile (a BoardProfile, a YAML path, or a name in
 * fixtures/sim) and the worker scripts it runs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfrastructureError, InputError } from '../core/errors.js';
import { loadBoardProfile, type BoardProfile } from './profile.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Finds a profile: a BoardProfile as is, a YAML path, or a name in fixtures/sim. Throws InputError. */
export function resolveBoardProfile(profile: BoardProfile | string): BoardProfile {
  if (typeof profile !== 'string') return profile;
  if (existsSync(profile)) return loadProfileFile(profile);
  const named = join(REPO_ROOT, 'fixtures', 'sim', `${profile.replace(/\.ya?ml$/, '')}.yaml`);
  if (/^[\w.-]+$/.test(profile) && existsSync(named)) return loadProfileFile(named);
  throw new InputError(`no board profile "${profile}": not a file, nor a name in ${join(REPO_ROOT, 'fixtures', 'sim')}`);
}

/** A profile file this size or smaller is kept parsed (larger ones are refused by loadBoardProfile anyway). */
const CACHED_PROFILE_MAX_BYTES = 256 * 1024;
const CACHED_PROFILES_MAX = 64;
/** Parsed profiles by path, with the text they came from. */
const parsedProfiles = new Map<string, { text: string; profile: BoardProfile }>();

/**
 * A rig's boards mostly share one profile file, and parsing it (YAML, locations, schema) cost the main
 * thread 2-8 ms a board: a file whose text is what was parsed before gives (a copy of) that profile.
 * Files that use `${env.NAME}` are parsed every time (the environment may have changed).
 */
function loadProfileFile(path: string): BoardProfile {
  const text = statSync(path).size <= CACHED_PROFILE_MAX_BYTES ? readFileSync(path, 'utf8') : undefined;
  const cached = parsedProfiles.get(path);
  if (text !== undefined && cached?.text === text) return structuredClone(cached.profile);
  const profile = loadBoardProfile(path);
  if (text !== undefined && !text.includes('${')) {
    if (parsedProfiles.size >= CACHED_PROFILES_MAX) parsedProfiles.clear();
    parsedProfiles.set(path, { text, profile: structuredClone(profile) });
  }
  return profile;
}

/**
 * Where the worker scripts are. From dist/ (node, the CLI) they sit beside this file. From the
 * TypeScript source (vitest), worker threads cannot load .ts, so the compiled ones in dist/sim are
 * used: `npm test` runs `npm run build` first. A stale build is refused rather than silently run.
 */
export function workerScripts(): { board: string; vm: string } {
  const here = fileURLToPath(import.meta.url);
  const sourceDir = dirname(here);
  if (here.endsWith('.js')) return { board: join(sourceDir, 'worker.js'), vm: join(sourceDir, 'micropython', 'vm-worker.js') };
  const distDir = join(REPO_ROOT, 'dist', 'sim');
  for (const source of listSources(sourceDir)) {
    const built = join(distDir, relative(sourceDir, source)).replace(/\.ts$/, '.js');
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
      throw new InfrastructureError(
        `the simulated board runs its workers from dist/, and ${relative(REPO_ROOT, built)} is ` +
          `${existsSync(built) ? 'older than' : 'missing for'} ${relative(REPO_ROOT, source)}: run \`npm run build\``,
      );
    }
  }
  return { board: join(distDir, 'worker.js'), vm: join(distDir, 'micropython', 'vm-worker.js') };
}

function listSources(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listSources(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}
