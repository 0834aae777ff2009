# The one scenario catalogue (data): every generated situation the project
# judges the monitor on, with the alarms it must give. Used by the firmware
# tests (tests/firmware/test_detection.py, test_soak.py: on CPython and the
# unix port), the benchmark (`make bench`: latency and false-alarm margins)
# and the corpus generator (host_tools/sim/corpus.py: `make corpus`, traces/).
# The scenarios are built by the sensor model, host_tools/sim/sensors.py.
# Every expectation is checked by one checker,
# host_tools/formats/expectations.py (check_events). MicroPython-compatible.
from host_tools.sim import scenarios22
from host_tools.sim.sensors import Scenario

H = 3600
MIN = 60

# ---- detection: a fault, the alarms that answer it, the latency ceiling -------
# (name, accepted, onset_s, ceiling_s, scenario kwargs, config overrides, seeds)
# accepted: "alarm/cause" or "alarm" (any cause) names, any one of them will do.
# onset: when the truth changed (s), or "dry" (the last drop), or "cross:V"
# (the true volume crosses V mL); ceiling: s after onset, or "cross:V".
# No high-priority alarm may come before the onset ("dry": before 0.25 mL left)
# but the reservoir's own (low_reservoir judges the level, true from the start).
DETECTION = []

# issue 2's requirements: (name, alarm, cause, onset, ceiling, kwargs), seeds 1-3
_ISSUE2 = [
    ("stop, 10 uL/h continuous", "no_flow", "low_flow", H, 15 * MIN,
     dict(rate_ul_h=10.0, duration_s=2 * H, factor=[(H, 0.0)])),
    ("stop, 30 uL/h pulsatile 5 min/10 s", "no_flow", "low_flow", H, 15 * MIN,
     dict(rate_ul_h=30.0, duration_s=2 * H, factor=[(H, 0.0)], pulse_period_s=300,
          pulse_width_s=10)),
    ("stop, 200 uL/h continuous", "no_flow", "low_flow", H, 15 * MIN,
     dict(rate_ul_h=200.0, duration_s=2 * H, factor=[(H, 0.0)])),
    ("stop, 200 uL/h pulsatile 5 min/30 s", "no_flow", "low_flow", H + 17, 15 * MIN,
     dict(rate_ul_h=200.0, duration_s=2 * H, factor=[(H + 17, 0.0)], pulse_period_s=300,
          pulse_width_s=30)),
    ("stop, 4 uL/h, offset +0.5", "no_flow", "low_flow", H, 60 * MIN,
     dict(rate_ul_h=4.0, duration_s=3 * H, factor=[(H, 0.0)], offset_fixed=0.5)),
    ("stop, 7 uL/h pulsatile", "no_flow", "low_flow", H, 60 * MIN,
     dict(rate_ul_h=7.0, duration_s=3 * H, factor=[(H, 0.0)], pulse_period_s=300)),
    ("fall to 10 %, 10 uL/h, offset +0.5", "no_flow", "low_flow", H, 30 * MIN,
     dict(rate_ul_h=10.0, duration_s=2 * H, factor=[(H, 0.1)], offset_fixed=0.5)),
    ("fall to 10 %, 100 uL/h pulsatile", "no_flow", "low_flow", H, 30 * MIN,
     dict(rate_ul_h=100.0, duration_s=2 * H, factor=[(H, 0.1)], pulse_period_s=240)),
    ("flow sensor silent", "malfunction", "flow_sensor", H, 30,
     dict(rate_ul_h=30.0, duration_s=H + 300, flow_fault=("silent", H))),
    ("flow sensor out of range", "malfunction", "flow_sensor", H, 30,
     dict(rate_ul_h=30.0, duration_s=H + 300, flow_fault=("range", H))),
    ("flow sensor air in line", "malfunction", "flow_sensor", H, 30,
     dict(rate_ul_h=30.0, duration_s=H + 300, flow_fault=("air", H))),
    ("flow sensor stuck", "malfunction", "flow_sensor", H, 10 * MIN,
     dict(rate_ul_h=30.0, duration_s=2 * H, flow_fault=("stuck", H))),
    ("over-delivery 2x, 10 uL/h, offset -0.5", "over_delivery", "over_delivery", H, 15 * MIN,
     dict(rate_ul_h=10.0, duration_s=2 * H, factor=[(H, 2.0)], offset_fixed=-0.5)),
    ("over-delivery 2x, 50 uL/h pulsatile 4.9 min", "over_delivery", "over_delivery", H,
     15 * MIN,
     dict(rate_ul_h=50.0, duration_s=2 * H, factor=[(H, 2.0)], pulse_period_s=294,
          pulse_width_s=10)),
    ("leak 0.5 mL/h", "malfunction", "level_flow_mismatch", 2 * H, 2 * H,
     dict(rate_ul_h=30.0, duration_s=5 * H, leak_ml_h=0.5, leak_from_s=2 * H)),
    ("leak 0.5 mL/h, 200 uL/h pulsatile", "malfunction", "level_flow_mismatch", 2 * H,
     2 * H,
     dict(rate_ul_h=200.0, duration_s=5 * H, leak_ml_h=0.5, leak_from_s=2 * H,
          pulse_period_s=300, level_every_s=10)),
    ("level jumps down 3 mL", "malfunction", "level_sensor", H, 5 * MIN,
     dict(rate_ul_h=30.0, duration_s=H + 900, level_jump=(H, -3.0), level_every_s=10)),
    ("level jumps up 3 mL", "malfunction", "level_sensor", H, 5 * MIN,
     dict(rate_ul_h=30.0, duration_s=H + 900, level_jump=(H, 3.0), level_every_s=10)),
    ("volume crosses 4.0 mL", "low_reservoir", "volume", "cross:4.0", "cross:3.8",
     dict(rate_ul_h=150.0, duration_s=4 * H, level_ml=4.3, watch_ml=(4.0, 3.8))),
    ("reservoir runs dry, 200 uL/h", "no_flow", None, "dry", 15 * MIN,
     dict(rate_ul_h=200.0, duration_s=7 * H, level_ml=1.0, watch_ml=(0.25,))),
    ("reservoir runs dry, 30 uL/h pulsatile", "no_flow", None, "dry", 15 * MIN,
     dict(rate_ul_h=30.0, duration_s=16 * H, level_ml=0.4, watch_ml=(0.25,),
          pulse_period_s=300)),
]

