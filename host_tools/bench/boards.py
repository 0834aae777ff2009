"""`make bench` section for the real boards: compiled size of the firmware
per board (.mpy by the real mpy-cross), and the peak heap of the full monitor
(the Pico board layer with its drivers, Runner with the flash log, Monitor)
on the MicroPython unix port with a Pico's heap, and again with half of it.

What a Pico leaves free to Python: 209,936 bytes (`gc.mem_free()` at the REPL
of a Raspberry Pi Pico, MicroPython v1.20.0-489, RP2040: micropython/micropython
issue #12557, https://github.com/micropython/micropython/issues/12557). The GC
heap is the RAM left after .data/.bss/C heap (ports/rp2/memmap_mp_rp2040.ld:
__GcHeapStart.. __GcHeapEnd), so later builds differ by a few KB. Target: the
monitor runs in half of it.

The measurement is MP_PROGRAM below, run by the unix port (`micropython -X
heapsize=N heap_run.py FLASH_DIR`, written to a temporary folder with
heap_world.py beside it): the memory budget's simulated world stands in for
the RP2040's `machine` and `time` (a simulated clock) and feeds the drivers
I2C frames and ADC values of a pump delivering 30 uL/h, which stops after 20
minutes. It is a separate small program so that the heap it
measures holds the monitor, not this host module's own bytecode.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools.bench.memory import HARNESS, mpy_cross
from host_tools.mcu.qemu import PICO_HEAP as PICO_FREE_HEAP  # the one figure
from host_tools.paths import ROOT

BIN = Path(sys.executable).parent
BOARDS = {"rpi_pico": "armv6m", "esp32": "xtensawin"}


def board_files(board):
    """(group, path) of every file that goes onto the board's flash."""
    out = [("entry", p) for p in sorted((ROOT / "firmware").glob("*.py"))]
    out += [("core", p) for p in sorted((ROOT / "firmware" / "pumpmon").glob("*.py"))]
    out += [("board", p) for p in sorted((ROOT / "boards" / board).glob("*.py"))]
    out += [("board", p) for p in sorted((ROOT / "boards" / "drivers").glob("*.py"))]
    return out


def compiled_sizes(board, arch, tmp):
    sizes = {"entry": 0, "core": 0, "board": 0}
    for group, src in board_files(board):
        if group == "entry":      # boot.py and main.py stay source on the board
            sizes[group] += src.stat().st_size
            continue
        out = Path(tmp) / ("%s_%s_%s.mpy" % (board, group, src.stem))
        mpy_cross(src, out, arch)
        sizes[group] += out.stat().st_size
    return sizes


def compile_tree(board, arch, dst):
    """The board's flash as mpy-cross would fill it: pumpmon/*.mpy, lib/*.mpy, ..."""
    for group, src in board_files(board):
        if group == "entry":
            continue          # main.py/boot.py are run, not imported
        sub = Path(dst) / ("pumpmon" if group == "core" else "")
        sub.mkdir(parents=True, exist_ok=True)
        mpy_cross(src, sub / (src.stem + ".mpy"), arch)


