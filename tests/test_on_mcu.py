# Runs every firmware test module again on a microcontroller build: the
# MicroPython qemu port on an emulated Cortex-M3 (`make mcu`, docs/mcu.md):
# single-precision floats, 31-bit small ints, no operating system, the REPL on
# a UART. Through mpremote, as tests/test_on_micropython.py runs the unix
# ports: the modules (compiled to .mpy for armv7m, as `pumpmon flash` does)
# are on the board's flash from its start, a littlefs image built on the
# host (host_tools/mcu/image.py) that QEMU loads into the board's RAM flash
# (files read over `mpremote mount` made every case wait for its imports:
# docs/mcu.md has the figures), and tests/mp_runner.py's main() runs them.
# One QEMU per pytest worker, stopped (by its pid) at the end of the session;
# a larger heap than the built-in Pico-sized one (the tests build traces and
# logs the monitor never holds at once) and a larger flash (the tree and the
# tests' files).
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.mcu import image, qemu
from test_on_micropython import CASES, SPLIT, _functions

from tests.support import ROOT
MPREMOTE = str(Path(sys.executable).parent / "mpremote")
HEAP = 3 * 1024 * 1024
FLASH = 4 * 1024 * 1024
TIMEOUT = 900
# test functions that need what a bare-metal board has not: a network stack
# (no `socket` module on the qemu port). The link's logic is tested there
# by the module's other functions; the unix ports run these.
NEEDS_NETWORK = {
    "test_carer_link": (
        "test_unreachable_broker_never_stops_the_loop",
        "test_broker_packets_split_or_unasked_for_are_read_and_dropped"),
    # issue 28's scripted brokers: carerlink.link imports the wire, which
    # imports socket
    "test_carer_backoff": (
        "test_a_link_that_drops_within_seconds_is_retried_ever_more_slowly",
        "test_a_connection_that_stayed_up_starts_the_back_off_again",
        "test_start_up_grace_hides_only_a_broker_not_up_yet",
        "test_a_broker_that_never_acknowledges_is_a_lost_link"),
    "test_carer_messages": (
        "test_alarm_state_goes_with_qos_1_until_the_broker_acknowledges_it",
        "test_i_am_coming_is_logged_published_and_never_silences_the_bedside",
        "test_an_escalated_alarm_nobody_answered_calls_the_second_contact"),
    # the wire itself (carerlink/wire.py imports socket)
    "test_carer_wire": ("test_wire_sends_publishes_written_in_parts_whole_and_in_order",)}
REPLAY_TRACES = ("stop_at_power_on", "fast_stop")


