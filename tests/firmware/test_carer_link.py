# The carers' link's connection (firmware/carerlink/link.py, docs/carer.md): a
# broker that is unreachable (a real socket to a closed port) never stops the
# loop, the bedside indication comes after a keep-alive period; the broker's
# packets are read whole across reads, unasked-for ones dropped, a refusal
# named. Runs on CPython and the unix ports (the first needs a socket).
from fakeboard import FakeBoard

from pumpmon import alarms as A
from pumpmon.clock import ticks_add
from pumpmon.config import Config

BIT = 1 << A.CARER_LINK


def test_unreachable_broker_never_stops_the_loop():
    """req: R-046"""
    from carerlink import link as LK
    from pumpmon.runner import Runner
    b = FakeBoard(ticks_add(0, -20000))
    # port 1 on this machine: nothing listens, the connection is refused
    cfg = Config({"rate_ul_h": 30, "mqtt_host": "127.0.0.1", "mqtt_port": 1,
                  "mqtt_keepalive_s": 5})
    r = Runner(b, cfg)
    lk = LK.CarerLink(r, cfg.net, cfg.board_id)
    r.attach_carer(lk)
    assert r.carer is lk
    r.run(100 * 4)                # 4 s: refused, retried, not yet shown
    assert lk.state != LK.UP and "refused" in lk.last_error
    assert not r.monitor.manager.shown & BIT
    r.run(100 * 3)                # past a keep-alive period: shown at the bedside
    assert r.monitor.manager.shown & BIT
    assert r.monitor.internal == 0 and b.fed >= 700
    # back-off: fewer attempts than seconds
    assert lk._backoff > LK.BACKOFF_MIN_MS


class _Chunks:
    """A wire whose receive() hands out prepared chunks."""

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.sent = b""

    def write(self, data):
        self.sent += data

    def receive(self):
        return self.chunks.pop(0) if self.chunks else b""

    def close(self):
        pass


def test_broker_packets_split_or_unasked_for_are_read_and_dropped():
    """req: R-046"""
    from carerlink import link as LK
    from pumpmon.runner import Runner
    b = FakeBoard(0)
    cfg = Config({"rate_ul_h": 30, "mqtt_host": "127.0.0.1", "mqtt_port": 1})
    r = Runner(b, cfg)
    lk = LK.CarerLink(r, cfg.net, cfg.board_id)
    r.attach_carer(lk)

    class Client:
        def ping(self):
            pass

    lk.client = Client()
    # a retained PUBLISH (remaining length 130: two length bytes), a PINGRESP,
    # then a CONNACK split across three reads
    pub = b"\x31\x82\x01\x00\x03a/b" + b"x" * 125
    lk.wire = _Chunks([pub[:5], pub[5:] + b"\xd0\x00\x20", b"\x02\x00", b"\x00"])
    lk.state = LK.MQTT
    for _ in range(4):
        lk._receive(b.t)
    assert lk.state == LK.UP and lk._rxbuf == b""
    # a refusal names its reason
    lk.wire = _Chunks([b"\x20\x02\x00\x05"])
    try:
        lk._receive(b.t)
        raise AssertionError("no error")
    except LK.LinkError as e:
        assert "not authorised" in str(e) and e.code == 1005