# issue 11's faults: (name, accepted, onset, ceiling, kwargs, config), seeds 1-2
STOP = ("no_flow/low_flow",)
SPARSE = ("malfunction/flow_sensor",)
UNDER = ("under_delivery/partial", "no_flow/low_flow", "no_flow/under_delivery")
OVER = ("over_delivery/over_delivery",)
_ISSUE11 = [
    ("stop, then every 2nd flow reading lost", SPARSE, 6 * H, 2 * MIN,
     dict(rate_ul_h=30.0, duration_s=6 * H + 10 * MIN, factor=[(6 * H, 0.0)],
          flow_fault=("alternate", 6 * H)), {}),
    ("stop, then 2 of 3 flow readings valid", SPARSE, 6 * H, 2 * MIN,
     dict(rate_ul_h=30.0, duration_s=6 * H + 10 * MIN, factor=[(6 * H, 0.0)],
          flow_fault=("two_in_three", 6 * H)), {}),
    ("air flagged on every 2nd reading", SPARSE, 2 * H, 2 * MIN,
     dict(rate_ul_h=10.0, duration_s=2 * H + 10 * MIN,
          flow_fault=("air_alternate", 2 * H)), {}),
    ("partial occlusion 40 %, 30 uL/h", UNDER, 2 * H, 2 * H,
     dict(rate_ul_h=30.0, duration_s=5 * H, factor=[(2 * H, 0.4)]), {}),
    ("partial occlusion 50 %, 100 uL/h pulsatile", UNDER, 2 * H, 2 * H,
     dict(rate_ul_h=100.0, duration_s=5 * H, factor=[(2 * H, 0.5)], pulse_period_s=150,
          pulse_width_s=20), {}),
    ("partial occlusion 30 %, 5 uL/h, offset +0.5", UNDER, 2 * H, 2 * H,
     dict(rate_ul_h=5.0, duration_s=5 * H, factor=[(2 * H, 0.3)], offset_fixed=0.5), {}),
    ("over-delivery 1.4x, 30 uL/h", OVER, 2 * H, 2 * H,
     dict(rate_ul_h=30.0, duration_s=5 * H, factor=[(2 * H, 1.4)]), {}),
    ("over-delivery 1.55x, 10 uL/h pulsatile, offset -0.5", OVER, 2 * H, 2 * H,
     dict(rate_ul_h=10.0, duration_s=5 * H, factor=[(2 * H, 1.55)], pulse_period_s=300,
          pulse_width_s=20, offset_fixed=-0.5), {}),
    ("intermittent kink: 5 min flowing, 5 min stopped", STOP, 2 * H, 7 * MIN,
     dict(rate_ul_h=30.0, duration_s=3 * H,
          factor=[(2 * H + k * 5 * MIN, (k + 1) % 2 * 1.0) for k in range(12)]), {}),
    ("refill mode left on", ("malfunction/refill_mode",), 2 * H, 31 * MIN,
     dict(rate_ul_h=30.0, duration_s=3 * H, refill_mode=(2 * H, 3 * H)), {}),
    ("stop at 1.5 uL/h (the floor), offset +0.5", STOP, 2 * H, 20 * MIN,
     dict(rate_ul_h=1.5, duration_s=3 * H, factor=[(2 * H, 0.0)], offset_fixed=0.5), {}),
    ("stop at 2 uL/h, offset +0.5", STOP, 2 * H, 20 * MIN,
     dict(rate_ul_h=2.0, duration_s=3 * H, factor=[(2 * H, 0.0)], offset_fixed=0.5), {}),
    ("stop at 5 uL/h, offset +0.5", STOP, 2 * H, 3 * MIN,
     dict(rate_ul_h=5.0, duration_s=3 * H, factor=[(2 * H, 0.0)], offset_fixed=0.5), {}),
    ("stop at 50 uL/h continuous", STOP, 2 * H, 60,
     dict(rate_ul_h=50.0, duration_s=2 * H + 10 * MIN, factor=[(2 * H, 0.0)]), {}),
    ("stop at 10 uL/h continuous, offset +0.5", STOP, 2 * H, 60,
     dict(rate_ul_h=10.0, duration_s=2 * H + 10 * MIN, factor=[(2 * H, 0.0)],
          offset_fixed=0.5), {}),
    ("stop, 30 uL/h, strokes every 1 min", STOP, 2 * H + 17, 3 * MIN,
     dict(rate_ul_h=30.0, duration_s=2 * H + 15 * MIN, factor=[(2 * H + 17, 0.0)],
          pulse_period_s=60, pulse_width_s=20), {}),
    ("stop, 10 uL/h, strokes every 2.5 min", STOP, 2 * H + 17, 150 + 2 * MIN,
     dict(rate_ul_h=10.0, duration_s=2 * H + 15 * MIN, factor=[(2 * H + 17, 0.0)],
          pulse_period_s=150, pulse_width_s=20), {}),
    ("stop, 2 uL/h, strokes every 5 min, offset +0.5", STOP, 2 * H + 17, 300 + 2 * MIN,
     dict(rate_ul_h=2.0, duration_s=2 * H + 20 * MIN, factor=[(2 * H + 17, 0.0)],
          pulse_period_s=300, pulse_width_s=20, offset_fixed=0.5), {}),
    ("stop present at power-on, 30 uL/h", STOP, 0, 7 * MIN,
     dict(rate_ul_h=30.0, duration_s=15 * MIN, factor=[(0, 0.0)]), {}),
    ("stop present at power-on, pulsatile 5 min", STOP, 0, 7 * MIN,
     dict(rate_ul_h=30.0, duration_s=15 * MIN, factor=[(0, 0.0)], pulse_period_s=300,
          pulse_width_s=20), {}),
    # 0.5 mL at 100 uL/h: 5 h
    ("level reading stuck, 100 uL/h", ("malfunction/level_sensor",), 2 * H, 5 * H,
     dict(rate_ul_h=100.0, duration_s=7 * H + 10 * MIN, level_stuck_s=2 * H,
          level_every_s=10), {}),
]

