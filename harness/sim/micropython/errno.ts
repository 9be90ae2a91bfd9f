/**
 * Error numbers on both sides of the simulated board's filesystem. The WebAssembly VM's C library
 * numbers errors as WASI does (ENOENT 44), and its VfsPosix puts that number in the OSError as is; a
 * board's MicroPython numbers them as Linux does (py/mperrno.h: ENOENT 2), and tools rely on it:
 * mpremote turns `OSError: [Errno 2] ENOENT` or `OSError: 2` into "No such file or directory", and
 * gives up on `OSError: 44`. The board's `uos`/`os` translates with WASM_TO_MICROPYTHON_ERRNO.
 */

/** Emscripten's (WASI) errno values, by name. */
export const WASM_ERRNO: Readonly<Record<string, number>> = {
  E2BIG: 1,
  EACCES: 2,
  EAGAIN: 6,
  EBADF: 8,
  EBUSY: 10,
  EEXIST: 20,
  EFBIG: 22,
  EINTR: 27,
  EINVAL: 28,
  EIO: 29,
  EISDIR: 31,
  ELOOP: 32,
  EMFILE: 33,
  EMLINK: 34,
  ENAMETOOLONG: 37,
  ENFILE: 41,
  ENODEV: 43,
  ENOENT: 44,
  ENOMEM: 48,
  ENOSPC: 51,
  ENOSYS: 52,
  ENOTDIR: 54,
  ENOTEMPTY: 55,
  ENOTSUP: 58,
  ENOTTY: 59,
  ENXIO: 60,
  EPERM: 63,
  EPIPE: 64,
  EROFS: 69,
  ESPIPE: 70,
  ETXTBSY: 74,
  EXDEV: 75,
};

/** MicroPython's errno values (py/mperrno.h, the Linux numbers), by name. */
export const MICROPYTHON_ERRNO: Readonly<Record<string, number>> = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ETXTBSY: 26,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  EPIPE: 32,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENOTSUP: 95,
  // Sockets (usocket, umqtt): MicroPython's mperrno values, as Linux numbers them.
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
};

/** VM errno -> board errno, for every name both tables know. */
export const WASM_TO_MICROPYTHON_ERRNO: ReadonlyMap<number, number> = new Map(
  Object.entries(WASM_ERRNO).flatMap(([name, wasm]) => {
    const board = MICROPYTHON_ERRNO[name];
    return board === undefined ? [] : [[wasm, board] as const];
  }),
);
