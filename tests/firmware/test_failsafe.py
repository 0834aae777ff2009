# Issue 12, fail-safe boot (docs/safety.md): firmware/main.py arms the
# watchdog first, and anything that stops the monitor from starting (a board
# layer that raises, a module that does not import, MemoryError at import)
# ends in firmware/failsafe.py sounding the malfunction melody with the red
# light, the watchdog fed, logged; boot.py's manifest check finds a missing or
# damaged file, and a damaged main.py sounds from boot.py at once. Each case
# runs the real main.py / boot.py in a folder standing for the board's flash.
# Runs on CPython and on the MicroPython unix port.
import json
import os
import sys

from fakeboard import FakeBoard
from test_eventlog import _rmtree, _tmpdir

import failsafe
from pumpmon import alarms as A
from pumpmon import eventlog as L
import logread
from pumpmon import patterns as P

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
FIRMWARE = HERE + "/../../firmware"


def _src(name):
    with open(FIRMWARE + "/" + name) as f:
        return f.read()


class _Link:
    """simhw.link as the failsafe path sees it: records the outputs."""

    def __init__(self):
        self.tones = []
        self.leds = []
        self.feeds = 0

    def set_tone(self, hz):
        self.tones.append(hz)

    def set_led(self, c):
        self.leds.append(c)

    def feed_watchdog(self):
        self.feeds += 1


class _WDT:
    armed = []

    def __init__(self, timeout=0):
        _WDT.armed.append(timeout)
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class _Machine:
    WDT = _WDT


class _Module:
    pass


class _Env:
    """A flash folder as cwd, a fake machine and simhw; puts all back."""

    def __init__(self, tag, board=None):
        self.d = _tmpdir(tag)
        self.cwd = os.getcwd()
        self.link = _Link()
        self.saved = {}
        hw = _Module()
        hw.link = self.link
        _WDT.armed = []
        mods = {"machine": _Machine(), "simhw": hw, "board": board}
        for k in mods:
            self.saved[k] = sys.modules.get(k)
            if mods[k] is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = mods[k]
        os.chdir(self.d)
        failsafe.LOOPS = 40

    def close(self):
        failsafe.LOOPS = -1
        os.chdir(self.cwd)
        for k in self.saved:
            if self.saved[k] is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = self.saved[k]
        _rmtree(self.d)

    def write(self, name, data):
        with open(self.d + "/" + name, "w") as f:
            f.write(data)


def _run_main(env, g=None):
    g = dict(g or {})
    g["__name__"] = "__main__"
    exec(_src("main.py"), g)
    return g


def _failsafe_sounded(env):
    link = env.link
    # the melody's notes (C5, C4) and silence between them, red on and off,
    # the watchdog armed first (8 s) and fed on every pass
    assert 523 in link.tones and 262 in link.tones and 0 in link.tones, link.tones
    assert P.RED in link.leds and 0 in link.leds, link.leds
    assert _WDT.armed == [8000]
    recs, _bad = logread.read_all(env.d + "/log")
    fields = [r[2] for r in recs]
    assert [(f[0], f[2]) for f in fields] == [(L.FAULT, A.D_BOOT)], fields


def test_failsafe_copies_match_the_firmware_tables():
    # failsafe.py cannot import pumpmon (it may be the damage): its copies
    """req: R-031"""
    assert failsafe.SOUND == P.SOUND[A.KIND_MALFUNCTION]
    assert (P.RED,) + failsafe.LIGHT == P.LIGHT[A.KIND_MALFUNCTION]
    assert failsafe.RED == P.RED and failsafe.FAULT == L.FAULT
    assert failsafe.D_BOOT == A.D_BOOT and A.DETAIL_NAMES[A.D_BOOT] == "boot_failure"


def test_board_layer_that_raises_ends_in_the_failsafe_alarm():
    """req: R-031"""
    class Board:
        def __init__(self):
            raise ValueError("level calibration: raw values must increase")

    mod = _Module()
    mod.Board = Board
    env = _Env("fs_board", mod)
    try:
        env.write("config.json", '{"rate_ul_h": 30}')
        _run_main(env, {"PM_DAMAGED": []})
        _failsafe_sounded(env)
    finally:
        env.close()


def test_missing_board_module_ends_in_the_failsafe_alarm():
    """req: R-031"""
    env = _Env("fs_missing")        # no board module anywhere: ImportError
    try:
        _run_main(env, {"PM_DAMAGED": []})
        _failsafe_sounded(env)
    finally:
        env.close()


def test_memory_error_at_import_ends_in_the_failsafe_alarm():
    """req: R-031"""
    env = _Env("fs_mem")
    sys.path.insert(0, env.d)
    try:
        env.write("board.py", "raise MemoryError('memory allocation failed')\n")
        _run_main(env, {"PM_DAMAGED": []})
        _failsafe_sounded(env)
    finally:
        sys.path.remove(env.d)
        sys.modules.pop("board", None)
        env.close()


def test_failsafe_logs_to_a_text_note_when_the_log_cannot_be_written():
    """req: R-031"""
    env = _Env("fs_note")
    try:
        env.write("log", "a file where the log folder should be")
        failsafe.run("ImportError: no module named 'board'", None, loops=3)
        with open(env.d + "/" + failsafe.NOTE) as f:
            assert "no module named 'board'" in f.read()
        assert env.link.feeds == 3 and env.link.leds[0] == P.RED
    finally:
        env.close()