# issue 22 (flex dosing, dumps): host_tools/sim/scenarios22.py
ISSUE22 = scenarios22.ISSUE22
FLEX = scenarios22.FLEX

for _n, _k, _c, _on, _ce, _kw in _ISSUE2:
    DETECTION.append((_n, (_k + "/" + _c if _c else _k,), _on, _ce, _kw, {}, (1, 2, 3)))
for _n, _acc, _on, _ce, _kw, _cfg in _ISSUE11:
    DETECTION.append((_n, _acc, _on, _ce, _kw, _cfg, (1, 2)))
for _n, _acc, _on, _ce, _kw in ISSUE22:
    DETECTION.append((_n, _acc, _on, _ce, _kw, {}, (1, 2)))

# ---- quiet: must raise no high-priority alarm (issue 2: no false alarms) ------
# (name, scenario kwargs, seed)
QUIET = [(_n, _kw, 1) for _n, _kw in [
    ("schedule 30 -> 55 -> 30 uL/h",
     dict(schedule=[(0, 30.0), (8 * H, 55.0), (20 * H, 30.0)], start_s=7 * H,
          duration_s=14 * H)),
    ("schedule steps, pulsatile",
     dict(schedule=[(0, 30.0), (8 * H, 55.0), (20 * H, 30.0)], start_s=7 * H,
          duration_s=14 * H, pulse_period_s=300, pulse_width_s=20)),
    ("refill in refill mode",
     dict(rate_ul_h=100.0, duration_s=3 * H, level_ml=3.5, refill_s=2 * H)),
    ("single level glitch",
     dict(rate_ul_h=30.0, duration_s=2 * H, level_glitch_s=H)),
]] + [(_n, _kw, 3) for _n, _kw in [
    ("2 uL/h continuous, offset -0.5", dict(rate_ul_h=2.0, duration_s=12 * H,
                                            offset_fixed=-0.5)),
    ("2 uL/h pulsatile 5 min, offset +0.5", dict(rate_ul_h=2.0, duration_s=12 * H,
                                                 offset_fixed=0.5, pulse_period_s=300,
                                                 pulse_width_s=20)),
    ("200 uL/h pulsatile 4.9 min, schedule steps",
     dict(schedule=[(0, 200.0), (8 * H, 100.0), (12 * H, 200.0)], start_s=6 * H,
          duration_s=12 * H, pulse_period_s=294, pulse_width_s=10)),
    ("refill in refill mode, 30 uL/h pulsatile 2.5 min",
     dict(rate_ul_h=30.0, duration_s=6 * H, level_ml=2.5, refill_s=3 * H,
          pulse_period_s=150, pulse_width_s=20)),
]]

