"""`make bench` section: the display's share of the sensors' I2C bus
(docs/display.md). The firmware's Runner with the display driver runs on the
MicroPython unix port (display_mp.py) through start-up, monitoring, an alarm,
its paused countdown and its acknowledgement; every transaction's bytes are
counted, and each loop pass's bus time at 100 kHz is taken."""
import json
import subprocess

from host_tools.paths import BOARDS, HOST_TOOLS, micropython, micropython_env

BUDGET_US = 5000        # a loop pass may hold the bus this long (issue 23)


def measure():
    r = subprocess.run([micropython(), "-X", "heapsize=4M",
                        str(HOST_TOOLS / "bench" / "display_mp.py"), str(BOARDS)],
                       env=micropython_env(), capture_output=True, text=True, timeout=600)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        raise RuntimeError("display bench failed: %s" % (r.stdout + r.stderr)[-500:])
    return json.loads(lines[-1])


def section_display():
    m = measure()
    rows = [
        ("worst bus time of one loop pass", "%.2f" % (m["worst_us"] / 1000.0), "ms",
         "budget %.0f ms (100 kHz)%s" % (BUDGET_US / 1000.0,
                                          "" if m["worst_us"] <= BUDGET_US else "  OVER")),
        ("loop passes that used the bus", "%d / %d" % (m["busy"], m["passes"]), "",
         "one 32-byte piece each, only what changed"),
        ("bus time in all, 7.5 min of board time", "%.0f" % (m["total_us"] / 1000.0), "ms",
         "%.2f %% of the bus" % (m["total_us"] / 10.0 / max(1, m["passes"] * 10))),
        ("whole frame once, at boot (driver init)", "%.0f" % (m["init_us"] / 1000.0), "ms",
         "before the monitor runs"),
    ]
    return "Display: its share of the sensors' I2C bus", rows
