# `pumpmon config show|set` reads config.json through the running monitor's
# console channel; a monitor that does not answer there is read through the
# REPL and restarted, and a refusal ends the command (host_tools/commands/
# config.py). The board is a stand-in session that records what was asked;
# the real channel is tested in tests/host/test_flash.py.
import json

import pytest

from host_tools.commands import config as C
from host_tools.device.errors import ChannelError
from host_tools.exitcodes import PROBLEM, CommandError

DATA = json.dumps({"rate_ul_h": 30}).encode()


class Session:
    answer = "ok"          # "ok", "silent" (no reply) or "refused" (an ERR reply)

    def __init__(self, port=None, raw=False):
        self.port = port or "fake"
        self.calls = []
        Session.last = self

    def fetch(self, what):
        self.calls.append("fetch")
        if self.answer == "silent":
            raise ChannelError("no reply", answered=False)
        if self.answer == "refused":
            raise ChannelError("ERR busy")
        return DATA

    def enter_raw(self):
        self.calls.append("enter_raw")

    def read_bytes(self, path):
        self.calls.append("read_bytes")
        return DATA

    def start_monitor(self, settle):
        self.calls.append("start_monitor")
        return None, ""

    def enter_service(self, why):
        self.calls.append("enter_service")

    def set_clock(self):
        return None

    def close(self):
        self.calls.append("close")


@pytest.fixture
def session(mocker):
    mocker.patch.object(C, "BoardSession", Session)
    mocker.patch.object(C, "commit", lambda b, *a: b.calls.append("commit"))
    yield Session
    Session.answer = "ok"


@pytest.mark.req("R-026")
def test_show_reads_through_the_channel_and_the_monitor_goes_on(session):
    r = C.show("x")
    assert r["config"] == {"rate_ul_h": 30} and r["valid"]
    assert session.last.calls == ["fetch", "close"]


@pytest.mark.req("R-026")
def test_a_monitor_that_does_not_answer_is_read_through_the_repl_and_restarted(session):
    session.answer = "silent"
    r = C.show("x")
    assert r["config"] == {"rate_ul_h": 30}
    assert session.last.calls == ["fetch", "enter_raw", "read_bytes", "start_monitor", "close"]
    # set: already at the REPL, so no service request; the monitor restarts
    C.set_values("x", {"rate_ul_h": 40})
    assert session.last.calls == ["fetch", "enter_raw", "read_bytes", "commit",
                                  "start_monitor", "close"]


@pytest.mark.req("R-026")
def test_a_refusal_ends_the_command_and_touches_nothing(session):
    session.answer = "refused"
    for call in (lambda: C.show("x"), lambda: C.set_values("x", {"rate_ul_h": 40})):
        with pytest.raises(CommandError) as e:
            call()
        assert e.value.status == PROBLEM and "refused" in str(e.value)
        assert session.last.calls == ["fetch", "close"]