QUIET += [(_n, _kw, 3) for _n, _kw in scenarios22.QUIET]

# 30 days of normal delivery (the soak)
SOAK_DAYS = 30
SOAK = [
    ("2 uL/h continuous", dict(rate_ul_h=2.0)),
    ("2 uL/h pulsatile 4.9 min/10 s", dict(rate_ul_h=2.0, pulse_period_s=294,
                                           pulse_width_s=10)),
    ("10 uL/h pulsatile 5 min/10 s", dict(rate_ul_h=10.0, pulse_period_s=300,
                                          pulse_width_s=10)),
    ("50 uL/h continuous", dict(rate_ul_h=50.0)),
    ("50 uL/h pulsatile 3.4 min/30 s", dict(rate_ul_h=50.0, pulse_period_s=204,
                                            pulse_width_s=30)),
    ("200 uL/h continuous", dict(rate_ul_h=200.0)),
    ("200 uL/h pulsatile 5 min/10 s", dict(rate_ul_h=200.0, pulse_period_s=300,
                                           pulse_width_s=10)),
]
SOAK += scenarios22.SOAK




# ---- the corpus (traces/, `make corpus`; host_tools/sim/corpus.py writes it) ---
# name, text, scenario kwargs, and:
#   expect: [(alarm, cause|None, from_s, to_s)] each must be raised in the window;
#   only: no other high-priority alarm may be raised (medium ones may);
#   cut: [(from_s, to_s)] rows left out (a recording gap: sensor silence);
#   flow_silent: [(from_s, to_s)] the flow sensor gives no reading;
#   meta: extra trace metadata (settings the trace runs with).
def _c(name, text, kwargs, expect=(), only=True, cut=(), flow_silent=(), meta=None):
    return (name, text, kwargs, list(expect), only, list(cut), list(flow_silent),
            dict(meta or {}))


