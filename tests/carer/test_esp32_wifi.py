# The ESP32's Wi-Fi station (boards/esp32/wifi.py) for the carers' link, on a
# fake `network` module: up() never waits, starts the association once,
# starts it again only every RETRY_MS while it is down, and answers True
# once the station is connected. The board layer makes it on first use only.
import importlib
import sys
import types

import pytest

from tests.support import ROOT


class FakeWLAN:
    def __init__(self, iface):
        self.iface = iface
        self.on = False
        self.connected = False
        self.calls = []

    def active(self, on):
        self.on = on

    def isconnected(self):
        return self.connected

    def connect(self, ssid, password):
        assert self.on
        self.calls.append(("connect", ssid, password))

    def disconnect(self):
        self.calls.append(("disconnect",))


def _station(mocker):
    net = types.ModuleType("network")
    net.STA_IF = 0
    made = []
    net.WLAN = lambda iface: made.append(FakeWLAN(iface)) or made[-1]
    t = types.ModuleType("time")
    t.now = 1000
    t.ticks_ms = lambda: t.now
    t.ticks_diff = lambda a, b: a - b
    mocker.patch.dict(sys.modules, {"network": net, "time": t})
    sys.modules.pop("wifi", None)
    sys.path.insert(0, str(ROOT / "boards" / "esp32"))
    try:
        mod = importlib.import_module("wifi")
    finally:
        sys.path.remove(str(ROOT / "boards" / "esp32"))
    sys.modules.pop("wifi", None)
    return mod, made, t


@pytest.mark.req("R-046")
def test_station_never_waits_and_retries_slowly(mocker):
    mod, made, t = _station(mocker)
    s = mod.Station()
    assert s.up(None, None) is False and not made      # no Wi-Fi configured: radio off
    assert s.up("home", "pw") is False
    w = made[0]
    assert w.on and w.calls == [("disconnect",), ("connect", "home", "pw")]
    for _ in range(100):                               # 100 loop passes, 10 ms apart
        t.now += 10
        assert s.up("home", "pw") is False
    assert w.calls.count(("connect", "home", "pw")) == 1
    t.now += mod.RETRY_MS
    s.up("home", "pw")
    assert w.calls.count(("connect", "home", "pw")) == 2
    w.connected = True
    assert s.up("home", "pw") is True and len(made) == 1
