/**
 * QuecPython's networking for the simulated board, as Python source: `usocket` over the board
 * worker's TCP bridge (harness/sim/net-bridge.ts), `umqtt` (MQTTClient, MQTT 3.1.1, QoS 0 and 1,
 * as QuecPython documents it and as MicroPython's umqtt.simple does it) over `usocket`, and
 * `machine.RTC` to set the board's clock. Registered with the other modules in modules.ts.
 */

const USOCKET = `
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

const UMQTT = `
import usocket
import ustruct

class MQTTException(Exception):
    pass

# How long connect() waits for the broker's CONNACK (QuecPython's client has a fixed one too).
_CONNECT_TIMEOUT_S = 10

class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0,
                 ssl=False, ssl_params={}, reconn=True, version=4):
        if ssl:
            raise MQTTException('ssl is not simulated')
        self.client_id = client_id
        self.server = server
        self.port = port or 1883
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.version = version
        self.reconn = reconn
        self.sock = None
        self.pid = 0
        self.cb = None
        self.lw_topic = None
        self.lw_msg = None
        self.lw_qos = 0
        self.lw_retain = False
        self._state = 0

    def _b(self, s):
        return s.encode() if isinstance(s, str) else bytes(s)

    def _str(self, s):
        s = self._b(s)
        return ustruct.pack('!H', len(s)) + s

    def _len(self, n):
        out = b''
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                out += bytes([b | 0x80])
            else:
                return out + bytes([b])

    def _recv_len(self):
        n = 0
        sh = 0
        while True:
            b = self.sock.read(1)
            if not b:
                raise OSError(104)
            n |= (b[0] & 0x7F) << sh
            if not b[0] & 0x80:
                return n
            sh += 7

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.lw_topic = topic
        self.lw_msg = msg
        self.lw_qos = qos
        self.lw_retain = retain

    def connect(self, clean_session=True):
        self.sock = usocket.socket()
        self.sock.settimeout(_CONNECT_TIMEOUT_S)
        addr = usocket.getaddrinfo(self.server, self.port)[0][-1]
        self.sock.connect(addr)
        flags = 0x02 if clean_session else 0
        payload = self._str(self.client_id)
        if self.lw_topic:
            flags |= 0x04 | (self.lw_qos & 1) << 3 | (self.lw_qos & 2) << 3 | (0x20 if self.lw_retain else 0)
            payload += self._str(self.lw_topic) + self._str(self.lw_msg)
        if self.user is not None:
            flags |= 0x80
            payload += self._str(self.user)
            if self.pswd is not None:
                flags |= 0x40
                payload += self._str(self.pswd)
        var = self._str('MQTT') + bytes([4, flags]) + ustruct.pack('!H', self.keepalive)
        body = var + payload
        self.sock.write(b'\\x10' + self._len(len(body)) + body)
        resp = self.sock.read(4)
        if len(resp) != 4 or resp[0] != 0x20 or resp[1] != 0x02:
            self.sock.close()
            raise MQTTException('bad CONNACK %r' % resp)
        if resp[3] != 0:
            self.sock.close()
            self._state = 0
            raise MQTTException(resp[3])
        self.sock.settimeout(None)
        self._state = 1
        return resp[2] & 1

    def disconnect(self):
        if self.sock is None:
            return
        try:
            self.sock.write(b'\\xe0\\0')
        except OSError:
            pass
        self.sock.close()
        self.sock = None
        self._state = 0

    def close(self):
        self.disconnect()

    def get_mqttsta(self):
        return 0 if self._state == 1 else -1

    def ping(self):
        self.sock.write(b'\\xc0\\0')

    def publish(self, topic, msg, retain=False, qos=0):
        topic = self._b(topic)
        msg = self._b(msg)
        body = self._str(topic)
        if qos > 0:
            self.pid += 1
            body += ustruct.pack('!H', self.pid)
        body += msg
        self.sock.write(bytes([0x30 | qos << 1 | (1 if retain else 0)]) + self._len(len(body)) + body)
        if qos == 1:
            while True:
                op = self.wait_msg()
                if op == 0x40:
                    sz = self.sock.read(1)
                    rcv_pid = self.sock.read(2)
                    if ustruct.unpack('!H', rcv_pid)[0] == self.pid:
                        return
        elif qos == 2:
            raise MQTTException('QoS 2 is not supported')

    def subscribe(self, topic, qos=0):
        if self.cb is None:
            raise MQTTException('subscribe before set_callback')
        self.pid += 1
        body = ustruct.pack('!H', self.pid) + self._str(topic) + bytes([qos])
        self.sock.write(b'\\x82' + self._len(len(body)) + body)
        while True:
            op = self.wait_msg()
            if op == 0x90:
                resp = self.sock.read(4)
                if resp[3] == 0x80:
                    raise MQTTException('subscription to %s refused' % topic)
                return

    def wait_msg(self):
        res = self.sock.read(1)
        self.sock.setblocking(True)
        if res is None:
            return None
        if res == b'':
            self._state = 0
            raise OSError(-1)
        if res == b'\\xd0':
            sz = self.sock.read(1)[0]
            return None
        op = res[0]
        if op & 0xF0 != 0x30:
            return op
        sz = self._recv_len()
        topic_len = ustruct.unpack('!H', self.sock.read(2))[0]
        topic = self.sock.read(topic_len)
        sz -= topic_len + 2
        pid = None
        if op & 6:
            pid = ustruct.unpack('!H', self.sock.read(2))[0]
            sz -= 2
        msg = self.sock.read(sz) if sz > 0 else b''
        if self.cb is not None:
            self.cb(topic, msg)
        if op & 6 == 2:
            self.sock.write(b'\\x40\\x02' + ustruct.pack('!H', pid))
        return None

    def check_msg(self):
        self.sock.setblocking(False)
        return self.wait_msg()
`;

const MACHINE = `
from _qsimb import call
import utime

class RTC:
    def datetime(self, t=None):
        if t is None:
            lt = utime.localtime()
            return (lt[0], lt[1], lt[2], lt[6], lt[3], lt[4], lt[5], 0)
        return call('rtc_set', 5000, list(t))
`;

/** QuecPython name -> Python source, for modules.ts's list (after `_qsimb`, `utime`). */
export const NET_MODULES: ReadonlyArray<readonly [name: string, source: string]> = [
  ['usocket', USOCKET],
  ['umqtt', UMQTT],
  ['machine', MACHINE],
];
