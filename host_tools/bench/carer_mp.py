# MicroPython code (runs on the unix port for `make bench`, host_tools/bench/
# carer.py): the firmware's Runner with the carers' link on a board whose
# clock is the real one, for SECONDS; prints one JSON line: the worst and
# the 99th-percentile pass (us), the link's state and messages published.
# argv: a JSON object {"seconds", "host", "port", "keepalive", "net": bool}.
import json
import sys
import time

from pumpmon.config import Config
from pumpmon.runner import Runner


class Board:
    """Fixed readings, no outputs; time is the real clock."""
    flow_flags = 0

    def ticks_ms(self):
        return time.ticks_ms()

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    def read_flow(self):
        return 300

    def read_level(self):
        return 15000

    def button(self):
        return 0

    def refill(self):
        return 0

    def set_tone(self, hz):
        pass

    def set_led(self, c):
        pass

    def feed_watchdog(self):
        pass

    def reset_cause(self):
        return "power_on"


a = json.loads(sys.argv[1])
values = {"rate_ul_h": 30, "board_id": "bench"}
if a["net"]:
    values.update(mqtt_host=a["host"], mqtt_port=a["port"], mqtt_keepalive_s=a["keepalive"])
    if a.get("ca"):
        values.update(mqtt_tls=True, mqtt_ca=a["ca"])
cfg = Config(values)
b = Board()
r = Runner(b, cfg)
lk = None
if a["net"]:
    from carerlink.link import STATES, CarerLink
    lk = CarerLink(r, cfg.net, cfg.board_id)
    r.attach_carer(lk)
times = []
end = time.ticks_add(time.ticks_ms(), a["seconds"] * 1000)
while time.ticks_diff(end, time.ticks_ms()) > 0:
    t = time.ticks_us()
    r.step()
    times.append(time.ticks_diff(time.ticks_us(), t))
    time.sleep_ms(10)
times.sort()
print(json.dumps({"worst_us": times[-1], "p99_us": times[len(times) * 99 // 100],
                  "passes": len(times), "state": STATES[lk.state] if lk else "-",
                  "published": lk.published if lk else 0,
                  "acked": lk.ch.acked if lk else 0,
                  "error": lk.last_error if lk else ""}))
