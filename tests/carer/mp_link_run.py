# Run on the MicroPython unix port by tests/carer/test_link_broker.py: the
# real firmware (Runner, the carers' link, umqtt.simple) on a fake board
# whose clock advances 10 ms a pass (deterministic alarm timing) while the
# sockets are real. argv: a JSON object {"port", "keepalive", "phases":
# [[name, seconds]...], "flow_stop_s", and optional "user", "password",
# "tls", "pass_us", "flash" (a folder: the event log)}. Between phases it prints "PHASE name" and waits for a line on
# stdin (the test stops or starts the broker meanwhile). At the end it prints
# one JSON line: per phase the worst pass in us, the link's state, messages
# published; the alarm events with and without the link (CARER_LINK apart).
import json
import sys
import time

from fakeboard import FakeBoard

from carerlink import link as LK
from pumpmon import alarms as A
from pumpmon.config import Config
from pumpmon.runner import Runner

# "@FILE": the JSON in a file (the unix port dies on an argument over ~256
# characters: "FATAL: uncaught NLR", MicroPython 1.28)
_a = sys.argv[1]
if _a[0] == "@":
    with open(_a[1:]) as _f:
        _a = _f.read()
args = json.loads(_a)
PASS_US = args.get("pass_us", 1000)  # real time per 10 ms pass of board time
base = {"rate_ul_h": 30, "flow_window_s": 120, "board_id": "bed4"}
net = dict(base, mqtt_host="127.0.0.1", mqtt_port=args["port"],
           mqtt_keepalive_s=args["keepalive"])
for k in ("user", "password", "tls", "ca", "fingerprint"):
    if k in args:
        net["mqtt_" + k] = args[k]



def make(values, with_link, flash=None):
    b = FakeBoard(0)
    events = []

    def sink(code, cond, detail, r):
        if cond != A.CARER_LINK:
            events.append([code, cond, detail, r.up_s])

    cfg = Config(values)
    r = Runner(b, cfg, [sink], flash=flash)
    lk = None
    if with_link:
        lk = LK.CarerLink(r, cfg.net, cfg.board_id)
        r.attach_carer(lk)
    return b, r, lk, events


def run(b, r, seconds, stop_at, pass_us):
    worst = 0
    for _ in range(seconds * 100):
        if r.up_s >= stop_at:
            b.flow = 0
        t = time.ticks_us()
        r.step()
        d = time.ticks_diff(time.ticks_us(), t)
        if d > worst:
            worst = d
        b.sleep_ms(10)
        if pass_us:
            time.sleep_us(pass_us)    # real time for the broker to answer
    return worst


b, r, lk, ev = make(net, True, args.get("flash"))
out = {"phases": []}
for name, seconds in args["phases"]:
    print("PHASE", name)
    sys.stdin.readline()
    w = run(b, r, seconds, args["flow_stop_s"], PASS_US)
    out["phases"].append({"name": name, "worst_us": w, "state": LK.STATES[lk.state],
                          "published": lk.published, "error": lk.last_error,
                          "acked": lk.ch.acked, "tls_state": LK.STATES[lk.state],
                          "link_shown": bool(r.monitor.manager.shown & (1 << A.CARER_LINK)),
                          "internal": r.monitor.internal})
total = sum(p[1] for p in args["phases"])
b2, r2, _lk, ev2 = make(base, False)
run(b2, r2, total, args["flow_stop_s"], 0)
out["events"] = ev
out["events_without_link"] = ev2
print("RESULT", json.dumps(out))
