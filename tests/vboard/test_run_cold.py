# `make run`'s path cannot fail on a slow or busy machine (issue 15): `pumpmon
# run` on the virtual board at the demo's speed (169x: 8 s of the board's
# watchdog is 47 ms of real time), from a cold compile cache
# ($PUMPMON_FLASH_CACHE, a new empty folder each time) with a CPU-burning
# process on every core beside it, three times (`make test-slow`; once in
# `make test`, which is itself a busy machine: the other two repeat the same
# path, for an intermittent failure); every run flashes, plays its trace to
# the end and exits 0. And the flash's failures are one line: a
# flash that outlasts its timeout is stopped and reported, and a failed
# flash is really tried a second time.
import os
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.commands import run as R

from tests.support import FULL, ROOT
from tests.vboard_helpers import stop_trace
BIN = Path(sys.executable).parent
HOG = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end:\n    pass\n"


def test_pumpmon_run_from_a_cold_cache_beside_a_cpu_hog_never_fails(tmp_path):
    trace = tmp_path / "cold.csv"
    stop_trace(trace, "cold-run", 7, 900, 600)
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(os.cpu_count() or 2)]
    try:
        for i in range(3 if FULL else 1):
            cache = tmp_path / ("cache%d" % i)          # cold: nothing compiled yet
            env = dict(os.environ, PUMPMON_FLASH_CACHE=str(cache))
            r = subprocess.run([str(BIN / "pumpmon"), "run", "--virtual", "--trace",
                                str(trace), "--speed", "169", "--out", str(tmp_path / "out")],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               cwd=ROOT, env=env, timeout=400)
            out = r.stdout + r.stderr
            assert r.returncode == 0, "run %d: %s" % (i, out)
            assert "Traceback" not in out
            assert "flashed sim board" in out and "trying once more" not in out, out
            assert "summary: 900 trace rows played" in out
            assert list(cache.glob("*.mpy")), "the cache was not used: not a cold compile"
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def test_a_flash_that_outlasts_its_timeout_is_one_line(tmp_path):
    # a serial port nobody answers on: the flash waits for the raw REPL
    import pty
    master, slave = pty.openpty()
    try:
        cfg = tmp_path / "config.json"
        cfg.write_text('{"rate_ul_h": 30}')
        ok, text = R._flash(os.ttyname(slave), cfg, tmp_path, "sim", timeout=1)
    finally:
        os.close(master)
        os.close(slave)
    assert not ok
    assert text.count("\n") == 0 and "Traceback" not in text
    assert "within 1 s" in text and "make run" in text


def test_a_failed_flash_is_tried_once_more(tmp_path, monkeypatch):
    calls = []

    def flaky(port, config_path, out, board=None, say=None, timeout=None):
        calls.append(port)
        if len(calls) == 1:
            return False, "pumpmon flash: connection to the board lost"
        return True, "flashed sim board"

    said = []
    panel = type("P", (), {"say": staticmethod(said.append)})()
    monkeypatch.setattr(R, "_flash", flaky)
    ok, text = R._flash_twice("/dev/null", tmp_path / "c.json", tmp_path, "sim", panel, [])
    assert ok and len(calls) == 2 and text == "flashed sim board"
    assert any("trying once more" in s and "connection to the board lost" in s for s in said)
    calls.clear()
    ok, _ = R._flash_twice("/dev/null", tmp_path / "c.json", tmp_path, "sim", panel, [2])
    assert not ok and len(calls) == 1          # Ctrl-C: no second try


@pytest.mark.parametrize("cache_env", [True])
def test_the_flash_compiles_before_it_touches_the_board(tmp_path, cache_env):
    # no board at all behind the port: the compile (cold cache, --board sim)
    # happens first and is said; then the port is found missing
    cache = tmp_path / "cache"
    env = dict(os.environ, PUMPMON_FLASH_CACHE=str(cache))
    r = subprocess.run([str(BIN / "pumpmon"), "flash", "--board", "sim", "--port",
                        str(tmp_path / "ttyNONE"), "--config", str(ROOT / "tests" / "host" /
                                                                   "nonexistent.json")],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 2                     # the config is checked first of all
    good = tmp_path / "good.json"
    good.write_text('{"rate_ul_h": 30}')
    r = subprocess.run([str(BIN / "pumpmon"), "flash", "--board", "sim", "--port",
                        str(tmp_path / "ttyNONE"), "--config", str(good)],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 3, r.stderr           # no board found ...
    assert len(list(cache.glob("*.mpy"))) > 15   # ... after the whole firmware was compiled
