"""The bedside display's words read back off its pixels: the firmware's
screen.py draws each state on the MicroPython unix port into the virtual
board's emulated SSD1306 (boards/sim/rom/simoled.py, through the vendored
ssd1306 driver and oled.py's bus frames); the host reads the GDDRAM back as
text (host_tools/vboard/oled.py, framebuf's own font) and as a PNG. Every
alarm of the table is checked, so a condition added to alarms.TABLE shows
here. The loop's bus frames, bus time and heap: tests/firmware/mp_screen.py."""
import hashlib
import json
import os
import re
import struct
import subprocess
import zlib

import pytest

from host_tools.vboard import oled
from host_tools.vboard.vm import micropython_path
from pumpmon import alarms as A
from pumpmon import screenwords as W

from tests.support import ROOT

_SNIPPET = r"""
import sys, json
sys.path.insert(0, "boards/sim/rom")
sys.path.insert(0, "boards/drivers")
import oled, simoled
from pumpmon import alarms as A
from pumpmon.screen import Screen, SERVICE, STOPPED

class Bus:
    def __init__(self):
        self.dev = simoled.SSD1306(None, lambda: 0)
    def writeto(self, a, buf, stop=True):
        self.dev.write(buf[0], memoryview(buf)[1:])
    def writevto(self, a, vec, stop=True):
        b = bytearray()
        for v in vec:
            b.extend(v)
        self.writeto(a, b)

class O:
    pass

def state(shown=0, acked=0, paused=0, left_ms=0, light=A.KIND_NONE, esc=None):
    m = O(); m.manager = O(); m.ann = O(); m.engine = O(); m.engine.reservoir = O()
    m.engine.level = O()
    g = m.manager
    g.shown, g.acked, g.paused, g._pause_end = shown, acked, paused, left_ms
    g.escalated = esc if esc is not None else 0
    m.ann.light = light
    e = m.engine
    e.rate, e.level.ul, e.level.ref, e.reservoir.minutes = 305, 12345, 1, 40 * 1440 + 7
    return m

out = {}
def shot(name, m, now=0, stop=None):
    bus = Bus()
    d = oled.Oled(bus, 100000)
    s = Screen(d)
    if stop is None:
        s.update(now, m)
    else:
        s.stopped(stop == SERVICE)
    d.flush()
    out[name] = bytes(bus.dev.ram).hex()
    out[name + "/flags"] = bus.dev.on | bus.dev.remap << 1 | bus.dev.comrev << 2

for c in range(A.N_CONDITIONS):
    shot("alarm%d" % c, state(1 << c))
    shot("acked%d" % c, state(1 << c, acked=1 << c))
shot("paused", state(1, paused=1, left_ms=44200))
shot("paused0", state(1, paused=1, left_ms=-5))
shot("escalated", state(1, esc=1))
shot("two", state((1 << A.LOW_VOLUME) | (1 << A.FLOW_SENSOR)))
shot("monitoring", state())
shot("starting", state(light=A.KIND_STARTING))
shot("service", state(), stop=SERVICE)
shot("stopped", state(), stop=STOPPED)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def shots():
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", str(ROOT / "firmware"), str(ROOT)])
    r = subprocess.run([micropython_path(), "-X", "heapsize=4M", "-c", _SNIPPET], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    raw = json.loads(r.stdout)
    return {k: oled.Frame(0, raw[k + "/flags"], bytes.fromhex(v))
            for k, v in raw.items() if not k.endswith("/flags")}


def _words(c):
    kind, prio, cause = A.TABLE[c]
    return W.WORDS[(A.KIND_NAMES[kind], cause)], prio


@pytest.mark.req("R-063")
def test_the_display_and_the_carers_view_name_the_same_alarms():
    # one table of short words (screenwords.py) beside the carers' sentences
    # (words.py), keyed alike: every condition the host words has the display words
    from host_tools.view import words as HW
    assert set(HW.CONDITION_WORDS) <= set(W.WORDS)


@pytest.mark.req("R-063")
def test_every_condition_has_display_words_that_fit():
    for c in range(A.N_CONDITIONS):
        (title, what, do1, do2), _p = _words(c)
        assert 0 < len(title) <= 16 and all(len(s) <= 16 for s in (what, do1, do2)), c
    for s in W.PRIORITY + W.PRIORITY_ACKED + (W.NOT_MONITORING, W.ESCALATED):
        assert len(s) <= 16


@pytest.mark.req("R-063")
@pytest.mark.parametrize("c", range(A.N_CONDITIONS))
def test_every_alarm_in_words_on_the_pixels(shots, c):
    (title, what, do1, do2), prio = _words(c)
    assert shots["alarm%d" % c].lines() == [title, what, W.PRIORITY[prio], do1, do2, ""]
    assert shots["acked%d" % c].lines() == [title, what, W.PRIORITY_ACKED[prio], do1, do2,
                                            ""]


@pytest.mark.req("R-063")
def test_the_alarm_shown_is_the_one_annunciated(shots):
    # two at once: the high-priority one, as the sound and the light
    (title, *_rest), _p = _words(A.top_condition((1 << A.LOW_VOLUME) | (1 << A.FLOW_SENSOR)))
    assert shots["two"].lines()[0] == title == _words(A.FLOW_SENSOR)[0][0]


@pytest.mark.req("R-063")
def test_paused_symbol_and_seconds_left(shots):
    assert shots["paused"].lines()[5] == "|| 45 s"     # 44.2 s left: counted up
    assert shots["paused0"].lines()[5] == "|| 0 s"
    assert shots["paused"].lines()[0] == _words(0)[0][0]


@pytest.mark.req("R-063")
def test_escalated(shots):
    assert shots["escalated"].lines()[5] == W.ESCALATED


@pytest.mark.req("R-063")
def test_monitoring_rate_and_reservoir(shots):
    assert shots["monitoring"].lines() == [
        W.MONITORING, "", "Rate 30.5 uL/h", "Left 12.3 mL", "40 days left", ""]


@pytest.mark.req("R-063")
@pytest.mark.parametrize("name,why", [("starting", W.STARTING), ("service", W.SERVICE),
                                      ("stopped", W.STOPPED)])
def test_not_monitoring(shots, name, why):
    assert shots[name].lines() == [W.NOT_MONITORING, "", why[0], why[1], "", ""]


@pytest.mark.req("R-063")
def test_the_reader_can_fail(shots):
    # a pixel off in a character makes it unreadable, so the checks above can fail
    fr = shots["alarm0"]
    ram = bytearray(fr.ram)
    ram[2 * 128 + 1] ^= 0x08
    bad = oled.Frame(0, 7, ram)
    assert bad.lines()[1] != fr.lines()[1] and "?" in bad.lines()[1]


@pytest.mark.req("R-063")
def test_png_frame(shots, tmp_path):
    p = tmp_path / "f.png"
    oled.png(shots["alarm0"], str(p), scale=2)
    data = p.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    assert (w, h) == (256, 128)
    idat = data.index(b"IDAT")
    n = struct.unpack(">I", data[idat - 4:idat])[0]
    raw = zlib.decompress(data[idat + 4:idat + 4 + n])
    assert len(raw) == h * (1 + w)
    glass = shots["alarm0"].glass()
    for y in (0, 5, 20, 40):
        row = raw[2 * y * (w + 1) + 1:2 * y * (w + 1) + 1 + w]
        assert [row[2 * x] // 255 for x in range(128)] == glass[y]


@pytest.mark.req("R-063")
def test_ssd1306_is_the_pinned_micropython_lib_release():
    pin = (ROOT / "requirements-firmware.txt").read_text()
    want = re.search(r"boards/drivers/ssd1306.py sha256:([0-9a-f]{64})", pin).group(1)
    got = hashlib.sha256((ROOT / "boards" / "drivers" / "ssd1306.py").read_bytes()).hexdigest()
    assert got == want


@pytest.mark.req("R-063")
def test_bench_worst_bus_time_of_a_loop_pass_is_under_5_ms():
    # make bench's figure: the firmware's loop with the display, through an
    # alarm, its countdown and its acknowledgement, every byte counted
    from host_tools.bench.display import BUDGET_US, measure
    m = measure()
    assert m["raised"] and m["busy"] > 100
    assert 3000 < m["worst_us"] == m["driver_worst_us"] <= BUDGET_US
