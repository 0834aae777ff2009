# Issue 24: the virtual board on the 32-bit MicroPython build with the Pico's
# free heap (`pumpmon board serve --pico-heap`, docs/virtual-board.md). The
# real firmware, flashed by `pumpmon flash` over the board's raw REPL (which
# the v1.28 unix port entered only once the host stopped writing before its
# REPL read: console.py's repl_reads), boots, raises the stop alarm the trace
# calls for, and answers `pumpmon status` while it sounds; the heap the VM
# reports is the Pico's free heap plus the ROM's allowance, and the monitor's
# share of it is said in words.
import json
import subprocess

from host_tools.mcu.qemu import PICO_HEAP as PICO_FREE_HEAP
from host_tools.vboard.board import ROM_HEAP
from tests.support import BIN, ROOT
from tests.vboard_helpers import _trace

MP32 = ROOT / "build" / "mp32" / "micropython"


def _flash(b, cfg, tmp):
    """`pumpmon flash`, once: on a Pico-sized heap its self-test must not run
    out of memory (after every module is imported the largest free block is
    a few KB; configfile.py reads config.json at its own size for that)."""
    cfg_path = tmp / "config.json"
    cfg_path.write_text(json.dumps(cfg))
    r = subprocess.run([str(BIN / "pumpmon"), "flash", "--port", b.port, "--config",
                        str(cfg_path), "--settle", "0.3"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_monitor_boots_alarms_and_answers_in_a_picos_heap(start_board, tmp_path):
    assert MP32.exists(), "no 32-bit MicroPython: run `make mp32` (make test does)"
    cfg = _trace(tmp_path / "t.csv", duration_s=600, factor=[(150, 0.0)])
    b = start_board("--pico-heap", "--trace", str(tmp_path / "t.csv"), "--speed", "40")
    _flash(b, cfg, tmp_path)
    b.wait(lambda: any(r["kind"] == "event" and r["event"] == "alarm_raised"
                       and r.get("alarm") == "no_flow" for r in b.timeline()),
           120, "the no_flow alarm")
    # the VM is the 32-bit build, its heap the Pico's free heap + the ROM's
    vm = b.status()["vm"]
    with open("/proc/%d/cmdline" % vm["pid"], "rb") as f:
        argv = f.read().split(b"\0")
    assert argv[0].decode() == str(MP32)
    assert ("heapsize=%d" % (PICO_FREE_HEAP + ROM_HEAP)).encode() in argv
    r = subprocess.run([str(BIN / "pumpmon"), "status", "--port", b.port, "--json"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert "no_flow/low_flow" in st["alarms"] and st["monitoring"], st
    heap = b.status()["heap"]
    # the firmware's gc sees the same heap the ROM reported at boot
    assert st["heap_total"] == heap["size"], (st, heap)
    assert 0 < heap["rom"] < ROM_HEAP, heap          # the ROM fits its allowance
    assert heap["rom"] < heap["peak"] < heap["size"], heap
    # no reset on the way (a MemoryError in the monitor ends in the watchdog)
    assert not [x for x in b.timeline() if x["kind"] == "reset"]
