# Issue 11's faults as data: each case builds a generated scenario, names the
# alarms that answer it (any one of them, as "alarm/cause"), when the truth
# changed (onset, s) and the ceiling on the latency (s). Tests assert the
# ceilings on both runtimes; the bench's detection table measures the same
# classes over rates, stroke periods, offsets and seeds. MicroPython-compatible.
H = 3600
MIN = 60
STOP = ("no_flow/low_flow",)
SPARSE = ("malfunction/flow_sensor",)
UNDER = ("under_delivery/partial", "no_flow/low_flow", "no_flow/under_delivery")
OVER = ("malfunction/over_delivery",)

# name, accepted alarms, onset_s, ceiling_s, scenario kwargs, config overrides
CASES = [
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

# must raise no high-priority alarm
QUIET = [
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
]


def accepted(run, names):
    """First raise time among the accepted 'alarm/cause' names, or None."""
    best = None
    for name in names:
        kind, cause = name.split("/")
        t = run.first(kind, cause)
        if t is not None and (best is None or t < best):
            best = t
    return best
