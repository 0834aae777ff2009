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
    """req: R-046, R-078"""
    assert Config({"rate_ul_h": 30}).net is None
    c = Config({"rate_ul_h": 30, "mqtt_host": "192.168.1.10"})
    assert c.net["mqtt_port"] == 1883 and c.net["mqtt_tls"] is False
    assert c.net["mqtt_keepalive_s"] == 30 and c.net["mqtt_user"] is None
    c = Config({"rate_ul_h": 30, "mqtt_host": "10.1.2.3", "mqtt_tls": True, "mqtt_user": "u",
                "mqtt_password": "p", "wifi_ssid": "home", "wifi_password": "w",
                "mqtt_fingerprint": "AB:" * 31 + "CD"})
    assert c.net["mqtt_port"] == 8883 and c.net["mqtt_password"] == "p"
    assert c.net["mqtt_fingerprint"] == bytes([0xAB] * 31 + [0xCD])
    assert Config({"rate_ul_h": 30, "mqtt_host": "10.1.2.3", "mqtt_tls": True,
                   "mqtt_ca": "ca.der"}).net["mqtt_ca"] == "ca.der"
    # issue 28: no name look-up on the board (it would block the loop): an
    # IPv4 address only, and a name is refused with the reason
    for name in ("broker.lan", "b", "localhost", "1.2.3", "1.2.3.256", "1.2.3.4.5", "::1"):
        assert "not an IPv4 address" in _raises({"rate_ul_h": 30, "mqtt_host": name}), name
    # TLS always verifies the broker: a CA or a fingerprint, never neither
    assert "always verified" in _raises({"rate_ul_h": 30, "mqtt_host": "10.1.2.3",
                                         "mqtt_tls": True})
    assert "without mqtt_tls" in _raises({"rate_ul_h": 30, "mqtt_host": "10.1.2.3",
                                          "mqtt_ca": "ca.der"})
    for bad in ("ab" * 31, "zz" * 32, "ab" * 33):
        assert "64 hex" in _raises({"rate_ul_h": 30, "mqtt_host": "10.1.2.3",
                                    "mqtt_tls": True, "mqtt_fingerprint": bad}), bad
    assert "mqtt_port" in _raises({"rate_ul_h": 30, "mqtt_host": "1.2.3.4", "mqtt_port": 0})
    assert "mqtt_port" in _raises({"rate_ul_h": 30, "mqtt_host": "1.2.3.4", "mqtt_port": "x"})
    assert "mqtt_tls" in _raises({"rate_ul_h": 30, "mqtt_host": "1.2.3.4", "mqtt_tls": 1})
    assert "without mqtt_user" in _raises({"rate_ul_h": 30, "mqtt_host": "1.2.3.4",
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


# ---- issue 28: back-off, QoS 1, "I am coming" (scripted wires, no sockets) ----
class _ScriptWire:
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


def _link(values=None):
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


def test_a_link_that_drops_within_seconds_is_retried_ever_more_slowly():
    """req: R-079"""
    from carerlink import link as LK
    seed = 28
    for trial in range(2):
        b, r, lk = _link()
        # up for 0.2-3 s (20-300 passes, drawn), then dropped, every time
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        lk.wire = w = _ScriptWire(drop_after=20 + seed % 281)
        lk._connect = lambda now, lk=lk: (lk.wire.open(None), lk._to(LK.TCP, now))
        r.run(100 * 1800)
        # 1+2+4+...+60 s, then one attempt a minute: never one a second
        assert w.opens <= 30 + 8, (trial, w.opens)
        assert lk._backoff == LK.BACKOFF_MAX_MS
        # the bedside shows the lost link (down for most of the time)
        assert r.monitor.internal == 0


def test_a_connection_that_stayed_up_starts_the_back_off_again():
    """req: R-079"""
    from carerlink import link as LK
    b, r, lk = _link()
    lk.wire = w = _ScriptWire(drop_after=100 * 90)        # up 90 s each time
    lk._connect = lambda now: (lk.wire.open(None), lk._to(LK.TCP, now))
    r.run(100 * 600)
    # each drop after a stable minute is retried after 1 s
    assert w.opens >= 6 and lk._backoff <= 2 * LK.BACKOFF_MIN_MS


def test_alarm_state_goes_with_qos_1_until_the_broker_acknowledges_it():
    """req: R-072"""
    import json
    from carerlink import link as LK
    from carerlink import packets as P
    b, r, lk = _link()
    lk.wire = w = _ScriptWire(ack=False)
    lk._connect = lambda now: (lk.wire.open(None), lk._to(LK.TCP, now))
    r.run(100 * 3)
    assert lk.state == LK.UP
    states = [p for p in w.pubs if p[1] == "pumpmon/bed4/state"]
    assert states and states[0][0] & 0x06 == 0x02 and states[0][0] & P.RETAIN
    # no PUBACK: sent again with DUP after half a keep-alive, same packet id
    r.run(100 * 6)
    again = [p for p in w.pubs if p[1] == "pumpmon/bed4/state"]
    assert len(again) >= 2 and again[1][0] & P.DUP and again[1][2] == again[0][2]
    assert lk.ch.resent >= 1
    # the broker acknowledges from now on: nothing is sent again
    w.ack = True
    w.todo += P.puback(again[-1][2])
    r.run(100 * 2)
    n = len([p for p in w.pubs if p[1] == "pumpmon/bed4/state"])
    assert not lk.ch.inflight and lk.ch.acked >= 1
    r.run(100 * 20)
    assert len([p for p in w.pubs if p[1] == "pumpmon/bed4/state"]) == n
    # heartbeats are QoS 0; the state says the bedside has not escalated
    hbs = [p for p in w.pubs if p[1] == "pumpmon/bed4/heartbeat"]
    assert hbs and all(h[0] & 0x06 == 0 for h in hbs)
    assert json.loads(lk.ch.state_msg())["escalated"] is False
    # a broker that never acknowledges: the connection is dropped and made again
    b2, r2, lk2 = _link()
    lk2.wire = w2 = _ScriptWire(ack=False)
    lk2._connect = lambda now: (lk2.wire.open(None), lk2._to(LK.TCP, now))
    r2.run(100 * 40)
    assert w2.opens >= 2 and lk2.ch.resent >= 3


def test_i_am_coming_is_logged_published_and_never_silences_the_bedside():
    """req: R-073"""
    import json
    from carerlink import link as LK
    from carerlink import packets as P
    from pumpmon import eventlog as L
    b, r, lk = _link()
    logged = []
    r.write = lambda code, cond=255, detail=0, *v, **k: logged.append((code, cond, detail))
    lk.wire = w = _ScriptWire()
    lk._connect = lambda now: (lk.wire.open(None), lk._to(LK.TCP, now))
    r.run(100 * 2)
    # the monitor subscribed to its coming topic
    assert P.subscribe(1, b"pumpmon/bed4/coming", 1) in w.sent
    r.monitor.manager.update(b.t, 1 << A.NO_FLOW, 0)
    r.run(100)
    before = (r.monitor.manager.sound_kind(), r.monitor.manager.shown)
    msg = P.publish(b"pumpmon/bed4/coming", b'{"contact": 2, "name": "Anna"}', 0, 1, 77)
    w.todo += msg
    r.run(100)
    # acknowledged to the broker (QoS 1), logged with the alarm and contact
    assert P.puback(77) in w.sent
    assert (L.CARER_COMING, A.NO_FLOW, 2) in logged, logged
    assert lk.coming[0] == 2
    # the bedside goes on exactly as before
    assert (r.monitor.manager.sound_kind(), r.monitor.manager.shown) == before
    st = json.loads(lk.ch.state_msg())
    assert st["coming"]["contact"] == 2 and st["alarms"]["no_flow"]["on"]
    # a retained "coming" (an old answer replayed by the broker) is not taken
    lk.ch.coming = None
    w.todo += P.publish(b"pumpmon/bed4/coming", b"1", 1, 0, 0)
    r.run(10)
    assert lk.coming is None


def test_an_escalated_alarm_nobody_answered_calls_the_second_contact():
    """req: R-074"""
    import json
    from carerlink import link as LK
    from carerlink import packets as P
    b, r, lk = _link()
    lk.wire = w = _ScriptWire()
    lk._connect = lambda now: (lk.wire.open(None), lk._to(LK.TCP, now))
    r.run(100 * 2)
    mg = r.monitor.manager
    mg.update(b.t, 1 << A.NO_FLOW, 0)
    r.run(100)
    assert json.loads(lk.ch.escalation_msg(lk.ch.second_call()))["call"] is False
    n0 = len([p for p in w.pubs if p[1] == "pumpmon/bed4/escalation"])
    # the bedside's one timer says escalated (manager.escalated): called, QoS 1, retained
    mg.escalated = 1
    r.run(100)
    esc = [p for p in w.pubs if p[1] == "pumpmon/bed4/escalation"]
    assert len(esc) == n0 + 1 and esc[-1][0] & 0x06 == 0x02 and esc[-1][0] & P.RETAIN
    assert lk.ch.call == 1 and json.loads(lk.ch.state_msg())["escalated"] is True
    # a carer answers: the call ends, the bedside escalation does not
    w.todo += P.publish(b"pumpmon/bed4/coming", b'{"contact": 1}', 0, 1, 5)
    r.run(100)
    assert lk.ch.call == 0 and mg.escalated == 1
    assert len([p for p in w.pubs if p[1] == "pumpmon/bed4/escalation"]) == n0 + 2


def test_start_up_grace_hides_only_a_broker_not_up_yet():
    """req: R-079"""
    from carerlink import link as LK
    from carerlink.wire import LinkError
    from pumpmon import eventlog as L
    # a broker not listening yet at start-up: retried quietly for a keep-alive
    # period (10 s), then indicated at the bedside and logged with the reason
    b, r, lk = _link()
    logged = []
    r.write = lambda code, cond=255, detail=0, *v, **k: logged.append((code, detail) + v)
    r.run(100 * 9)
    assert "refused" in lk.last_error and not [x for x in logged if x[0] == L.CARER_LINK]
    assert not r.monitor.manager.shown & BIT
    r.run(100 * 3)
    link = [x for x in logged if x[0] == L.CARER_LINK]
    assert r.monitor.manager.shown & BIT and link and link[0][2] == 111, link
    # a refusal (wrong password) is said at once, grace or not
    b, r, lk = _link()
    logged = []
    r.write = lambda code, cond=255, detail=0, *v, **k: logged.append((code, detail) + v)

    def refuse(now):
        raise LinkError("the broker refused the connection: not authorised", 1005)
    lk._connect = refuse
    r.run(100)
    assert [x[2] for x in logged if x[0] == L.CARER_LINK] == [1005]
    # a link that was up and went down is never hidden
    b, r, lk = _link()
    logged = []
    r.write = lambda code, cond=255, detail=0, *v, **k: logged.append((code, detail) + v)
    lk.wire = _ScriptWire(drop_after=100)
    lk._connect = lambda now: (lk.wire.open(None), lk._to(LK.TCP, now))
    r.run(100 * 3)
    downs = [x for x in logged if x[0] == L.CARER_LINK and x[1] == LK.UP and x[2] == 104]
    assert downs, logged


class _SlowSock:
    """A socket that takes at most `k` bytes per write."""

    def __init__(self, k):
        self.k = k
        self.got = b""

    def write(self, data):
        data = bytes(data[:self.k])
        self.got += data
        return len(data)


def test_wire_sends_publishes_written_in_parts_whole_and_in_order():
    """req: R-046

    packets.write_publish writes a PUBLISH into the wire's
    buffer in its parts (no joined copy on the heap); what the broker gets
    is byte for byte publish()'s, across partial sends; a buffer the broker
    does not drain is refused whole, and room freed by a partial send is used."""
    from carerlink import packets as P
    from carerlink.wire import OUT_MAX, LinkError, Wire
    w = Wire()
    w.sock = _SlowSock(100)
    msgs = [(b"pumpmon/bed4/state", b"x" * 600, 1, 1, 7), (b"pumpmon/bed4/status", b"online",
                                                          1, 0, 0),
            (b"homeassistant/sensor/a/config", b"{}" * 300, 1, 0, 0)]
    for t, p, retain, qos, pid in msgs:
        P.write_publish(w, t, p, retain, qos, pid)
    n = 0
    while not w.flush():
        n += 1
        assert n < 100
    assert w.sock.got == b"".join(P.publish(*m) for m in msgs)
    # full: the packet that does not fit is refused whole, nothing of it written
    big = b"y" * (OUT_MAX - 40)
    P.write_publish(w, b"t", big, 0, 0, 0)
    before = w.n
    try:
        P.write_publish(w, b"t", b"z" * 100, 0, 0, 0)
        raise AssertionError("a full buffer took a packet")
    except LinkError as e:
        assert e.code == 105
    assert w.n == before
    w.sock.got = b""
    w.flush()                       # 100 bytes sent: room for the next one
    P.write_publish(w, b"t", b"z" * 50, 0, 0, 0)
    while not w.flush():
        pass
    assert w.sock.got == P.publish(b"t", big, 0, 0, 0) + P.publish(b"t", b"z" * 50, 0, 0, 0)
