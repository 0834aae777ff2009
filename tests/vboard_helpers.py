"""The virtual board as the tests drive it (tests/vboard, tests/host): a
served board (`pumpmon board serve`) and its timeline, the firmware flashed
onto it, a short generated trace. The fixture that starts boards,
`start_board`, is in tests/conftest.py."""
import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from host_tools.formats.trace import write_trace
from host_tools.sim.sensors import Scenario
from host_tools.vboard.control import control
from host_tools.vboard.served import ServedBoard
from tests.support import BIN, ROOT

MPREMOTE = str(BIN / "mpremote")
# the configuration the flash tests give a board (the `cfg_file` fixture)
GOOD_CONFIG = {"rate_ul_h": 30.0, "board_id": "test bed"}


class Board:
    def __init__(self, proc, info, tmp):
        self.proc = proc
        self.info = info
        self.tmp = tmp
        self.port = info["pty"]
        self.socket = info.get("socket")
        self.control = info["control"]
        self.flash = Path(info["flash"])

    def mp(self, *args, port=None, check=True, timeout=60):
        r = subprocess.run([MPREMOTE, "connect", port or self.port, *args],
                           capture_output=True, timeout=timeout)
        if check:
            assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")
        return r

    def status(self):
        return json.loads(control(self.control, "status"))

    def timeline(self):
        p = self.tmp / "timeline.jsonl"
        text = p.read_text()
        # the board may be writing its last row right now: a line without its
        # newline is not a row yet (it is read whole the next time)
        text = text[:text.rfind("\n") + 1]
        rows = []
        for line in text.splitlines():
            if line.strip():
                rows.append(json.loads(line))
        return rows

    def wait(self, pred, timeout=60, what="condition"):
        """Until pred(): checked again each time board time moves on 500 ms
        or the timeline gets a row (the board's `wait`: no wall-clock sleep;
        it answers after 0.25 s when board time stands still)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return
            control(self.control, "wait 500")
        raise AssertionError("timed out waiting for " + what)


def _alive(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False


def _events(board):
    return [r for r in board.timeline() if r["kind"] == "event"]


def _flash_firmware(board, cfg, tmp):
    cfg_path = tmp / "config.json"
    cfg_path.write_text(json.dumps(cfg))
    r = subprocess.run([str(BIN / "pumpmon"), "flash", "--port", board.port, "--config",
                        str(cfg_path), "--settle", "0.3"], capture_output=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()


@contextlib.contextmanager
def served_with_broker(tmp_path, port, extra=()):
    """A board served at --speed 10 (extra: more `board serve` arguments),
    flashed with the carers' link to a broker on loopback at `port`
    (keep-alive 10 s); stopped at the end of the block."""
    from host_tools.flashing import protocol as F
    served = ServedBoard(tmp_path / "tty", tmp_path / "flash", ["--speed", "10"] + list(extra),
                         stderr=open(tmp_path / "serve.err", "wb"))
    try:
        assert served.ready, served.line
        cfg = {"rate_ul_h": 30, "board_id": "bed4", "mqtt_host": "127.0.0.1",
               "mqtt_port": port, "mqtt_keepalive_s": 10}
        (tmp_path / "config.json").write_text(json.dumps(cfg))
        F.flash(served.port, root=ROOT, config=tmp_path / "config.json", progress=False,
                settle=1.5)
        yield served
    finally:
        served.stop()


def _trace(path, **kw):
    """A short generated trace (flow window of 2 minutes)."""
    sc = Scenario(seed=3, rate_ul_h=30.0, level_ml=15.0, **kw)
    meta = {"scenario": "vboard-test", "rate_ul_h": "30", "reservoir_capacity_ml": "20",
            "flow_window_s": "120", "flow_stuck_s": "60"}
    write_trace(str(path), meta, sc.samples())
    return {"rate_ul_h": 30, "reservoir_capacity_ml": 20, "flow_window_s": 120,
            "flow_stuck_s": 60}


def stop_trace(path, scenario, seed, duration_s, stop_at, back_at=None):
    """A generated trace for the `pumpmon run` tests: delivery stops at stop_at
    seconds (and comes back at back_at, if given); flow window of 2 minutes."""
    factor = [(stop_at, 0.0)] + ([(back_at, 1.0)] if back_at is not None else [])
    sc = Scenario(seed=seed, rate_ul_h=30.0, level_ml=15.0, duration_s=duration_s,
                  factor=factor)
    write_trace(str(path), {"scenario": scenario, "rate_ul_h": "30",
                            "reservoir_capacity_ml": "20", "flow_window_s": "120"},
                sc.samples())


# ---- a served board for the flash tests (tests/host/test_flash*.py) ----------------------
def firmware_file(rel):
    """The files a flash manages (and its work files); the firmware's own data
    (event log, alarm state, recordings) changes by itself on a running board."""
    return (rel.endswith((".py", ".mpy")) or rel in ("manifest.json", "config.json")
            or rel.startswith(".pm_"))


class VBoard:
    """One `pumpmon board serve` process with its flash folder."""

    def __init__(self, tmp, flash_size=None):
        self.tmp = Path(tmp)
        self.flash = self.tmp / "flash"
        self.flash.mkdir(exist_ok=True)
        self.flash_size = flash_size
        self.n = 0
        self.start()

    def start(self):
        self.n += 1
        self.pty = str(self.tmp / ("tty%d" % self.n))
        extra = ["--flash-size", str(self.flash_size)] if self.flash_size else []
        self.served = ServedBoard(self.pty, self.flash, extra, stderr=subprocess.PIPE)
        self.proc = self.served.proc
        assert self.served.ready, "the virtual board did not start: %r %s" % (
            self.served.line,
            self.proc.stderr.read1(4000) if self.proc.poll() is not None else "")
        self.port = self.served.port
        # keep its output pipes drained
        import threading
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=_drain, args=(stream,), daemon=True).start()

    def power_cut(self):
        """The board dies at once (its whole process group), flash as it is."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        self.served.stop()

    def files(self):
        """{path: bytes} of the flash's firmware files (firmware_file)."""
        out = {}
        for p in sorted(self.flash.rglob("*")):
            rel = p.relative_to(self.flash).as_posix()
            if p.is_file() and firmware_file(rel):
                out[rel] = p.read_bytes()
        return out

    def version(self):
        return json.loads(self.files()["manifest.json"])["version"]

    def selftest(self):
        """Unmodified mpremote: soft reset (boot.py runs), then the self-test."""
        r = subprocess.run([str(BIN / "mpremote"), "connect", self.port, "exec",
                            "from pumpmon import selftest; selftest.report(board=False)"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout.strip().splitlines()[-1])


def _drain(stream):
    try:
        while stream.read1(4096):
            pass
    except (OSError, ValueError):
        pass
