/**
 * The sim's QuecPython modules are compiled when Python first uses them, not at every VM boot:
 * compiling all of them cost each VM ~17 ms of CPU at boot, most of it for modules a scenario never
 * imports (umqtt, usocket, machine). At boot each lazy module is a stub, installed in `sys.modules`
 * under its QuecPython name as before (so `import utime` still wins over MicroPython's `time`): a
 * real module object whose only content is a module `__getattr__`. The first attribute looked up on
 * it (`utime.localtime`, `from ntptime import settime`, `dir(utime)`) runs the module's real source in
 * the stub's own namespace, compiled under the stub's file name, and removes the hook: from then on
 * it is the module it always was (same name, file, line numbers in tracebacks). The one difference
 * a user can see: a missing attribute asked for before any other shows the hook's frames.
 */

/** What every lazy module's file holds until it is loaded. */
export const LAZY_STUB = `
def __getattr__(attr):
    from _qsimb import _lazy_load
    return _lazy_load(globals(), attr)
`;

/** Appended to the bridge module `_qsimb` (eager): loads a stub's real source (`_qsim.source`, from the VM thread). */
export const LAZY_LOADER = `
def _lazy_load(namespace, attr):
    if '__getattr__' in namespace:
        del namespace['__getattr__']
        source = _qsim.source(namespace['__name__'][4:])
        exec(compile(source, namespace['__file__'], 'exec'), namespace)
    if attr in namespace:
        return namespace[attr]
    raise AttributeError("'module' object has no attribute '%s'" % attr)
`;

/** Modules that run at boot: the bridge (with the loader) and uos, which sets up open, input, os and the working folder. */
export const EAGER_MODULES: ReadonlySet<string> = new Set(['_qsimb', 'uos']);
