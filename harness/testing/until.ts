/** Resolves once `check` holds, polling every `pollMs`; rejects after `deadlineMs` naming `what` (and `detail()`, if given). */
export async function until(what: string, check: () => boolean, deadlineMs: number, options: { pollMs?: number; detail?: () => string } = {}): Promise<void> {
  const endMs = performance.now() + deadlineMs;
  while (!check()) {
    if (performance.now() > endMs) throw new Error(`not within ${deadlineMs}ms: ${what}${options.detail ? `; ${options.detail()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 20));
  }
}
