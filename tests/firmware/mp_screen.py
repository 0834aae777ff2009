# The bedside display (screen.py over boards/drivers/oled.py and the vendored
# ssd1306 driver) on the MicroPython unix ports (framebuf is MicroPython's):
# its bus frames byte for byte, the bus time of a loop pass, no allocation
# per loop pass under micropython.heap_lock(), a dead display, and the alarms
# raised at the same times with and without a display. The words read back
# off the pixels: tests/host/test_display.py.
import gc
import sys

import micropython

sys.path.insert(0, "boards/sim/rom")
sys.path.insert(0, "boards/drivers")
import oled
import simoled

from harness import go
from host_tools.sim.memboard import MemBoard
from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon.config import Config
from pumpmon.runner import Runner

CFG = {"rate_ul_h": 30.0, "reservoir_capacity_ml": 20, "flow_window_s": 120}


class Bus:
    """machine.I2C's two writes, into the emulated SSD1306 (simoled.py);
    each transaction kept (emulate=0: only counted, nothing allocated)."""

    def __init__(self, emulate=1):
        self.dev = simoled.SSD1306(None, lambda: 0)
        self.emulate = emulate
        self.log = []
        self.n = 0
        self.dead = 0

    def writeto(self, addr, buf, stop=True):
        if self.dead:
            raise OSError(19)
        self.n += 1
        if self.emulate:
            assert addr == 0x3C
            self.log.append(bytes(buf))
            self.dev.write(buf[0], memoryview(buf)[1:])
        return len(buf)

    def writevto(self, addr, vec, stop=True):
        if not self.emulate:
            if self.dead:
                raise OSError(19)
            self.n += 1
            return 0
        b = bytearray()
        for v in vec:
            b.extend(v)
        return self.writeto(addr, b)


class Logged(Runner):
    """A Runner whose log records are kept in memory."""

    def write(self, code, cond=L.NO_COND, detail=0, v0=0, v1=0, v2=0, v3=0, sync=False):
        self.logged.append((code, v0))
        return True


class QuietBoard(MemBoard):
    """Outputs kept without their histories: nothing allocated per change
    (the locked tests)."""

    def set_tone(self, hz):
        self.tone = hz

    def set_led(self, colour):
        self.led = colour


def runner(bus=None, quiet=False):
    b = QuietBoard() if quiet else MemBoard()
    if bus is not None:
        b.display = oled.Oled(bus, 100000)
    Logged.logged = []
    r = Logged(b, Config(CFG))
    r.logged = []
    return r, b


def test_frames_byte_for_byte():
    bus = Bus()
    r, b = runner(bus)
    init = bus.log[:]
    # the driver's init: one command a transaction (control 0x80), display
    # off first and on last, then the whole blank frame once
    assert init[0] == b"\x80\xae" and b"\x80\xaf" in init
    assert init[-1] == b"\x40" + bytes(1024)
    bus.log = []
    go(r, b, 2000)
    assert bus.log, "nothing drawn"
    # every transaction of the loop: a window, then its 32 data bytes
    for i in range(0, len(bus.log), 2):
        win, data = bus.log[i], bus.log[i + 1]
        assert len(win) == 7 and win[0] == 0x00 and win[1] == 0x21 and win[4] == 0x22
        col, page = win[2], win[5]
        assert col % 32 == 0 and win[3] == col + 31 and win[6] == page < 8
        assert len(data) == 33 and data[0] == 0x40
        assert data[1:] == bytes(b.display.dev.buffer[page * 128 + col:page * 128 + col + 32])
    # what was sent is what the firmware drew
    go(r, b, 2000)
    assert bytes(bus.dev.ram) == bytes(b.display.dev.buffer)


