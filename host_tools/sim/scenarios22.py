# Issue 22's entries of the scenario catalogue (host_tools/sim/scenarios.py
# takes them in: it stays the one catalogue): flex dosing (a basal rate with
# three 20-minute boluses a day) and dumps (the drug running through the line:
# an overdose, not a sensor fault). The first alarm of a dump must be
# over_delivery: tests/firmware/test_dump.py checks that over random dumps.
# MicroPython-compatible.
H = 3600
MIN = 60
STOP = ("no_flow/low_flow",)
UNDER = ("under_delivery/partial", "no_flow/low_flow", "no_flow/under_delivery")
OVER = ("over_delivery/over_delivery",)

# issue 22: flex dosing (a basal rate with three 20-minute boluses a day, as
# many intrathecal pumps are programmed) and dumps (the drug runs through the
# line: an overdose, not a sensor fault). (name, accepted, onset, ceiling, kwargs)
FLEX = [(0, 20.0), (8 * H, 200.0), (8 * H + 20 * MIN, 20.0), (13 * H, 200.0),
        (13 * H + 20 * MIN, 20.0), (19 * H, 200.0), (19 * H + 20 * MIN, 20.0)]
BOLUS = 13 * H - 6 * H          # the 13:00 bolus, in a run started at 06:00
ISSUE22 = [
    ("flex dosing: stop during a bolus", STOP, BOLUS + 10 * MIN, 60,
     dict(schedule=FLEX, start_s=6 * H, duration_s=BOLUS + 30 * MIN,
          factor=[(BOLUS + 10 * MIN, 0.0)])),
    ("flex dosing: a missed bolus (basal only)", STOP + UNDER, BOLUS, 3 * MIN,
     dict(schedule=FLEX, start_s=6 * H, duration_s=BOLUS + 30 * MIN,
          factor=[(BOLUS, 0.1), (BOLUS + 20 * MIN, 1.0)])),
    ("flex dosing, strokes every 3 min: stop during a bolus", STOP, BOLUS + 10 * MIN + 17,
     180 + 2 * MIN,
     dict(schedule=FLEX, start_s=6 * H, duration_s=BOLUS + 30 * MIN,
          factor=[(BOLUS + 10 * MIN + 17, 0.0)], pulse_period_s=180)),
    ("flex dosing, strokes every 3 min: stop 10 min after a bolus", STOP,
     BOLUS + 30 * MIN + 17, 375 + 2 * MIN,
     dict(schedule=FLEX, start_s=6 * H, duration_s=BOLUS + 50 * MIN,
          factor=[(BOLUS + 30 * MIN + 17, 0.0)], pulse_period_s=180)),
    ("dump 60 mL/h through the line, 30 uL/h", OVER, H, 60,
     dict(rate_ul_h=30.0, duration_s=H + 10 * MIN, dump=(H, 60000.0))),
    ("dump at full scale (50 mL/h), 10 uL/h strokes every 5 min", OVER, H, 60,
     dict(rate_ul_h=10.0, duration_s=H + 10 * MIN, dump=(H, 50000.0), pulse_period_s=300)),
    ("dump 60 mL/h for 15 min, 200 uL/h", OVER, H, 60,
     dict(rate_ul_h=200.0, duration_s=H + 30 * MIN, dump=(H, 60000.0, H + 15 * MIN),
          level_every_s=10)),
    ("dump with the flow sensor silent: the level decides", OVER, H, 2 * MIN,
     dict(rate_ul_h=30.0, duration_s=H + 10 * MIN, dump=(H, 60000.0),
          flow_fault=("silent", H))),
    ("over-delivery 10x, 30 uL/h", OVER, H, 2 * MIN,
     dict(rate_ul_h=30.0, duration_s=H + 10 * MIN, factor=[(H, 10.0)])),
    ("over-delivery 10x, 5 uL/h strokes every 2.5 min", OVER, H, 150 + 2 * MIN,
     dict(rate_ul_h=5.0, duration_s=H + 15 * MIN, factor=[(H, 10.0)], pulse_period_s=150)),
]

# quiet (no high-priority alarm): a day of flex dosing (no over_delivery as a
# bolus starts or ends), a bubble passing (the air flag for 20 s); seed 3
QUIET = [
    ("flex dosing, a day, continuous", dict(schedule=FLEX, start_s=6 * H, duration_s=26 * H,
                                            level_every_s=10)),
    ("flex dosing, a day, strokes every 3 min",
     dict(schedule=FLEX, start_s=6 * H, duration_s=26 * H, pulse_period_s=180,
          level_every_s=10)),
    ("a bubble: the air flag for 20 s", dict(rate_ul_h=10.0, duration_s=2 * H,
                                            flow_fault=("air", H, 20))),
]
# the soak: flex dosing for a month (the envelope overflowed in 2-3 days)
SOAK = [
    ("flex dosing 20 uL/h + 3 boluses of 200 uL/h, continuous", dict(schedule=FLEX)),
    ("flex dosing, strokes every 3 min", dict(schedule=FLEX, pulse_period_s=180)),
]
# the corpus (traces/dump.*): _c's arguments in scenarios.py
DUMP_CORPUS = (
    "dump", "60 mL/h runs through the line from 30 min for 15 min (30 uL/h programmed; the "
    "flow sensor saturates at 50 mL/h): over_delivery/over_delivery within 60 s, the "
    "only high-priority alarm (not flow_sensor, not level_sensor)",
    dict(rate_ul_h=30.0, duration_s=60 * MIN, dump=(30 * MIN, 60000.0, 45 * MIN),
         capacity_ml=40.0, level_ml=30.0),
    [("over_delivery", "over_delivery", 30 * MIN, 31 * MIN)])
