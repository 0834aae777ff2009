# The detection requirements of issue 2 as data: each situation builds a
# generated scenario (fixed seed), names the alarm that must come, when the
# truth changed (onset) and the ceiling on the latency. The tests assert the
# ceilings; `make bench` prints the measured latencies. MicroPython-compatible.
from host_tools.sim.sensors import Scenario

H = 3600
MIN = 60

# name, kind, cause, onset_s, ceiling_s, scenario kwargs
# (kind None: no high-priority alarm may be raised at all)
SITUATIONS = [
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
    ("over-delivery 2x, 10 uL/h, offset -0.5", "malfunction", "over_delivery", H, 15 * MIN,
     dict(rate_ul_h=10.0, duration_s=2 * H, factor=[(H, 2.0)], offset_fixed=-0.5)),
    ("over-delivery 2x, 50 uL/h pulsatile 4.9 min", "malfunction", "over_delivery", H,
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

# must raise nothing of high priority (issue 2: no false alarms)
QUIET = [
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
]

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


def soak_scenario(kwargs, seed, days=SOAK_DAYS):
    kw = dict(capacity_ml=40.0, level_ml=38.0, auto_refill_ml=4.0,
              level_every_s=10, duration_s=days * 86400)
    kw.update(kwargs)
    return Scenario(seed=seed, **kw)


def build(kwargs, seed):
    return Scenario(seed=seed, **kwargs)


def onset_of(onset, sc):
    """Truth time the latency counts from (after the scenario has run)."""
    if isinstance(onset, str):
        if onset == "dry":
            return sc.last_drop_s
        return sc.crossed.get(float(onset.split(":")[1]))
    return onset
