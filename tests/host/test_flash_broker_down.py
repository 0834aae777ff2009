# Issue 28: flashing does not depend on the network. A monitor configured for
# the carers' link (mqtt_host set) is flashed with its broker down (nothing
# listens), refusing (CONNACK "not authorised") or flapping (accepts and
# drops at once): the flash succeeds, and only the monitor's own start-up
# decides whether it came up. The "brokers" here are tiny loopback servers.
import json
import time
import socket

import pytest
from test_flash import flash, needs_board

from tests.support import ROOT
from tests.vboard_helpers import GOOD_CONFIG, VBoard

from host_tools.carer.relay import Scripted
from pumpmon import eventlog as L
import logread


def _refuse(c):
    # read the CONNECT, answer CONNACK with return code 5 (not authorised)
    c.settimeout(2)
    c.recv(512)
    c.sendall(b"\x20\x02\x00\x05")


def _drop(c):
    pass                       # accepted, then closed at once


def _no_listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                  # nothing listens there now: connection refused
    return port


@pytest.fixture
def vboard(tmp_path):
    b = VBoard(tmp_path)
    yield b
    b.stop()


@pytest.mark.req("R-081")
@needs_board
@pytest.mark.parametrize("broker", ["down", "refusing", "flapping"])
def test_flash_with_a_carers_link_config_succeeds_whatever_the_broker_does(
        vboard, tmp_path, broker):
    server = None
    if broker == "down":
        port = _no_listener()
    else:
        server = Scripted(_refuse if broker == "refusing" else _drop)
        port = server.port
    try:
        cfg = dict(GOOD_CONFIG, board_id="bed4", mqtt_host="127.0.0.1", mqtt_port=port,
                   mqtt_keepalive_s=10)
        p = tmp_path / "carer.json"
        p.write_text(json.dumps(cfg))
        # a long start-up watch: the link's first failure is printed well within it
        s = flash(vboard, ROOT, config=p, settle=3.0)
        assert s["selftest"] == "passed", s
        assert json.loads(vboard.files()["config.json"])["mqtt_port"] == port
        if server is not None:
            assert server.accepted >= 1, "the monitor never tried the broker"
        # the monitor runs: a second flash finds nothing to send and comes up again
        s = flash(vboard, ROOT, config=p, settle=3.0)
        assert s["files_sent"] == 0
        # the link's failure is logged once its start-up grace (one keep-alive,
        # 10 s: a broker not up yet is no alarm) has passed
        end = time.monotonic() + 60
        recs = []
        while time.monotonic() < end and not any(r[0] == L.CARER_LINK for r in recs):
            time.sleep(1)
            recs = [r[2] for r in logread.read_all(str(vboard.flash / "log"))[0]]
        assert any(r[0] == L.CARER_LINK for r in recs), "the link's failure is logged"
    finally:
        if server is not None:
            server.close()


@pytest.mark.req("R-081")
def test_only_the_monitors_own_start_up_lines_count():
    from host_tools.device.session import monitor_report
    link = ("pumpmon: carer link: connection refused or unreachable (retry in 1 s)\r\n"
            "pumpmon: carer link: [Errno 104] ECONNRESET (retry in 2 s)\r\n"
            "pumpmon: carer link not started: no network\r\n")
    assert monitor_report("MPY: soft reboot\r\n" + link) is None
    assert monitor_report(link + "pumpmon: bad configuration: config.json:3: x\r\n") == \
        "pumpmon: bad configuration: config.json:3: x"
    assert monitor_report("pumpmon: firmware damaged: lib/x.mpy") == \
        "pumpmon: firmware damaged: lib/x.mpy"
