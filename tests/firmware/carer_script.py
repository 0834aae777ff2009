# A carers' broker as a script, for the link's tests (test_carer_backoff.py,
# test_carer_messages.py): no socket, every connection accepted, dropped
# when told, PUBLISH acknowledged when told. CPython and MicroPython.
from fakeboard import FakeBoard

from pumpmon.config import Config


class ScriptWire:
    """A broker as a script: every connection is accepted and answered
    (CONNACK), then dropped after `drop_after` receive calls (0: never);
    PUBLISH packets are acknowledged when `ack` is true."""

    def __init__(self, drop_after=0, ack=True):
        self.drop_after = drop_after
        self.ack = ack
        self.opens = 0
        self.k = 0
        self.n = 0
        self.sent = b""
        self.todo = b""
        self.part = b""         # a packet written in parts (a stream, like TCP), not whole yet
        self.pubs = []          # (header, topic, pid) of each PUBLISH the monitor sent

    def open(self, addr):
        self.opens += 1
        self.k = 0
        self.todo = b""
        self.part = b""

    def connected(self):
        return 1

    def write(self, data, n=-1):
        if isinstance(data, str):
            data = data.encode()
        data = bytes(data if n < 0 else data[:n])
        self.sent += data
        data = self.part + data
        from carerlink import packets as P
        while data:
            got = P.split(data)
            if got is None:
                break
            op, i, end = got
            if op & 0xF0 == P.PUBLISH:
                topic, _pl, qos, pid, _r = P.incoming(data, i, end)
                self.pubs.append((op, topic, pid))
                if qos and self.ack:
                    self.todo += P.puback(pid)
            elif op == 0xC0:
                self.todo += b"\xd0\x00"          # PINGRESP
            data = data[end:]
        self.part = data
        return n

    def read(self, n):
        return b"\x20\x02\x00\x00"[:n]

    def flush(self):
        return True

    def receive(self):
        from carerlink.wire import LinkError
        self.k += 1
        if self.k == 1:
            return b"\x20\x02\x00\x00"          # CONNACK: accepted
        if self.drop_after and self.k > self.drop_after:
            raise LinkError("the broker closed the connection", 104)
        d, self.todo = self.todo, b""
        return d

    def close(self):
        pass

    def setblocking(self, f):
        pass

    def connect(self, a):
        pass


def _umqtt_on_cpython():
    # umqtt.simple imports MicroPython's u-modules; CPython has them under
    # their plain names (the firmware never runs it on CPython but here)
    import sys
    if sys.implementation.name != "micropython":
        import binascii
        import socket
        import struct
        sys.modules.setdefault("usocket", socket)
        sys.modules.setdefault("ustruct", struct)
        sys.modules.setdefault("ubinascii", binascii)


def new_link(values=None):
    _umqtt_on_cpython()
    from carerlink import link as LK
    from pumpmon.runner import Runner
    b = FakeBoard(0)
    v = {"rate_ul_h": 30, "mqtt_host": "127.0.0.1", "mqtt_port": 1, "mqtt_keepalive_s": 10,
         "board_id": "bed4"}
    v.update(values or {})
    cfg = Config(v)
    r = Runner(b, cfg)
    lk = LK.CarerLink(r, cfg.net, cfg.board_id)
    r.attach_carer(lk)
    import sys
    if sys.implementation.name != "micropython":
        # umqtt.simple builds CONNECT for MicroPython only (str and bytes):
        # on CPython a CONNECT stand-in; the ports run the real one
        def connect(now):
            lk.wire.write(b"\x10\x00")
            lk.client = _Pinger(lk)
            lk._to(LK.MQTT, now)
        lk._send_connect = connect
    return b, r, lk


class _Pinger:
    def __init__(self, lk):
        self.lk = lk

    def ping(self):
        self.lk.wire.write(b"\xc0\x00")


def scripted(lk, wire):
    """The link connects to `wire` (a ScriptWire) instead of a socket."""
    from carerlink import link as LK
    lk.wire = wire
    lk._connect = lambda now: (wire.open(None), lk._to(LK.TCP, now))
    return wire