def _sha(data):
    import binascii
    import hashlib
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


def _install(env, files):
    man = {"format": 1, "version": "t", "files": {}}
    for p in files:
        env.write(p, files[p])
        man["files"][p] = _sha(files[p].encode())
    env.write("manifest.json", json.dumps(man))


def test_manifest_check_finds_missing_and_damaged_files():
    """req: R-032"""
    env = _Env("fs_check")
    try:
        _install(env, {"main.py": "print(1)\n", "board.py": "B = 1\n", "x.py": "X = 1\n"})
        assert failsafe.check() == []
        env.write("board.py", "B = 2\n")
        os.remove("x.py")
        assert failsafe.check() == ["board.py: damaged", "x.py: missing"]
        os.remove("manifest.json")
        assert failsafe.check() == ["manifest.json: missing"]
        env.write("manifest.json", "[1, 2]")
        assert failsafe.check() == ["manifest.json: unreadable"]
    finally:
        env.close()


def test_boot_py_sounds_at_once_when_main_py_is_damaged():
    """req: R-032"""
    env = _Env("fs_bootmain")
    try:
        _install(env, {"main.py": "print(1)\n", "board.py": "B = 1\n"})
        g = {"__name__": "__main__"}
        exec(_src("boot.py"), g)
        assert g["PM_DAMAGED"] == [] and env.link.tones == []
        env.write("main.py", "print(1\n")              # a corrupt main.py never runs
        g = {"__name__": "__main__"}
        exec(_src("boot.py"), g)
        assert g["PM_DAMAGED"] == ["main.py: damaged"]
        # steady tone and red light, left on: boot.py must not block (the
        # REPL stays reachable for pumpmon flash)
        assert env.link.tones == [failsafe.STEADY_HZ] and env.link.leds == [P.RED]
        recs, _bad = logread.read_all(env.d + "/log")
        assert [(r[2][0], r[2][2]) for r in recs] == [(L.FAULT, A.D_BOOT)]
    finally:
        env.close()


def test_boot_py_lets_nothing_out_but_a_ctrl_c():
    # on the rp2 port a SystemExit out of boot.py soft-resets before main.py
    # runs, at every boot: a silent loop (docs/safety.md). Every step of
    # boot.py keeps it in; main.py then checks the firmware itself
    """req: R-032"""
    env = _Env("fs_bootexit")
    real = sys.modules.get("os")

    class Os:
        def __getattr__(self, name):
            def exits(*a):
                raise SystemExit(1)
            return exits

    try:
        _install(env, {"main.py": "print(1)\n"})
        sys.modules["os"] = Os()         # every file operation raises SystemExit
        g = {"__name__": "__main__"}
        exec(_src("boot.py"), g)          # no SystemExit out of it
        assert "PM_DAMAGED" in g          # it ran to its end: main.py runs next

        class Interrupt:
            def __getattr__(self, name):
                def interrupt(*a):
                    raise KeyboardInterrupt
                return interrupt
        sys.modules["os"] = Interrupt()
        try:
            exec(_src("boot.py"), {"__name__": "__main__"})
        except KeyboardInterrupt:
            pass                          # Ctrl-C: someone at the console
        else:
            raise AssertionError("a Ctrl-C in boot.py was swallowed")
    finally:
        if real is None:                  # MicroPython: a built-in is not in sys.modules
            sys.modules.pop("os")         # (left as None, `import os` gives None after)
        else:
            sys.modules["os"] = real
        env.close()


class _Stop(KeyboardInterrupt):
    pass


def test_damaged_code_file_is_never_run_the_failsafe_sounds():
    # a truncated .mpy can hang its import (the unix port does): the monitor
    # is not even tried, the fail-safe path sounds
    """req: R-032"""
    env = _Env("fs_code", _Module())
    try:
        _run_main(env, {"PM_DAMAGED": ["lib/pumpmon/runner.mpy: damaged"]})
        _failsafe_sounded(env)
    finally:
        env.close()


def test_damaged_failsafe_file_is_malfunction_internal():
    """req: R-032"""
    class Board(FakeBoard):
        def __init__(self):
            FakeBoard.__init__(self)
            self.passes = 0

        def sleep_ms(self, ms):
            FakeBoard.sleep_ms(self, ms)
            self.passes += 1
            if self.passes > 300:
                raise _Stop()          # end the test's main loop (Ctrl-C)

    mod = _Module()
    mod.Board = Board
    env = _Env("fs_damaged", mod)
    try:
        env.write("config.json", '{"rate_ul_h": 30}')
        try:
            _run_main(env, {"PM_DAMAGED": ["failsafe.json: damaged"]})
        except KeyboardInterrupt:
            pass
        recs, _bad = logread.read_all(env.d + "/log")
        raised = [r[2] for r in recs if r[2][0] == 1]
        assert raised and raised[0][1] == A.INTERNAL and raised[0][2] == A.D_FIRMWARE
        assert env.link.tones == []     # the monitor ran: no failsafe
    finally:
        env.close()
