# `make bench`'s display section, on the MicroPython unix port (MicroPython
# code: run by host_tools/bench/display.py): the firmware's Runner with the
# display driver (boards/drivers/oled.py over the vendored ssd1306) on a bus
# that counts every transaction's bytes, through start-up, monitoring, a
# stop (no_flow), a short press (the paused countdown) and a long press; the
# bus time of each loop pass at 100 kHz (nine clocks a byte with the address
# byte, plus start and stop), printed as one JSON line.
import json
import sys

sys.path.insert(0, sys.argv[1] + "/drivers")
import oled

from host_tools.sim.memboard import MemBoard
from pumpmon.config import Config
from pumpmon.runner import Runner

FREQ = 100000


class Bus:
    def __init__(self):
        self.us = 0

    def writeto(self, addr, buf, stop=True):
        self.us += oled.bus_us(len(buf) + 1, FREQ)
        return len(buf)

    def writevto(self, addr, vec, stop=True):
        n = 0
        for v in vec:
            n += len(v)
        self.us += oled.bus_us(n + 1, FREQ)
        return n


bus = Bus()
b = MemBoard()
b.display = oled.Oled(bus, FREQ)
init_us = bus.us
r = Runner(b, Config({"rate_ul_h": 30.0, "reservoir_capacity_ml": 20, "flow_window_s": 120}))
worst = 0
busy = 0
passes = 0
total = 0


def go(ms):
    global worst, busy, passes, total
    n = ms // 10
    while n > 0:
        bus.us = 0
        r.step()
        if bus.us:
            busy += 1
            total += bus.us
            if bus.us > worst:
                worst = bus.us
        passes += 1
        b.sleep_ms(10)
        n -= 1


go(200000)
b.flow = 0
go(200000)
b.btn = 1
go(100)
b.btn = 0
go(30000)
b.btn = 1
go(3000)
b.btn = 0
go(20000)
print(json.dumps({"worst_us": worst, "passes": passes, "busy": busy, "total_us": total,
                  "init_us": init_us, "driver_worst_us": b.display.worst_us,
                  "raised": r.monitor.manager.shown != 0}))