CORPUS = [
    _c("normal", "2 h of normal delivery, 30 uL/h pulsatile: no alarm",
         dict(rate_ul_h=30.0, duration_s=2 * H, pulse_period_s=300, pulse_width_s=20,
              capacity_ml=40.0, level_ml=38.0, auto_refill_ml=4.0)),
    _c("occlusion", "total occlusion at 1 h (10 uL/h): no_flow within 15 min",
         dict(rate_ul_h=10.0, duration_s=2 * H, factor=[(H, 0.0)]),
         expect=[("no_flow", "low_flow", H, H + 15 * MIN)]),
    _c("partial_occlusion", "delivery falls to 10 % at 1 h (100 uL/h pulsatile): "
         "no_flow within 30 min",
         dict(rate_ul_h=100.0, duration_s=2 * H, factor=[(H, 0.1)], pulse_period_s=240),
         expect=[("no_flow", "low_flow", H, H + 30 * MIN)]),
    _c("gradual_decline", "delivery declines from 100 % to 0 over an hour from 1 h "
         "(100 uL/h): no_flow before it has fully stopped",
         dict(rate_ul_h=100.0, duration_s=2 * H + 10 * MIN,
              factor=[(H + k * 5 * MIN, 1.0 - k / 12.0) for k in range(13)]),
         expect=[("no_flow", "low_flow", H + 30 * MIN, 2 * H)]),
    _c("pump_stall", "pulsatile pump (30 uL/h, a stroke every 5 min) stops stroking at "
         "1 h: no_flow within 15 min",
         dict(rate_ul_h=30.0, duration_s=H + 30 * MIN, factor=[(H, 0.0)], pulse_period_s=300,
              pulse_width_s=10),
         expect=[("no_flow", "low_flow", H, H + 15 * MIN)]),
    _c("over_delivery", "pump delivers 2x from 1 h (10 uL/h): over_delivery/over_delivery "
         "within 15 min",
         dict(rate_ul_h=10.0, duration_s=2 * H, factor=[(H, 2.0)], offset_fixed=-0.5),
         expect=[("over_delivery", "over_delivery", H, H + 15 * MIN)]),
    _c("leak", "leak of 0.5 mL/h from 1 h: malfunction/level_flow_mismatch within 2 h",
         dict(rate_ul_h=30.0, duration_s=3 * H + 30 * MIN, leak_ml_h=0.5, leak_from_s=H),
         expect=[("malfunction", "level_flow_mismatch", H, 3 * H)]),
    _c("flow_sensor_silent", "flow sensor stops answering at 1 h: malfunction/flow_sensor "
         "within 30 s",
         dict(rate_ul_h=30.0, duration_s=H + 5 * MIN, flow_fault=("silent", H)),
         expect=[("malfunction", "flow_sensor", H, H + 30)]),
    _c("flow_sensor_stuck", "flow reading frozen from 1 h: malfunction/flow_sensor "
         "within 10 min",
         dict(rate_ul_h=30.0, duration_s=H + 20 * MIN, flow_fault=("stuck", H)),
         expect=[("malfunction", "flow_sensor", H, H + 10 * MIN)]),
    _c("air_in_line", "air-in-line flag from 1 h: malfunction/flow_sensor within 30 s",
         dict(rate_ul_h=30.0, duration_s=H + 5 * MIN, flow_fault=("air", H)),
         expect=[("malfunction", "flow_sensor", H, H + 30)]),
    _c("level_sensor_jump", "level reading jumps 3 mL down and stays: "
         "malfunction/level_sensor within 5 min",
         dict(rate_ul_h=30.0, duration_s=H + 15 * MIN, level_jump=(H, -3.0),
              level_every_s=10),
         expect=[("malfunction", "level_sensor", H, H + 5 * MIN)]),
    _c("recording_gap", "3 min of rows missing (a gap in the recording) at 1 h: sensor "
         "silence, malfunction/flow_sensor and level_sensor",
         dict(rate_ul_h=30.0, duration_s=H + 10 * MIN), cut=[(H, H + 3 * MIN)],
         expect=[("malfunction", "flow_sensor", H, H + 30),
                 ("malfunction", "level_sensor", H, H + 90)]),
    _c("reservoir_empty", "reservoir runs dry (200 uL/h from 0.5 mL): low_reservoir, "
         "then no_flow",
         dict(rate_ul_h=200.0, duration_s=3 * H, level_ml=0.5, level_every_s=10),
         expect=[("low_reservoir", None, 0, 5 * MIN), ("low_reservoir", "refill_today", 0, 5 * MIN),
                 ("no_flow", None, 2 * H, 3 * H)]),
    _c("refill", "low reservoir (3.5 mL, 1.5 days left), then a refill in refill mode: "
         "low_reservoir cleared, no high-priority alarm",
         dict(rate_ul_h=100.0, duration_s=3 * H, level_ml=3.5, refill_s=2 * H),
         expect=[("low_reservoir", None, 0, 2 * H)]),
    _c("schedule", "daily program, night 30 -> day 55 -> night 30 uL/h (steps at 08:00 "
         "and 09:30), start 07:00: no alarm",
         dict(schedule=[(0, 30.0), (8 * H, 55.0), (9 * H + 30 * MIN, 30.0)], start_s=7 * H,
              duration_s=3 * H)),
    # issue 17 (docs/engine.md, Low reservoir): 2.5 days of a day program, 2.16 mL
    # a day, from 7 mL at 06:00; the patient acknowledges each alarm and each
    # hourly reminder a minute after it sounds; refilled at 15:00 on day 3
    _c("reservoir_rundown", "reservoir runs down over 2.5 days (night 60, day 120 uL/h, "
         "7 mL at 06:00), the patient acknowledging every hour: low_reservoir/days_to_empty "
         "at once, volume at 4 mL (~14:00 day 2), refill_today at 1 day left (~11:30 day 3), "
         "refill at 15:00 day 3 ends all",
         dict(schedule=[(0, 60.0), (8 * H, 120.0), (20 * H, 60.0)], start_s=6 * H,
              duration_s=60 * H, level_ml=7.0, level_every_s=10, refill_s=57 * H,
              button=[(70 + k * 3662, 3) for k in range(57 * H // 3662)]),
         expect=[("low_reservoir", "days_to_empty", 0, 5 * MIN),
                 ("low_reservoir", "volume", 31 * H, 33 * H),
                 ("low_reservoir", "refill_today", 52 * H, 55 * H)]),
    # issue 11: one trace per new alarm (short: the corpus stays small)
    _c("fast_stop", "total stop at 15 min (50 uL/h continuous): no_flow within 60 s "
         "(the sequential stop test)",
         dict(rate_ul_h=50.0, duration_s=17 * MIN, factor=[(15 * MIN, 0.0)]),
         expect=[("no_flow", "low_flow", 15 * MIN, 16 * MIN)]),
    _c("stop_at_power_on", "nothing flows from power-on (30 uL/h): no_flow within 7 min, "
         "not after a 10-min window",
         dict(rate_ul_h=30.0, duration_s=8 * MIN, factor=[(0, 0.0)]),
         expect=[("no_flow", "low_flow", 0, 7 * MIN)]),
    _c("flow_sensor_sparse", "stop at 15 min, then only every 2nd flow reading valid (a "
         "flaky cable): malfunction/flow_sensor (sparse) within 2 min",
         dict(rate_ul_h=30.0, duration_s=18 * MIN, factor=[(15 * MIN, 0.0)],
              flow_fault=("alternate", 15 * MIN)),
         expect=[("malfunction", "flow_sensor", 15 * MIN, 17 * MIN)], only=False),
    _c("partial_delivery", "delivery falls to 45 % at 30 min (100 uL/h, strokes every "
         "2.5 min): under_delivery/partial (medium) within 2 h, no_flow/under_delivery "
         "(high) when it persists (partial_escalate_min 30 here)",
         dict(rate_ul_h=100.0, duration_s=2 * H, factor=[(30 * MIN, 0.45)],
              pulse_period_s=150, pulse_width_s=20),
         meta={"partial_escalate_min": "30"},
         expect=[("under_delivery", "partial", 30 * MIN, 90 * MIN),
                 ("no_flow", "under_delivery", 90 * MIN, 2 * H)], only=False),
    _c("over_delivery_moderate", "pump delivers 1.4x from 30 min (30 uL/h): "
         "over_delivery/over_delivery (60-min mean) within 2 h",
         dict(rate_ul_h=30.0, duration_s=80 * MIN, factor=[(30 * MIN, 1.4)]),
         expect=[("over_delivery", "over_delivery", 30 * MIN, 80 * MIN)]),
    _c("refill_mode_left_on", "refill mode switched on at 10 min and left on: "
         "malfunction/refill_mode after 30 min",
         dict(rate_ul_h=30.0, duration_s=45 * MIN, refill_mode=(10 * MIN, 45 * MIN)),
         expect=[("malfunction", "refill_mode", 40 * MIN, 41 * MIN)]),
    _c("level_sensor_stuck", "level reading frozen from 30 min (200 uL/h): "
         "malfunction/level_sensor (stuck) before 0.25 mL more is delivered "
         "(level_stuck_ml 0.2 here)",
         dict(rate_ul_h=200.0, duration_s=2 * H, level_stuck_s=30 * MIN, level_every_s=10),
         meta={"level_stuck_ml": "0.2"},
         expect=[("malfunction", "level_sensor", 30 * MIN, 30 * MIN + 75 * MIN)]),
]
CORPUS.append(_c(*scenarios22.DUMP_CORPUS))
# the demo for `make run` (the virtual board): a story, at --speed 60 about 4 min
DEMO = _c(
    "demo", "1.5 h normal (150 uL/h); occlusion at 1:30, patient pauses at 1:45 (short "
    "press), carer acknowledges at 1:50 (long press); recovery at 2:00; flow sensor "
    "silent 2:30-2:33, acknowledged at 2:40; 7 days left ~3:10 (low reservoir); "
    "refill at 3:30",
    dict(rate_ul_h=150.0, duration_s=3 * H + 45 * MIN, level_ml=25.55, capacity_ml=40.0,
         factor=[(90 * MIN, 0.0), (2 * H, 1.0)], refill_s=3 * H + 30 * MIN,
         button=[(105 * MIN, 1), (110 * MIN, 3), (160 * MIN, 3)]),
    flow_silent=[(150 * MIN, 153 * MIN)],
    expect=[("no_flow", "low_flow", 90 * MIN, 105 * MIN),
            ("malfunction", "flow_sensor", 150 * MIN, 150 * MIN + 30),
            ("low_reservoir", "days_to_empty", 2 * H + 30 * MIN, 3 * H + 30 * MIN)])


def soak_scenario(kwargs, seed, days=SOAK_DAYS):
    kw = dict(capacity_ml=40.0, level_ml=38.0, auto_refill_ml=4.0,
              level_every_s=10, duration_s=days * 86400)
    kw.update(kwargs)
    return Scenario(seed=seed, **kw)


def build(kwargs, seed):
    return Scenario(seed=seed, **kwargs)


def find(entries, name):
    for e in entries:
        if e[0] == name:
            return e
    raise KeyError(name)


def onset_of(onset, sc):
    """Truth time the latency counts from (after the scenario has run)."""
    if isinstance(onset, str):
        if onset == "dry":
            return sc.last_drop_s
        return sc.crossed.get(float(onset.split(":")[1]))
    return onset


def expectation(entry, sc):
    """A detection entry as an expectation (the form check_events takes), once
    its scenario `sc` has run (the truth's times are known then): one of the
    accepted alarms raised by the deadline, no high-priority alarm before the
    onset but the reservoir's own. Also (onset, deadline) in s."""
    name, accepted, onset, ceiling = entry[:4]
    start = onset_of(onset, sc)
    assert start is not None, "%s: the truth never changed" % name
    quiet_until = start
    if onset == "dry":      # an alarm may come early, but not with > 0.25 mL left
        quiet_until = onset_of("cross:0.25", sc)
        assert quiet_until is not None, name
    deadline = onset_of(ceiling, sc) if isinstance(ceiling, str) else start + ceiling
    assert deadline is not None, "%s: the truth never reached %s" % (name, ceiling)
    anyof = []
    for a in accepted:
        alarm, _, cause = a.partition("/")
        anyof.append((alarm, cause or None, 0, deadline))
    # the reservoir alarms judge the level, true from the start: not early
    return {"raised": [anyof], "no_other_high": False, "quiet_until_s": quiet_until,
            "quiet_allows": [("low_reservoir", None)]}, (start, deadline)


def first_raised(events, accepted):
    """Seconds of the first alarm_raised (event dicts, as `pumpmon replay`
    writes them) that is one of the accepted names, or None."""
    for e in events:
        if e.get("event") == "alarm_raised":
            for a in accepted:
                alarm, _, cause = a.partition("/")
                if e.get("alarm") == alarm and (not cause or e.get("cause") == cause):
                    return e["t_ms"] // 1000
    return None
