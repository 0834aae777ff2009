# On the virtual board with the real carers' link: a broker on loopback that
# takes the connection (CONNACK), answers pings, and never acknowledges what
# the monitor publishes (no PUBACK). The carers hear nothing confirmed, so the
# bedside must show and sound the lost link (monitoring_interrupted /
# carer_link: low priority, yellow, its soft pulses) as for a broker that is
# down (docs/carer.md, "Delivery"; firmware: tests/firmware/test_carer_backoff.py).
import json
import socket
import time

import pytest

from host_tools.carer.relay import Scripted
from host_tools.formats.trace import write_trace
from host_tools.sim.sensors import Scenario

from tests.vboard_helpers import served_with_broker


def _never_acknowledge(c):
    """CONNACK, then PINGRESP to each ping and nothing to anything else,
    until the monitor drops the connection (or 30 s)."""
    c.settimeout(30)
    if c.recv(512)[:1] != b"\x10":           # CONNECT
        return
    c.sendall(b"\x20\x02\x00\x00")           # CONNACK accepted
    try:
        while True:
            data = c.recv(4096)
            if not data:
                return
            if b"\xc0\x00" in data:           # PINGREQ (a rough look is enough here)
                c.sendall(b"\xd0\x00")
    except (socket.timeout, OSError):
        return


@pytest.mark.req("R-046", "R-079")
def test_a_broker_that_never_acknowledges_sounds_the_lost_link(tmp_path):
    broker = Scripted(_never_acknowledge)
    # normal delivery all along: the lost link is the only alarm
    write_trace(str(tmp_path / "t.csv"), {"scenario": "normal", "rate_ul_h": "30"},
                Scenario(seed=3, rate_ul_h=30.0, level_ml=15.0, duration_s=900).samples())
    timeline = tmp_path / "timeline.jsonl"
    try:
        with served_with_broker(tmp_path, broker.port,
                                ["--trace", tmp_path / "t.csv", "--timeline", timeline]):

            def rows():
                return [json.loads(x) for x in timeline.read_text().splitlines() if x.strip()]

            end = time.monotonic() + 90
            raised = []
            while time.monotonic() < end and not raised:
                time.sleep(0.5)
                raised = [r for r in rows() if r["kind"] == "event"
                          and r["event"] == "alarm_raised" and r.get("cause") == "carer_link"]
            assert raised, "carer_link never raised (the broker was connected: %d times)" \
                % broker.accepted
            assert broker.accepted >= 1
            t0 = raised[0]["world_ms"]
            # 200 s of board time on (its pulses), however slowly a loaded
            # machine runs the board: the timeline's rows say how far it got
            end = time.monotonic() + 120
            all_rows = rows()
            while time.monotonic() < end and max(r["world_ms"] for r in all_rows) < t0 + 200000:
                time.sleep(0.5)
                all_rows = rows()
            after = [r for r in all_rows if r["world_ms"] >= t0]
            assert max(r["world_ms"] for r in all_rows) >= t0 + 200000
            tones = [r for r in after if r["kind"] == "tone" and r["hz"] > 0]
            assert tones, "the lost link was not sounded"
            # the light: yellow from the alarm on (without it the light turns
            # green once the flow is judged, 30 s of board time into this trace)
            leds = [r["colour"] for r in all_rows if r["kind"] == "led"]
            assert leds and leds[-1] == "yellow", leds
            assert not [r for r in after if r["kind"] == "led" and r["colour"] != "yellow"]
            # it is the only alarm: the pump delivered as programmed
            others = [r for r in rows() if r["kind"] == "event" and r["event"] == "alarm_raised"
                      and r.get("cause") != "carer_link"]
            assert not others, others
    finally:
        broker.close()
