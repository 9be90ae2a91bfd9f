/**
 * The one place qhil starts a browser: playwright-core driving an installed Chromium (Debian's
 * /usr/bin/chromium unless `--browser <path>` or QHIL_BROWSER names another), never a download.
 * Import this module dynamically (`await import('./browser.js')`), only when a PDF or a browser
 * test needs it: playwright-core costs every other command's start-up time.
 *
 * The flags keep a headless Chromium from reaching for the network (this lab's hosts are often
 * closed, and Chromium then stalls on background connections), and a fresh user-data-dir per launch
 * keeps runs apart.
 */
import { access, constants, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';

export const BROWSER_ENV = 'QHIL_BROWSER';
export const DEFAULT_BROWSER = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launching and driving the browser has a deadline: a hung Chromium must not hang a run. */
export const BROWSER_TIMEOUT_MS = 60_000;

/** The browser could not be found or started: the run goes on without a PDF, and says why. */
export class BrowserUnavailableError extends Error {
  override readonly name = 'BrowserUnavailableError';
}

/** `--browser`, else $QHIL_BROWSER, else /usr/bin/chromium; and where the choice came from. */
export function chooseBrowser(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): { path: string; from: string } {
  if (flag) return { path: flag, from: '--browser' };
  const fromEnv = env[BROWSER_ENV];
  if (fromEnv) return { path: fromEnv, from: BROWSER_ENV };
  return { path: DEFAULT_BROWSER, from: 'the default' };
}

export interface OpenBrowser {
  context: BrowserContext;
  close: () => Promise<void>;
}

/** Starts a headless Chromium with its own user-data-dir; `close` ends it and removes the folder. */
export async function openBrowser(flag?: string): Promise<OpenBrowser> {
  const { path, from } = chooseBrowser(flag);
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new BrowserUnavailableError(`no browser at ${path} (from ${from}); give --browser <path> or set ${BROWSER_ENV}`);
  }
  const { chromium } = await import('playwright-core');
  const userDataDir = await mkdtemp(join(tmpdir(), 'qhil-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: path,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: BROWSER_TIMEOUT_MS,
      offline: true,
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    const first = ((error as Error).message ?? String(error)).split('\n')[0];
    throw new BrowserUnavailableError(`the browser at ${path} (from ${from}) did not start: ${first}`);
  }
  context.setDefaultTimeout(BROWSER_TIMEOUT_MS);
  return {
    context,
    close: async () => {
      try {
        await context.close();
      } finally {
        await rm(userDataDir, { recursive: true, force: true });
      }
    },
  };
}
