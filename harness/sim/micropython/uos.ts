/**
 * The board's `uos` (also installed as `os`, which mpremote, Thonny and QPYcom import), `open` and
 * `input`, as Python source for modules.ts. What a tool sees is a QuecPython board's filesystem:
 * - MicroPython's errno values in every OSError from the VM's own filesystem (ENOENT 2, not the
 *   WebAssembly VM's 44; errno.ts), while a filesystem mounted over the port (mpremote mount) keeps
 *   its own;
 * - `/usr`, the user folder, as the working directory and on sys.path (its files live on the host,
 *   repl.ts); the VM's own folders and the sim's modules are not there: not listed at `/`, and
 *   ENOENT to stat, open, list or enter;
 * - `input()` reading the port with echo, as a board's readline does (the VM's own never returns);
 * - `micropython.kbd_intr()` telling the board worker, so that a Ctrl-C is data while it is off.
 */
import { WASM_TO_MICROPYTHON_ERRNO } from './errno.js';

/** Top-level names of the VM's filesystem that are not the board's. */
export const HIDDEN_TOP_LEVEL = ['qsim', 'lib', 'tmp', 'home', 'dev', 'proc'] as const;

const errnoTable = [...WASM_TO_MICROPYTHON_ERRNO].map(([wasm, board]) => `${wasm}: ${board}`).join(', ');

export const UOS = `
import os as _os
import sys as _sys
import builtins as _builtins
import vfs as _vfs
import micropython as _micropython
from _qsimb import call

_ERRNO = {${errnoTable}}
_HIDDEN = (${HIDDEN_TOP_LEVEL.map((name) => `'${name}'`).join(', ')})
_ENOENT = 2

for _k in dir(_os):
    if not _k.startswith('__'):
        globals()[_k] = getattr(_os, _k)

def _absolute(path):
    if not path.startswith('/'):
        path = _os.getcwd() + '/' + path
    parts = []
    for part in path.split('/'):
        if part == '..':
            if parts:
                parts.pop()
        elif part and part != '.':
            parts.append(part)
    return '/' + '/'.join(parts)

def _on_vm(path):
    for _fs, point in _vfs.mount():
        if point != '/' and (path == point or path.startswith(point + '/')):
            return False
    return True

def _guard(f, paths=1):
    def guarded(*args):
        vm = True
        for arg in args[:paths]:
            if isinstance(arg, str):
                path = _absolute(arg)
                if not _on_vm(path):
                    vm = False
                elif path.split('/')[1] in _HIDDEN:
                    raise OSError(_ENOENT)
        if not vm:
            return f(*args)
        try:
            return f(*args)
        except OSError as e:
            n = e.errno
            raise OSError(_ERRNO.get(n, n))
    return guarded

def _sized(path, entry):
    # VfsPosix lists (name, type, inode); a board's filesystem adds the size, which tools show.
    if len(entry) != 3:
        return entry
    size = 0
    if entry[1] == 0x8000:
        try:
            size = _os.stat(path.rstrip('/') + '/' + entry[0])[6]
        except OSError:
            pass
    return (entry[0], entry[1], entry[2], size)

def _list_guard(f, entries_are_tuples):
    g = _guard(f)
    def listing(path='.'):
        entries = g(path)
        if not isinstance(path, str):
            return entries
        where = _absolute(path)
        if entries_are_tuples:
            if not _on_vm(where):
                return entries
            entries = [_sized(where, e) for e in entries]
        if where == '/':
            return [e for e in entries if (e[0] if entries_are_tuples else e) not in _HIDDEN]
        return entries
    return listing

stat = _guard(_os.stat)
statvfs = _guard(_os.statvfs)
remove = _guard(_os.remove)
unlink = _guard(_os.unlink)
mkdir = _guard(_os.mkdir)
rmdir = _guard(_os.rmdir)
chdir = _guard(_os.chdir)
rename = _guard(_os.rename, 2)
listdir = _list_guard(_os.listdir, False)
ilistdir = _list_guard(_os.ilistdir, True)

def uname():
    return tuple(call('uname', 5000))

_open = _builtins.open
_builtins.open = _guard(_open)

_line_ended_cr = [False]

def _input(prompt=''):
    if prompt:
        _sys.stdout.write(prompt)
    line = []
    while True:
        c = _sys.stdin.read(1)
        if not c:
            break
        if c == '\\n' and not line and _line_ended_cr[0]:
            _line_ended_cr[0] = False
            continue
        if c == '\\r' or c == '\\n':
            _line_ended_cr[0] = c == '\\r'
            _sys.stdout.write('\\r\\n')
            break
        if c == '\\x08' or c == '\\x7f':
            if line:
                line.pop()
                _sys.stdout.write('\\x08 \\x08')
            continue
        line.append(c)
        _sys.stdout.write(c)
    return ''.join(line)

_builtins.input = _input

class _MicroPython:
    pass

_mp = _MicroPython()
for _k in dir(_micropython):
    if not _k.startswith('__'):
        setattr(_mp, _k, getattr(_micropython, _k))

def _kbd_intr(c):
    _micropython.kbd_intr(c)
    call('kbd_intr', 5000, c)

_mp.kbd_intr = _kbd_intr
_sys.modules['micropython'] = _mp
_sys.modules['os'] = _sys.modules[__name__]
if '/usr' not in _sys.path:
    _sys.path.append('/usr')
_os.chdir('/usr')
del _k
`;
