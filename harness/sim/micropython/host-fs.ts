/**
 * A folder on the host as a filesystem inside the MicroPython VM (emscripten's FS API), so a board's
 * `/usr` outlives the VM: a soft reset, a VM replaced after a Ctrl-C it could not take, and a hard
 * reboot all start a fresh VM, and each mounts the same folder. This build of the VM has MEMFS only
 * (no NODEFS), so this is a small NODEFS of its own: synchronous node:fs calls, which the VM thread
 * may make because Python blocks it anyway. Node's error codes become emscripten's (WASI numbering:
 * ENOENT 44); the board's `uos` turns those into MicroPython's (ENOENT 2), see errno.ts.
 */
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmdirSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { WASM_ERRNO } from './errno.js';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const O_ACCMODE = 3;
const SEEK_CUR = 1;
const SEEK_END = 2;

/** The parts of an emscripten FS node this file touches. */
interface EmNode {
  name: string;
  mode: number;
  parent: EmNode;
  mount: { opts: { root: string } };
  node_ops: object;
  stream_ops: object;
}

interface EmStream {
  node: EmNode;
  flags: number;
  position: number;
  /** The host file descriptor, for regular files. */
  hostFd?: number;
}

/** The parts of emscripten's FS object (vm.FS) this file needs. */
export interface EmscriptenFs {
  createNode(parent: EmNode | null, name: string, mode: number, dev: number): EmNode;
  mkdir(path: string): void;
  mount(type: object, opts: { root: string }, mountpoint: string): void;
  ErrnoError: new (errno: number) => Error;
  isDir(mode: number): boolean;
  isFile(mode: number): boolean;
}

function hostPath(node: EmNode): string {
  const parts: string[] = [];
  let at = node;
  while (at.parent !== at) {
    parts.push(at.name);
    at = at.parent;
  }
  return join(at.mount.opts.root, ...parts.reverse());
}

/** Mounts host folder `root` at `mountpoint` (created) in the VM's filesystem. */
export function mountHostFolder(fs: EmscriptenFs, root: string, mountpoint: string): void {
  mkdirSync(root, { recursive: true });
  /** Node's errors as emscripten's, so Python sees an OSError, never a JS exception. */
  const guarded = <A extends unknown[], R>(operation: (...args: A) => R) => (...args: A): R => {
    try {
      return operation(...args);
    } catch (error) {
      if (error instanceof fs.ErrnoError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new fs.ErrnoError(WASM_ERRNO[code ?? ''] ?? WASM_ERRNO.EIO ?? 29);
    }
  };

  const createNode = (parent: EmNode | null, name: string, mode: number): EmNode => {
    // Symbolic links and devices in the host folder are not the board's: they do not exist here.
    if (!fs.isDir(mode) && !fs.isFile(mode)) throw new fs.ErrnoError(WASM_ERRNO.ENOENT ?? 44);
    const node = fs.createNode(parent, name, mode, 0);
    node.node_ops = nodeOps;
    node.stream_ops = streamOps;
    return node;
  };

  const attributes = (stats: Stats) => ({
    dev: 1,
    ino: stats.ino,
    mode: stats.mode,
    nlink: 1,
    uid: 0,
    gid: 0,
    rdev: 0,
    size: stats.isDirectory() ? 4096 : stats.size,
    atime: stats.atime,
    mtime: stats.mtime,
    ctime: stats.ctime,
    blksize: 4096,
    blocks: Math.ceil(stats.size / 4096),
  });

  const nodeOps = {
    getattr: guarded((node: EmNode) => attributes(lstatSync(hostPath(node)))),
    setattr: guarded((node: EmNode, attr: { size?: number }) => {
      // Modes and times are the host's business; only a truncation means anything to a board.
      if (attr.size !== undefined) truncateSync(hostPath(node), attr.size);
    }),
    lookup: guarded((parent: EmNode, name: string) => createNode(parent, name, lstatSync(join(hostPath(parent), name)).mode)),
    mknod: guarded((parent: EmNode, name: string, mode: number) => {
      const path = join(hostPath(parent), name);
      const kind = mode & S_IFMT;
      if (kind === S_IFDIR) mkdirSync(path);
      else if (kind === S_IFREG) writeFileSync(path, '', { flag: 'wx' });
      else throw new fs.ErrnoError(WASM_ERRNO.EPERM ?? 63);
      return createNode(parent, name, lstatSync(path).mode);
    }),
    rename: guarded((node: EmNode, newDir: EmNode, newName: string) => {
      renameSync(hostPath(node), join(hostPath(newDir), newName));
      node.name = newName;
    }),
    unlink: guarded((parent: EmNode, name: string) => unlinkSync(join(hostPath(parent), name))),
    rmdir: guarded((parent: EmNode, name: string) => rmdirSync(join(hostPath(parent), name))),
    readdir: guarded((node: EmNode) => ['.', '..', ...readdirSync(hostPath(node))]),
  };

  const streamOps = {
    open: guarded((stream: EmStream) => {
      if (!fs.isFile(stream.node.mode)) return;
      stream.hostFd = openSync(hostPath(stream.node), (stream.flags & O_ACCMODE) === 0 ? 'r' : 'r+');
    }),
    close: guarded((stream: EmStream) => {
      if (stream.hostFd !== undefined) closeSync(stream.hostFd);
      stream.hostFd = undefined;
    }),
    read: guarded((stream: EmStream, buffer: Uint8Array, offset: number, length: number, position: number) => {
      if (length === 0 || stream.hostFd === undefined) return 0;
      return readSync(stream.hostFd, buffer, offset, length, position);
    }),
    write: guarded((stream: EmStream, buffer: Uint8Array, offset: number, length: number, position: number) => {
      if (length === 0) return 0;
      if (stream.hostFd === undefined) throw new fs.ErrnoError(WASM_ERRNO.EBADF ?? 8);
      return writeSync(stream.hostFd, buffer, offset, length, position);
    }),
    llseek: guarded((stream: EmStream, offset: number, whence: number) => {
      let position = offset;
      if (whence === SEEK_CUR) position += stream.position;
      else if (whence === SEEK_END && stream.hostFd !== undefined) position += fstatSync(stream.hostFd).size;
      if (position < 0) throw new fs.ErrnoError(WASM_ERRNO.EINVAL ?? 28);
      return position;
    }),
    setattr: guarded((stream: EmStream, attr: { size?: number }) => {
      if (attr.size !== undefined && stream.hostFd !== undefined) ftruncateSync(stream.hostFd, attr.size);
    }),
  };

  fs.mkdir(mountpoint);
  fs.mount({ mount: guarded((mount: { opts: { root: string } }) => createNode(null, '/', lstatSync(mount.opts.root).mode)) }, { root }, mountpoint);
}
