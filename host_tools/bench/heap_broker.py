# MicroPython code (runs on the target: the 32-bit unix build or the QEMU
# Cortex-M3): the carers' MQTT broker in memory for the memory budget's run
# (heap_run.py; heap_world.py installs it as the board's `socket` and
# `select`). It answers like a broker on the home network and, while told to
# be down, refuses connections and drops the one it has. The harness, not the
# monitor: loaded before the heap is measured.


POLLIN = 1
POLLOUT = 4
POLLERR = 8
POLLHUP = 16


class Broker:
    """The carers' broker: answers CONNECT, PINGREQ, SUBSCRIBE and QoS 1
    PUBLISH (PUBACK: without it the link gave up on each connection after
    MAX_TRIES sends). While Broker.down it refuses connections and drops
    the one it has."""
    down = 0               # 1: refusing and dropping connections (heap_run sets it)
    connects = 0
    drops = 0
    published = 0


class FakeSock:
    def __init__(self, *a):
        self.rx = b""
        self.closed = 0
        self.want = 0          # bytes of the current packet's body still to skip
        self.len_shift = -1    # -1: a type byte next; >= 0: in the length; -2: the body
        self.op = 0
        self.pos = 0           # bytes of the current packet's body so far
        self.tlen = 0          # a PUBLISH's topic length
        self.pid = 0           # the packet id the broker answers with

    def setblocking(self, flag):
        pass

    def connect(self, addr):
        if Broker.down:
            raise OSError(111)             # ECONNREFUSED
        Broker.connects += 1
        raise OSError(115)                 # EINPROGRESS: connected at the next poll

    def _packet(self, op):
        if op == 0x10:                     # CONNECT
            self.rx += b"\x20\x02\x00\x00"
        elif op == 0xC0:                   # PINGREQ
            self.rx += b"\xd0\x00"
        elif op & 0xF0 == 0x30:
            Broker.published += 1
            if op & 0x06:                  # QoS 1: PUBACK
                self.rx += bytes((0x40, 2, self.pid >> 8, self.pid & 255))
        elif op == 0x82:                   # SUBSCRIBE: SUBACK, QoS 1 granted
            self.rx += bytes((0x90, 3, self.pid >> 8, self.pid & 255, 1))

    def _body(self, b):       # the packet id: after a QoS 1 PUBLISH's topic, a SUBSCRIBE's first
        op, i = self.op, self.pos
        self.pos = i + 1
        if op & 0xF0 == 0x30 and op & 0x06:
            if i < 2:
                self.tlen = (self.tlen << 8) | b
            elif 0 <= i - 2 - self.tlen < 2:
                self.pid = ((self.pid << 8) | b) & 0xFFFF
        elif op == 0x82 and i < 2:
            self.pid = ((self.pid << 8) | b) & 0xFFFF

    def write(self, data):
        if Broker.down or self.closed:
            self.closed = 1
            raise OSError(104)             # ECONNRESET
        for b in data:
            if self.len_shift == -2:           # the body
                self._body(b)
                self.want -= 1
                if not self.want:
                    self.len_shift = -1
                    self._packet(self.op)
            elif self.len_shift == -1:         # a packet's type byte
                self.op = b
                self.len_shift = 0
                self.want = 0
                self.pos = self.tlen = self.pid = 0
            else:                              # the remaining length
                self.want |= (b & 0x7F) << self.len_shift
                if b & 0x80:
                    self.len_shift += 7
                elif self.want:
                    self.len_shift = -2
                else:
                    self.len_shift = -1
                    self._packet(self.op)
        return len(data)

    def read(self, n):
        if Broker.down and not self.closed:
            self.closed = 1
            Broker.drops += 1
        if self.closed:
            return b""
        if not self.rx:
            return None
        out = self.rx[:n]
        self.rx = self.rx[n:]
        return out

    def close(self):
        self.closed = 1


class _Poll:
    # the answers are made once: a real poll's own allocation is not the
    # harness's to add
    def __init__(self):
        self.s = None
        self.mask = 0
        self.w = self.r = ()

    def register(self, s, mask):
        self.s = s
        self.mask = mask
        self.w = ((s, POLLOUT),)
        self.r = ((s, POLLIN),)

    def modify(self, s, mask):
        self.mask = mask

    def poll(self, t=0):
        s = self.s
        if self.mask & POLLOUT:
            return self.w
        if s.closed or s.rx or Broker.down:
            return self.r
        return ()


class FakeSelect:
    POLLIN = POLLIN
    POLLOUT = POLLOUT
    POLLERR = POLLERR
    POLLHUP = POLLHUP

    @staticmethod
    def poll():
        return _Poll()


class FakeSocket:
    socket = FakeSock

    @staticmethod
    def getaddrinfo(host, port):
        return [(2, 1, 0, "", ("127.0.0.1", port))]