def heap_run(heap_bytes, mpy_dir=None, micropython=None):
    """micropython: the port to run on (default the pinned 64-bit unix port;
    build/mp32/micropython, 32-bit, has a board's object sizes)."""
    env = dict(os.environ)
    if mpy_dir is None:       # .py sources, compiled at import on the board
        path = [str(ROOT / "firmware"), str(ROOT / "boards" / "rpi_pico"),
                str(ROOT / "boards" / "drivers")]
    else:                     # precompiled .mpy only
        path = [str(mpy_dir)]
    env["MICROPYPATH"] = ":".join([".frozen"] + path)
    with tempfile.TemporaryDirectory() as tmp:
        prog = Path(tmp) / "heap_run.py"
        prog.write_text(MP_PROGRAM)
        # the memory budget's simulated world beside it (the program's folder
        # is on its path); its own measured run is this program's counterpart
        for h in HARNESS:
            if h != "heap_run":
                mpy_cross(ROOT / "host_tools" / "bench" / (h + ".py"), Path(tmp) / (h + ".mpy"))
        flash = Path(tmp) / "flash"
        flash.mkdir()
        r = subprocess.run([str(micropython or BIN / "micropython"), "-X", "heapsize=%d" % heap_bytes,
                            str(prog), str(flash)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        return None, (r.stdout + r.stderr).strip().splitlines()[-1:]
    res = json.loads(lines[-1])
    res["mem_info"] = " ".join(ln.strip() for ln in r.stdout.splitlines()
                               if ln.startswith("GC:"))
    return res, None


def section_boards():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for board, arch in BOARDS.items():
            s = compiled_sizes(board, arch, tmp)
            total = s["entry"] + s["core"] + s["board"]
            rows.append(("firmware on flash, %s (%s)" % (board, arch), "%d" % total, "bytes",
                         "lib/pumpmon %d + board layer and drivers %d + main.py/boot.py (source) %d"
                         % (s["core"], s["board"], s["entry"])))
    half = PICO_FREE_HEAP // 2
    with tempfile.TemporaryDirectory() as mpy:
        compile_tree("rpi_pico", "armv6m", mpy)
        for src in (mpy, None):
            rows_full, res = _heap_rows(PICO_FREE_HEAP, "the Pico's free heap", src, half)
            rows += rows_full
            if res is None:
                continue
            # half the Pico's free heap for the monitor: the harness (fake
            # machine, simulated pump) and the unix heap's own tables are not
            # on a Pico, so they are added on top of the half
            net = -(-(half + res["start_alloc"]) * PICO_FREE_HEAP // res["heap"])
            rows += _heap_rows(net, "half + the harness's %d" % res["start_alloc"], src, half)[0]
        rows += _heap_rows(half, "half, harness inside", mpy, half)[0][-1:]
    return ("Boards: compiled size per board; peak heap of the full monitor (a Pico leaves "
            "%d B free: micropython issue #12557)" % PICO_FREE_HEAP), rows


def _heap_rows(heap, label, mpy_dir, half):
    res, err = heap_run(heap, mpy_dir)
    what = "from %s, -X heapsize=%d (%s)" % (".py" if mpy_dir is None else ".mpy", heap, label)
    if res is None:
        note = " ".join(err)
        if mpy_dir is None:
            note += " (compiling .py at import needs more: deploy .mpy)"
        return [(what + ": runs", "NO", "", note)], None
    ok = res["alarm_sounded"] and res["quiet_before"]
    use = max(res["peak_steady"], res["peak_alarm"]) - res["start_alloc"]
    return [
        (what + ": after start-up", "%d" % (res["setup_live"] - res["start_alloc"]),
         "bytes", "live after gc.collect(), above the harness's %d" % res["start_alloc"]),
        (what + ": peak, normal delivery", "%d" % (res["peak_steady"] - res["start_alloc"]),
         "bytes", "gc.mem_alloc() high-water over %d loop passes" % res["steady_passes"]),
        (what + ": peak, no_flow sounding", "%d" % (res["peak_alarm"] - res["start_alloc"]),
         "bytes", "over %d loop passes%s" % (res["alarm_passes"],
                                              "" if ok else "  ALARM MISSING")),
        (what + ": runs, peak <= half the Pico's free heap (%d)" % half,
         "yes" if use <= half and ok else "NO", "", "mem_info() at the end: " + res["mem_info"]),
    ], res


def main():
    title, rows = section_boards()
    print(title)
    for r in rows:
        print("  %s  %s %s  %s" % r)
    return 0




MP_PROGRAM = r'''
# The measured run on the MicroPython unix port: a simulated RP2040 and pump
# (heap_world.py, the memory budget's world, with the Pico's keys and level
# calibration: boards/rpi_pico/pins.py BUTTON, REFILL, LEVEL_CAL).
import gc
import sys

import micropython

import heap_world as W


def _run(runner, board, passes, peak):
    step = runner.run
    alloc = gc.mem_alloc
    i = 0
    while i < passes:
        step(1)
        a = alloc()
        if a > peak:
            peak = a
        i += 1
    return peak


def mp_main(flash):
    W.install()                            # its clock wraps the ticks in the run
    W.World.button_pin, W.World.refill_pin = 14, 13
    W.World.adc_zero, W.World.adc_5ml = 5461, 10923    # 18 mL: 44783 counts
    gc.collect()
    base = gc.mem_alloc()
    import board
    from pumpmon.config import Config
    from pumpmon.runner import Runner
    b = board.Board()
    cfg = Config({"rate_ul_h": 30.0})
    try:
        r = Runner(b, cfg, flash=flash)
    except TypeError:                      # a Runner without the flash log
        r = Runner(b, cfg)
    if hasattr(r, "note_config"):
        r.note_config(cfg, None)
    gc.collect()
    setup_live = gc.mem_alloc()
    steady = 100 * 60 * 20                 # 20 min of 10 ms loop passes
    peak = _run(r, b, steady, setup_live)
    peak_steady = peak
    quiet = r.monitor.manager.shown == 0 and b.buzzer.pwm.changes == 0
    W.World.flow_raw = 0                   # the pump stops
    alarm = 100 * 60 * 15                  # no_flow within ~10 min, then sounding
    peak_alarm = _run(r, b, alarm, setup_live)
    sounded = b.buzzer.pwm.changes > 0 and r.monitor.manager.shown != 0
    gc.collect()
    micropython.mem_info()                 # the host keeps its "GC:" line
    print('{"heap": %d, "start_alloc": %d, "setup_live": %d, "peak_steady": %d, '
          '"peak_alarm": %d, "steady_passes": %d, "alarm_passes": %d, '
          '"quiet_before": %s, "alarm_sounded": %s}' % (
              gc.mem_alloc() + gc.mem_free(), base, setup_live, peak_steady, peak_alarm,
              steady, alarm, "true" if quiet else "false",
              "true" if sounded else "false"))

mp_main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/pumpmon_bench_flash")
'''


if __name__ == "__main__":
    sys.exit(main())
