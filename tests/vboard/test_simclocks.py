# The virtual board's calendar clocks (boards/sim/rom/simclocks.py), on the
# real unix port that runs the ROM: the DS3231 on I2C answers the shared
# driver (boards/drivers/ds3231.py) byte for byte as the datasheet says, keeps
# its time across every reset of the session (its coin cell), and the
# board's own RTC restarts at 2021-01-01 as a Pico's does, except after a
# soft reset. World time is driven by the test.
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
MICROPYTHON = Path(sys.executable).parent / "micropython"

SCRIPT = r"""
import sys
sys.path.insert(0, %(rom)r)
sys.path.insert(0, %(drivers)r)
import simclocks as S
W = [1000]
def world_ms():
    return W[0]
class M:
    pass
class T:
    pass
def boot(cause, ds=True):
    m = M()
    t = T()
    sys.modules["time"] = t            # what sync() reads, as bios.py installs it
    S.fit(m, t, world_ms, cause, %(sock)r, ds)
    return m, None
import ds3231 as D
# 1. the first power-up: OSF set, 2000-01-01, not set for the firmware
m, c = boot("power_on")
bus = m.I2C(0)
st = bytearray(1)
bus.readfrom_mem_into(0x68, 0x0F, st)
print("osf", hex(st[0]))
rtc = D.DS3231(bus)
print("wall", rtc.wall_time(), "sync", D.sync(rtc, m.RTC()))
print("rtc", m.RTC().datetime())
# 2. pumpmon flash sets the board's RTC, a soft reset keeps it, sync copies it
m.RTC().datetime((2026, 11, 29, 6, 23, 59, 58, 0))
W[0] += 500
m, c = boot("soft")
bus = m.I2C(0)
rtc = D.DS3231(bus)
print("sync", D.sync(rtc, m.RTC()))
regs = bytearray(19)
bus.readfrom_mem_into(0x68, 0, regs)
print("regs", " ".join("%%02x" %% b for b in regs))
# 3. time runs on the world clock: 2.5 s later the date rolls over
W[0] += 2500
bus.readfrom_mem_into(0x68, 0, regs)
print("rolled", " ".join("%%02x" %% b for b in regs[:7]))
# 4. a power cut of an hour: the board's RTC restarts at 2021, the DS3231 ran on
W[0] += 3600000
m, c = boot("power_on")
print("rtc", m.RTC().datetime())
rtc = D.DS3231(m.I2C(0))
print("sync", D.sync(rtc, m.RTC()), "rtc", m.RTC().datetime()[:7])
# 5. the pointer increments and wraps; OSF can only be cleared; temperature read only
bus = m.I2C(0)
bus.writeto(0x68, bytes([0x0F, 0x80, 0x00]))
print("tail", bus.readfrom_mem(0x68, 0x0F, 6).hex(), bus.readfrom(0x68, 2).hex())
# 6. a hard reset without a DS3231 on the bus: the board's RTC restarts and nothing answers
m, c = boot("hard", ds=False)
try:
    m.I2C(0).readfrom_mem(0x68, 0, 1)
except OSError as e:
    print("nodev", e.args[0])
rtc = D.DS3231(m.I2C(0))
print("sync", D.sync(rtc, m.RTC()), "wall", rtc.wall_time(), m.RTC().datetime()[0])
# 7. 12-hour mode and the century, written as a driver of another make would
m, c = boot("power_on")
bus = m.I2C(0)
bus.writeto_mem(0x68, 0, bytes([0x59, 0x59, 0x40 | 0x20 | 0x11, 5, 0x31, 0x12, 0x99]))
W[0] += 1000
print("h12", bus.readfrom_mem(0x68, 0, 7).hex())
"""


@pytest.mark.skipif(not MICROPYTHON.exists(), reason="no MicroPython unix port (make setup)")
@pytest.mark.req("R-044")
def test_ds3231_and_board_rtc_on_the_unix_port(tmp_path):
    script = SCRIPT % {"rom": str(ROOT / "boards/sim/rom"), "drivers": str(ROOT / "boards/drivers"),
                       "sock": str(tmp_path / "hw.sock")}
    r = subprocess.run([str(MICROPYTHON), "-c", script], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [
        "osf 0x88",                          # a new chip: the oscillator-stop flag
        "wall 0 sync none",
        "rtc (2021, 1, 1, 4, 0, 0, 0, 0)",   # a Friday
        "sync to_ds3231",
        # 23:59:58 Sunday 2026-11-29, BCD; alarms 0, control 1c, OSF cleared, 25 C
        "regs 58 59 23 07 29 11 26 00 00 00 00 00 00 00 1c 08 00 19 00",
        "rolled 00 00 00 01 30 11 26",       # midnight: Monday the 30th
        "rtc (2021, 1, 1, 4, 0, 0, 0, 0)",   # the power cut restarted the board's RTC
        "sync from_ds3231 rtc (2026, 11, 30, 0, 1, 0, 0)",   # an hour on, from the DS3231
        "tail 000019000000 0101",            # writing 1 to OSF never sets it
        "nodev 19",
        "sync none wall 0 2021",
        "h12 00005206018100",                # 12 AM, Saturday 2100-01-01: century bit
    ]