def test_one_piece_a_pass_and_the_bus_time():
    bus = Bus()
    r, b = runner(bus)
    n0 = len(bus.log)
    for _ in range(300):
        k = len(bus.log)
        r.step()
        b.sleep_ms(10)
        assert len(bus.log) - k <= 2
    assert len(bus.log) > n0
    d = b.display
    # 8 + 34 bytes at 100 kHz: 3.8 ms, under the 5 ms a pass may hold the bus
    assert d.pass_us == oled.bus_us(8, 100000) + oled.bus_us(34, 100000)
    assert 3000 < d.worst_us == d.pass_us <= 5000


def test_loop_with_a_display_allocates_nothing():
    bus = Bus(emulate=0)
    r, b = runner(bus, quiet=True)
    go(r, b, 150000)                 # judged, monitoring
    b.flow = 0
    states = []

    def locked(ms):
        gc.collect()
        micropython.heap_lock()
        try:
            go(r, b, ms)
        finally:
            micropython.heap_unlock()
        mg = r.monitor.manager
        states.append((mg.shown, mg.paused, mg.acked != 0))
    locked(200000)                   # monitoring, then no_flow raised and drawn
    b.btn = 1
    locked(100)
    b.btn = 0
    locked(30000)                    # paused: the countdown redrawn each second
    b.btn = 1
    locked(3000)                     # long press: acknowledged
    b.btn = 0
    locked(10000)
    # no_flow alone: nothing in the loop raised (a fault would be malfunction)
    assert states[0][0] == 1 << A.NO_FLOW and states[2][1] and states[3][2], states
    assert all(st[0] == 1 << A.NO_FLOW for st in states), states
    assert bus.n > 100


def test_demonstration_with_a_display_allocates_nothing():
    # the alarm demonstration (demo.py) drawing each alarm's words, locked
    # from its first slot to its last (its start and end write the log)
    from pumpmon import demo as D
    bus = Bus(emulate=0)
    r, b = runner(bus, quiet=True)
    go(r, b, 150000)
    assert r.demo.start(b.t, D.SRC_CONSOLE)
    go(r, b, 100)
    gc.collect()
    micropython.heap_lock()
    try:
        go(r, b, D.DEMO_MS * (len(D.KINDS) - 1))
    finally:
        micropython.heap_unlock()
    assert r.demo.active and r.demo.cond == D.CONDS[-1] and not r.monitor.manager.shown
    go(r, b, D.DEMO_MS + 100)
    assert not r.demo.active


def test_a_dead_display_is_logged_and_the_alarm_sounds_the_same():
    runs = []
    for mode in ("none", "display", "dead"):
        bus = None if mode == "none" else Bus(emulate=0)
        r, b = runner(bus)
        go(r, b, 150000)
        if mode == "dead":
            bus.dead = 1
        b.flow = 0
        go(r, b, 300000)
        runs.append((r, b, bus))
    tones = [b.tones for r, b, bus in runs]
    assert tones[0] and tones[0] == tones[1] == tones[2]
    assert runs[0][0].screen is None
    dead = runs[2][0]
    disp = [v0 for code, v0 in dead.logged if code == L.DISPLAY]
    assert disp == [1], dead.logged        # logged once, not every retry
    assert not [c for c, v in runs[1][0].logged if c == L.DISPLAY]
    # it comes back: tried again a minute later, logged as working again
    runs[2][2].dead = 0
    go(dead, runs[2][1], 70000)
    assert [v0 for code, v0 in dead.logged if code == L.DISPLAY] == [1, 0]


def test_a_stop_shows_not_monitoring_at_once():
    # service and Ctrl-C (servicehold.stop): NOT MONITORING sent whole in that
    # call, for the loop sends nothing more (the words: tests/host/test_display.py)
    from pumpmon import screen as SC
    from pumpmon import service as S
    from pumpmon import servicehold as H
    for detail, mode in ((S.STOP_SERVICE, SC.SERVICE), (S.STOP_INTERRUPT, SC.STOPPED)):
        bus = Bus()
        r, b = runner(bus)
        go(r, b, 150000)
        H.stop(r, detail)
        assert r.screen.mode == mode and r.screen.keys[0] == mode
        assert not any(b.display.dirty)
        assert bytes(bus.dev.ram) == bytes(b.display.dev.buffer)
