# The carers' link at the bedside (firmware/carerlink/, docs/carer.md): its
# settings, its low-priority technical indication and how the alarm
# management treats it, and a link whose broker is unreachable (a real
# socket to a closed port): the loop goes on, the indication comes after a
# keep-alive period, nothing else changes. Runs on CPython and the unix port.
from fakeboard import FakeBoard

from pumpmon import alarms as A
from pumpmon.clock import ticks_add
from pumpmon.config import Config, ConfigError
from pumpmon.monitor import Monitor

BIT = 1 << A.CARER_LINK


def _raises(values):
    try:
        Config(values)
    except ConfigError as e:
        return str(e)
    return None


def test_network_settings_are_optional_and_validated():
    """req: R-046"""
    assert Config({"rate_ul_h": 30}).net is None
    c = Config({"rate_ul_h": 30, "mqtt_host": "broker.lan"})
    assert c.net["mqtt_port"] == 1883 and c.net["mqtt_tls"] is False
    assert c.net["mqtt_keepalive_s"] == 30 and c.net["mqtt_user"] is None
    c = Config({"rate_ul_h": 30, "mqtt_host": "b", "mqtt_tls": True, "mqtt_user": "u",
                "mqtt_password": "p", "wifi_ssid": "home", "wifi_password": "w"})
    assert c.net["mqtt_port"] == 8883 and c.net["mqtt_password"] == "p"
    assert "mqtt_port" in _raises({"rate_ul_h": 30, "mqtt_host": "b", "mqtt_port": 0})
    assert "mqtt_port" in _raises({"rate_ul_h": 30, "mqtt_host": "b", "mqtt_port": "x"})
    assert "mqtt_tls" in _raises({"rate_ul_h": 30, "mqtt_host": "b", "mqtt_tls": 1})
    assert "without mqtt_user" in _raises({"rate_ul_h": 30, "mqtt_host": "b",
                                            "mqtt_password": "p"})
    assert "without mqtt_host" in _raises({"rate_ul_h": 30, "wifi_ssid": "s"})
    assert "mqtt_host" in _raises({"rate_ul_h": 30, "mqtt_host": ""})


def test_lost_link_is_a_low_technical_indication_not_latched():
    """req: R-046"""
    kind, prio, cause = A.TABLE[A.CARER_LINK]
    assert prio == A.LOW and cause == "carer_link"
    assert A.KIND_NAMES[kind] == "monitoring_interrupted"
    assert not BIT & A.LATCH_MASK and BIT & A.QUIET_MASK and BIT & A.REMIND_MASK


def test_acknowledged_lost_link_is_quiet_until_the_reminder_and_clears_with_the_link():
    """req: R-046"""
    cfg = Config({"rate_ul_h": 30})
    events = []
    m = Monitor(cfg, 0, lambda c, cond, d: events.append((c, cond)))
    m.link_lost(1)
    m.poll(10, 0)
    assert m.manager.shown == BIT and (1, A.CARER_LINK) in events
    assert m.manager.sound_kind() == A.KIND_INTERRUPTED
    m.manager.acknowledge(20)
    m.poll(30, 0)
    assert m.manager.sound_kind() == A.KIND_NONE          # quiet
    assert m.manager.light_kind() == A.KIND_INTERRUPTED   # still shown
    m.poll(20 + cfg.reminder_ms + 10, 0)
    assert m.manager.sound_kind() == A.KIND_INTERRUPTED   # sounds again after an hour
    m.link_lost(0)
    m.poll(20 + cfg.reminder_ms + 20, 0)
    assert m.manager.shown == 0 and (3, A.CARER_LINK) in events
    # a danger still wins the sound over the technical indication
    m.link_lost(1)
    m.manager.update(0, (1 << A.NO_FLOW) | BIT, 0)
    assert m.manager.sound_kind() == A.KIND_NO_FLOW


def test_unreachable_broker_never_stops_the_loop():
    """req: R-046"""
    from carerlink import link as LK
    from pumpmon.runner import Runner
    b = FakeBoard(ticks_add(0, -20000))
    # port 1 on this machine: nothing listens, the connection is refused
    cfg = Config({"rate_ul_h": 30, "mqtt_host": "127.0.0.1", "mqtt_port": 1,
                  "mqtt_keepalive_s": 5})
    r = Runner(b, cfg)
    lk = LK.attach(r, cfg)
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
    lk = LK.attach(r, cfg)

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
