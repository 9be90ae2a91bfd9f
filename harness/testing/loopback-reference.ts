/** A reference SNTP server on loopback for a test file, and the temp folders its runs write. */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import type { ReferenceSpec } from '../core/model.js';

/** Registers the hooks; `reference()` is valid inside tests, `dirs` are removed after each. */
export function useLoopbackReference(): { reference: () => ReferenceSpec; dirs: string[] } {
  let server: SntpServer | undefined;
  let reference: ReferenceSpec | undefined;
  const dirs: string[] = [];
  beforeAll(async () => {
    server = await startSntpServer({ host: '127.0.0.1', port: 0 });
    reference = { servers: [`127.0.0.1:${server.port}`], samples: 1, timeoutMs: 2000, keys: [] };
  });
  afterAll(() => server?.close());
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return {
    reference: () => {
      if (!reference) throw new Error('useLoopbackReference: the reference server is not up (outside a test?)');
      return reference;
    },
    dirs,
  };
}
