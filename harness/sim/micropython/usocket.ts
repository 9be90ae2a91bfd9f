/**
 * QuecPython's `usocket` for the simulated board, as Python source: sockets over the board worker's
 * TCP bridge (harness/sim/net-bridge.ts). Listed with the other network modules in umqtt.ts.
 */

export const USOCKET = `
from _qsimb import call
import ubinascii

AF_INET = 2
AF_INET6 = 10
SOCK_STREAM = 1
SOCK_DGRAM = 2
IPPROTO_TCP = 6
_ETIMEDOUT = 110
# A blocking call with no timeout still ends: it waits in slices of this, forever only in Python.
_SLICE_MS = 60000
_QUICK = 5000

def _errno(e):
    text = str(e)
    if text.startswith('[Errno '):
        try:
            return int(text[7:text.index(']')])
        except ValueError:
            pass
    return 5

def _call(name, limit_ms, *args):
    try:
        return call(name, limit_ms, *args)
    except OSError as e:
        raise OSError(_errno(e))

def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    addr = _call('usock_resolve', _QUICK, host, port)
    return [(AF_INET, SOCK_STREAM, IPPROTO_TCP, '', (addr[0], addr[1]))]

class socket:
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP):
        if type != SOCK_STREAM:
            raise OSError(95)
        self._id = None
        self._timeout_ms = None

    def settimeout(self, seconds):
        self._timeout_ms = None if seconds is None else int(seconds * 1000)

    def setblocking(self, flag):
        self._timeout_ms = None if flag else 0

    def connect(self, address):
        limit = _SLICE_MS if self._timeout_ms is None else max(1, self._timeout_ms)
        self._id = _call('usock_connect', limit + _QUICK, address[0], address[1], limit)

    def _need(self):
        if self._id is None:
            raise OSError(107)

    def send(self, data):
        self._need()
        if isinstance(data, str):
            data = data.encode()
        return _call('usock_send', _QUICK, self._id, ubinascii.hexlify(bytes(data)).decode())

    def write(self, data, length=None):
        if length is not None:
            data = data[:length]
        return self.send(data)

    def sendall(self, data):
        self.send(data)

    def _recv_once(self, n, wait_ms):
        r = _call('usock_recv', wait_ms + _QUICK, self._id, n, wait_ms)
        if r is None:
            return None
        return ubinascii.unhexlify(r)

    def recv(self, n):
        self._need()
        if self._timeout_ms == 0:
            r = self._recv_once(n, 0)
            if r is None:
                raise OSError(11)
            return r
        while True:
            r = self._recv_once(n, _SLICE_MS if self._timeout_ms is None else self._timeout_ms)
            if r is not None:
                return r
            if self._timeout_ms is not None:
                raise OSError(_ETIMEDOUT)

    def read(self, n=-1):
        # As a MicroPython stream: non-blocking gives what there is (None for nothing); blocking reads
        # until n bytes or the end of the stream.
        self._need()
        if self._timeout_ms == 0:
            return self._recv_once(n, 0)
        out = b''
        while n < 0 or len(out) < n:
            r = self.recv(4096 if n < 0 else n - len(out))
            if not r:
                break
            out += r
        return out

    def readinto(self, buf, n=None):
        data = self.read(len(buf) if n is None else n)
        if not data:
            return 0
        buf[:len(data)] = data
        return len(data)

    def close(self):
        if self._id is not None:
            _call('usock_close', _QUICK, self._id)
            self._id = None
`;
