# The memory budget (host_tools/bench/memory.py, docs/boards.md): the full
# monitor of an ESP32 with every feature on, from .mpy, on the 32-bit unix
# build with the Pico's heap. Fails above LIMIT % of the Pico's free heap and
# names the biggest consumers; a shorter fragmentation run than `make bench`'s
# 30 days (6 simulated hours: a morning stop, log pulls, the broker dropping
# hourly) keeps a largest free block above the floor.
import os

import pytest

from host_tools.bench import memory as M



# Two deployments of the same firmware, both what `pumpmon flash` does
# (docs/boards.md, "Memory" and "ROMFS"):
# - "romfs": on a board with a ROM partition (vfs.rom_ioctl) large enough,
#   the compiled modules go into it as one ROMFS image and run from there in
#   place (host_tools/flashing/romfs.py; the run mounts that very image):
#   ~103,300 B, 49.2 % of the Pico's free heap on the 32-bit build (51.6 %
#   on the QEMU board, its image in the board's ROM partition, measured
#   before the link's and the log's savings), within the
#   limit and the 50 % goal; ~51 KB largest block after 6 h.
# - "mpy": a board without one (the stock Pico and ESP32 firmware) keeps the
#   .mpy on littlefs, their bytecode loaded into the heap at import (and a
#   board whose image is damaged runs from those copies): ~176,900 B, 84.3 %,
#   over the limit, and the 6-h fragmentation run ends under its floor. It
#   stays a strict expected failure, not a finding in prose: it is still how
#   those boards run (pumpmon flash warns), and the day it passes the marker
#   must go (docs/known-limitations.md: the memory budget).
OVER_BUDGET = pytest.mark.xfail(strict=True, reason="issue 24: from .mpy on littlefs (a board "
                                "without a ROM partition) the full monitor peaks at 84 % of a "
                                "Pico's heap (docs/known-limitations.md)")
DEPLOYMENTS = [pytest.param(False, id="mpy", marks=OVER_BUDGET),
               pytest.param(True, id="romfs")]


def _within_limit(res):
    assert "error" not in res, res["error"]
    # the run did what a board does: quiet, then no_flow sounding, the link
    # up, the display drawn
    assert res["quiet_before"] and res["alarm_sounded"] and res["link_up"], res
    assert res["display"], "the run has no display: not the full monitor"
    assert res["pulled"] > 0 and res["published"] > 0, res
    assert res["peak"] <= M.PICO_FREE_HEAP * M.LIMIT // 100, (
        "the full monitor peaks at %d B, %.1f %% of the Pico's %d B free heap (limit %d %%, "
        "goal %d %%); biggest consumers: %s" % (res["peak"], res["pct"], M.PICO_FREE_HEAP,
                                                M.LIMIT, M.GOAL, "; ".join(M.consumers(res))))


@pytest.mark.mcu
@pytest.mark.skipif(os.environ.get("PUMPMON_MCU", "fast") == "fast",
                    reason="make test-mcu: 5 min of QEMU; make test measures the same image on "
                    "the 32-bit build (the two agree within 0.3 %)")
@pytest.mark.req("R-070")
def test_full_monitor_peak_heap_from_the_rom_partition_of_the_mcu_board():
    # the QEMU Cortex-M3 with its ROM partition (make mcu), the image pumpmon
    # flash writes there: about 5 min of a core
    from host_tools.mcu import qemu
    assert qemu.available() is None, qemu.available()
    _within_limit(M.run_mcu("peak", rom=True))


@pytest.mark.parametrize("rom", DEPLOYMENTS)
@pytest.mark.req("R-070")
def test_full_monitor_peak_heap_within_the_limit(rom):
    _within_limit(M.run_mp32("peak", rom=rom))


@pytest.mark.parametrize("rom", DEPLOYMENTS)
@pytest.mark.req("R-070")
def test_fragmentation_short_run_keeps_a_large_free_block(rom):
    res = M.run_mp32("frag", hours=6, rom=rom)
    assert "error" not in res, res["error"]
    assert res["hours"] == 6 and res["pulls"] >= 1 and res["drops"] >= 5, res
    assert res["internal"] == 0, res
    # the link connects once, then once after each hourly drop: more is a
    # reconnect storm (the harness's broker once never sent PUBACK and the
    # link gave up on each connection after its QoS 1 retries: 156 connects)
    assert res["connects"] == res["drops"] + 1, (
        "%d connects for %d broker drops in 6 h (last link error: %r)"
        % (res["connects"], res["drops"], res["link_error"]))
    assert res["largest_free"] >= M.FRAG_FLOOR, (
        "largest free block %d B after 6 h, floor %d B; biggest consumers: %s"
        % (res["largest_free"], M.FRAG_FLOOR, "; ".join(M.consumers(res))))


@pytest.mark.req("R-070")
def test_consumers_name_the_biggest_first():
    res = M.parse("IMPORT pumpmon.engine 9000\nIMPORT pumpmon.clock 200\n"
                  "OBJECT Runner 5000\n" + '{"heap": 1, "base": 0, "setup_live": 14200, '
                  '"peak_steady": 15000, "peak_alarm": 14000}\n')
    assert M.consumers(res, 3) == ["import pumpmon.engine 9000", "object Runner 5000",
                                   "running (peak above the set-up) 800"]


@pytest.mark.req("R-070")
def test_import_order_puts_dependencies_first():
    order = M.import_order()
    assert order.index("pumpmon.alarms") < order.index("pumpmon.engine") < \
        order.index("pumpmon.runner")
    assert "board" in order and "carerlink.link" in order
