# The carers' link's send buffer (firmware/carerlink/wire.py,
# carerlink/packets.py write_publish): packets written in parts, sent whole
# and in order across partial sends, a full buffer refusing a packet whole.
# Runs on CPython and the unix ports (wire.py imports socket).


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
