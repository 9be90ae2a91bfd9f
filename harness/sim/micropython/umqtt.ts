/**
 * QuecPython's networking for the simulated board, as Python source: `umqtt` (MQTTClient, MQTT 3.1.1,
 * QoS 0 and 1, as QuecPython documents it and as MicroPython's umqtt.simple does it) over `usocket`
 * (usocket.ts), and the list of network modules with `machine.RTC` (machine.ts). Registered with the
 * other modules in modules.ts.
 */
import { MACHINE } from './machine.js';
import { USOCKET } from './usocket.js';

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

/** QuecPython name -> Python source, for modules.ts's list (after `_qsimb`, `utime`). */
export const NET_MODULES: ReadonlyArray<readonly [name: string, source: string]> = [
  ['usocket', USOCKET],
  ['umqtt', UMQTT],
  ['machine', MACHINE],
];
