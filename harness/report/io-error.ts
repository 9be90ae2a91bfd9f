/**
 * Why a report file could not be written, said plainly and with the right class: a read-only or full
 * disk is the rig's problem (InfrastructureError), never "no such file". Node's recursive mkdir
 * reports ENOENT when the real cause is a read-only file system (it gives up on the first missing
 * folder), so that case is probed for its real reason.
 */
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { InfrastructureError } from '../core/errors.js';

const REASONS: Record<string, string> = {
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device (disk full)',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EIO: 'input/output error (failing disk or vanished device)',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
};

function errnoCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `read-only file system (EROFS)`, or the error's own message when it has no known code. */
export function describeIoError(error: unknown): string {
  const code = errnoCode(error);
  const reason = code ? REASONS[code] : undefined;
  if (reason) return `${reason} (${code})`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * The real reason `mkdir -p dir` failed with ENOENT: the error creating the first missing folder
 * under the deepest one that exists (EROFS, EACCES ...), or the original error when there is none.
 */
function realMkdirError(dir: string, error: unknown): unknown {
  if (errnoCode(error) !== 'ENOENT') return error;
  let existing = dir;
  while (dirname(existing) !== existing) {
    try {
      statSync(existing);
      break;
    } catch {
      existing = dirname(existing);
    }
  }
  const first = relative(existing, dir).split(sep)[0];
  if (!first) return error;
  const probe = join(existing, first);
  try {
    mkdirSync(probe);
    // It worked this time (a race with another writer): leave nothing behind, keep the first error.
    rmdirSync(probe);
    return error;
  } catch (probeError) {
    return errnoCode(probeError) === 'ENOENT' ? error : probeError;
  }
}

/**
 * An InfrastructureError naming the path and the plain reason: `cannot write reports/x/junit.xml:
 * read-only file system (EROFS)`. `dir` is the folder being created, when the failure was its mkdir.
 */
export function writeFailure(action: string, path: string, error: unknown, dir?: string): InfrastructureError {
  const real = dir !== undefined ? realMkdirError(dir, error) : error;
  return new InfrastructureError(`cannot ${action} ${path}: ${describeIoError(real)}`, { cause: error });
}