def _compile_tree(dst):
    """firmware/, tests/firmware/ and host_tools/ as .mpy for the Cortex-M
    (a file mpy-cross refuses is left out: host-only code). Through `pumpmon
    flash`'s compile cache (build/flash-cache, keyed by content and flags):
    the pytest workers and the next run share one compilation."""
    from concurrent.futures import ThreadPoolExecutor

    from host_tools.flashing.build import FlashError, _compile, cache_dir
    target = {"march": "armv7m"}
    cache = cache_dir(ROOT)

    def one(src):
        rel = src.relative_to(ROOT)
        try:
            data = _compile(src, rel.as_posix(), target, cache)
        except FlashError:
            return
        out = dst / rel.with_suffix(".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)

    srcs = [src for sub in ("firmware", "tests/firmware", "host_tools", "boards/drivers",
                            "boards/sim/rom") for src in sorted((ROOT / sub).rglob("*.py"))]
    # one worker compiles, the others wait and take it from the cache (a
    # fresh clone's workers all start with an empty one)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".mcu-tree.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with ThreadPoolExecutor(max_workers=4) as ex:
            list(ex.map(one, srcs))
    for src in (ROOT / "firmware").glob("*.py"):      # test_failsafe reads their source
        shutil.copy(src, dst / "firmware" / src.name)
    return dst


def _replay_input(name):
    from host_tools.formats.trace import read_trace
    from host_tools.replay.driver import encode_sample
    trace = read_trace(ROOT / "traces" / (name + ".csv"))
    lines = [json.dumps(trace.config_values(None), sort_keys=True) + "\n"]
    return "".join(lines + [encode_sample(s) for s in trace.samples()])


@pytest.fixture(scope="session")
def mcu_tree(tmp_path_factory):
    """The flash image every QEMU of this session starts with: the compiled
    tree under /remote (where `mpremote mount` put it) and the replay inputs."""
    missing = qemu.available()
    assert missing is None, missing + " (make test does)"
    tree = _compile_tree(tmp_path_factory.mktemp("mcu_tree"))
    for name in REPLAY_TRACES:
        (tree / ("replay_%s.txt" % name)).write_text(_replay_input(name), encoding="utf-8")
    img = tmp_path_factory.mktemp("mcu_image") / "flash.img"
    return image.write(img, image.tree_files(tree, "remote/"), FLASH)


class Board:
    """One QEMU for this worker, restarted when a run left it unusable."""

    def __init__(self):
        self.q = None
        self.image = None
        self.used_s = 0.0

    def pty(self):
        if self.q is None or not self.q.alive():
            self.stop()
            self.q = qemu.Qemu(heap=HEAP, image=self.image, flash=FLASH)
        return self.q.pty

    def stop(self):
        if self.q is not None:
            self.q.stop()
            self.q = None

    def cpu_s(self):
        """The running QEMU's CPU seconds so far (user + system), 0 without one."""
        try:
            f = Path("/proc/%d/stat" % self.q.pid).read_text().rsplit(")", 1)[1].split()
        except (AttributeError, OSError):
            return 0.0
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def exec(self, img, code, timeout=TIMEOUT):
        self.image = img
        pty = self.pty()
        cpu = self.cpu_s()
        try:
            r = subprocess.run([MPREMOTE, "connect", pty, "exec", code],
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        self.used_s = self.cpu_s() - cpu
        return r.stdout + r.stderr


@pytest.fixture(scope="session")
def board():
    b = Board()
    yield b
    b.stop()


RUNNER = (ROOT / "tests" / "mp_runner.py").read_text(encoding="utf-8").replace(
    "\nsys.exit(main(sys.argv[1:]))", "")
PATH = ("import sys, os\nos.chdir('/remote')\n"
        "sys.path[:0] = ['/remote/firmware', '/remote/tests/firmware', '/remote', "
        "'/remote/boards/drivers']\n")


def _run_module(board, tree, module, only):
    argv = [module] + (["-k", only] if only else [])
    out = board.exec(tree, PATH + RUNNER + "\nprint('exit', main(%r))\n" % (argv,))
    return out


def _cases():
    out = []
    for m, only in CASES:
        skip = NEEDS_NETWORK.get(m, ())
        if only is None and skip:
            out += [(m, f) for f in _functions(m) if f not in skip]
        elif only not in skip:
            out.append((m, only))
    return out


MCU_CASES = _cases()
# The emulated Cortex-M runs the firmware some 20-50x slower than the unix
# port: all of its cases take about 20 min of two cores, which `make test`
# (under 10 min) cannot hold. So `make test` runs the representative set (every
# module; single floats, heap locks, config, log, runner, service,
# annunciation all run), and `make test-mcu` the rest or all
# (PUMPMON_MCU=slow|all; not in CI): the modules and functions that step the
# engine through days (SLOW_ON_MCU). The engine computes in integers only
# (tests/host/test_integer_engine.py), so those days are the same arithmetic
# on the 32-bit unix port (31-bit small ints, as here), which runs them all in
# `make test`; what QEMU adds, single floats and a bare-metal board, the
# other cases cover. Measured (QEMU's CPU seconds, JUnit qemu_cpu_s): the
# whole representative set before this cut 486 s, the four engine histories
# of test_engine_properties 154 s of it (random histories 73 s).
SLOW_ON_MCU = ("test_boot_swap", "test_detection", "test_soak",
               ("test_engine_properties", "test_random_histories_on_every_runtime"),
               ("test_engine_properties", "test_flex_dosing_keeps_the_envelope_bounded"),
               ("test_engine_properties",
                "test_flex_dosing_stop_after_days_of_boluses_is_found_in_seconds"),
               ("test_engine_properties", "test_flex_dosing_stroke_pump_stop_after_a_bolus"))
WHICH = os.environ.get("PUMPMON_MCU", "fast")


def _slow_on_mcu(case):
    return case[0] in SLOW_ON_MCU or case in SLOW_ON_MCU


RUN_CASES = [c for c in MCU_CASES if WHICH == "all" or (WHICH == "slow") == _slow_on_mcu(c)]


@pytest.mark.req("R-057")
@pytest.mark.parametrize("module,only", RUN_CASES)
def test_firmware_module_on_mcu(board, mcu_tree, module, only, request):
    out = _run_module(board, mcu_tree, module, only)
    # the emulated CPU's own seconds (the JUnit XML's cpu_s counts QEMU only
    # when it ends, at the end of the session)
    request.node.user_properties.append(("qemu_cpu_s", "%.2f" % board.used_s))
    m = re.search(r"^(\d+) passed, 0 failed", out, re.M)
    assert m and int(m.group(1)) > 0 and "exit 0" in out, out[-4000:]


@pytest.mark.req("R-057")
def test_every_firmware_test_runs_on_the_mcu():
    # every case the unix ports run, but the network's few (named above)
    every = set()
    for m, only in CASES:
        every |= {(m, f) for f in _functions(m)} if only is None else {(m, only)}
    ran = set()
    for m, only in MCU_CASES:
        ran |= {(m, f) for f in _functions(m)} if only is None else {(m, only)}
    left = {(m, f) for m, f in every - ran}
    assert left == {(m, f) for m, fs in NEEDS_NETWORK.items() for f in fs}, left
    assert all(f in _functions(m) for m, fs in NEEDS_NETWORK.items() for f in fs)
    assert set(SPLIT) <= {m for m, _ in MCU_CASES}


@pytest.mark.req("R-057")
def test_mcu_is_a_single_float_32_bit_board(board, mcu_tree):
    # what the tests above run on: single floats (as the RP2040 and ESP32
    # ports), 31-bit small ints, no os.urandom, no socket
    out = board.exec(mcu_tree, "import sys, gc\nprint(repr(1/3), sys.maxsize, sys.platform, "
                     "16777217.0 == 16777216.0)\n")
    assert "0.33333334 2147483647 qemu True" in out, out       # single: 1/3 to 8 digits


@pytest.mark.req("R-057")
@pytest.mark.parametrize("name", REPLAY_TRACES)
def test_corpus_replay_byte_identical_on_mcu(board, mcu_tree, name):
    # the replay driver on the Cortex-M gives the corpus's events byte for byte
    code = PATH + (
        "import json\n"
        "from host_tools.replay import driver as D\n"
        "from pumpmon.config import Config\n"
        "f = open('/remote/replay_%s.txt', 'rb')\n"
        "lines = D.read_lines(f, 2048)\n"
        "values = json.loads(next(lines))\n"
        "D.replay(Config(values), D.decode_lines(lines), sys.stdout.write)\n"
        "print('REPLAY-END')\n") % name
    out = board.exec(mcu_tree, code)
    assert "REPLAY-END" in out, out[-3000:]
    got = out[:out.index("REPLAY-END")]
    got = got[got.index("\n") + 1:] if got.startswith("Local directory") else got
    expected = (ROOT / "traces" / (name + ".events.jsonl")).read_text(encoding="utf-8")
    assert got.replace("\r\n", "\n") == expected


def test_no_qemu_left_running_after_stop():
    q = qemu.Qemu()
    pid = q.pid
    q.stop()
    assert not Path("/proc/%d" % pid).exists() or "zombie" in \
        Path("/proc/%d/status" % pid).read_text()

