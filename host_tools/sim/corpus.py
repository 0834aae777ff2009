"""The scenario corpus (traces/): the scenarios as data (SPECS), generating
their traces, expectations and expected events. The command is
host_tools/commands/trace.py (`pumpmon trace list / gen / corpus`).

Scenarios are built with the sensor model of host_tools/sim/sensors.py (noise,
drift, dropouts, spikes, pulsatile delivery). Each one states what the monitor
must do (the expectation, checked by `pumpmon replay --check`); the committed
`*.events.jsonl` is the exact event output of the current firmware (a
regression snapshot: regenerate it with `make corpus` after an intended change
to the engine, and review the diff).
"""
import json
from pathlib import Path

from host_tools.paths import TRACES
from host_tools.sim.sensors import Scenario
from host_tools.formats.trace import write_trace

CORPUS_DIR = TRACES
H = 3600
MIN = 60


class Spec:
    """A scenario: Scenario kwargs, edits to the generated rows, metadata and
    the expectation.

    cut: [(from_s, to_s)] rows left out (a recording gap: sensor silence).
    flow_silent: [(from_s, to_s)] flow sensor gives no reading.
    expect: [(alarm, cause|None, from_s, to_s)] each must be raised in the window.
    only: no other high-priority alarm may be raised (medium ones may).
    """

    def __init__(self, name, text, kwargs, expect=(), only=True, cut=(), flow_silent=(),
                 meta=None, corpus=True):
        self.name = name
        self.text = text
        self.kwargs = kwargs
        self.expect = list(expect)
        self.only = only
        self.cut = list(cut)
        self.flow_silent = list(flow_silent)
        self.meta = dict(meta or {})
        self.corpus = corpus

    def scenario(self, seed=1, duration_s=None, rate_ul_h=None):
        kw = dict(self.kwargs)
        if duration_s is not None:
            kw["duration_s"] = duration_s
        if rate_ul_h is not None:
            if kw.get("schedule"):
                kw["schedule"] = [(s, r * rate_ul_h / kw["schedule"][0][1])
                                  for s, r in kw["schedule"]]
            else:
                kw["rate_ul_h"] = rate_ul_h
        return Scenario(seed=seed, **kw)

    def metadata(self, sc, seed):
        meta = {"scenario": self.name, "seed": seed, "generator": "host_tools/sim/sensors.py"}
        if sc.schedule is None:
            meta["rate_ul_h"] = _num(sc.rate)
        else:
            meta["schedule"] = ";".join("%02d:%02d/%s" % (s // 3600, s // 60 % 60, _num(r))
                                        for s, r in sc.schedule)
            meta["start"] = "%02d:%02d" % (sc.start_s // 3600, sc.start_s // 60 % 60)
        meta["reservoir_capacity_ml"] = _num(sc.capacity_ml)
        meta.update(self.meta)
        return meta

    def samples(self, sc):
        cut = self.cut
        silent = self.flow_silent
        for s in sc.samples():
            t = s[0] // 1000
            if cut and any(a <= t < b for a, b in cut):
                continue
            if silent and any(a <= t < b for a, b in silent):
                s = (s[0], s[1], None, 0, s[4], s[5])
            yield s

    def expectation(self):
        return {
            "raised": [{"alarm": a, "cause": c, "from_s": lo, "to_s": hi}
                       for a, c, lo, hi in self.expect],
            "no_other_high": self.only,
        }


def _num(x):
    return ("%.3f" % x).rstrip("0").rstrip(".")


SPECS = [
    Spec("normal", "2 h of normal delivery, 30 uL/h pulsatile: no alarm",
         dict(rate_ul_h=30.0, duration_s=2 * H, pulse_period_s=300, pulse_width_s=20,
              capacity_ml=40.0, level_ml=38.0, auto_refill_ml=4.0)),
    Spec("occlusion", "total occlusion at 1 h (10 uL/h): no_flow within 15 min",
         dict(rate_ul_h=10.0, duration_s=2 * H, factor=[(H, 0.0)]),
         expect=[("no_flow", "low_flow", H, H + 15 * MIN)]),
    Spec("partial_occlusion", "delivery falls to 10 % at 1 h (100 uL/h pulsatile): "
         "no_flow within 30 min",
         dict(rate_ul_h=100.0, duration_s=2 * H, factor=[(H, 0.1)], pulse_period_s=240),
         expect=[("no_flow", "low_flow", H, H + 30 * MIN)]),
    Spec("gradual_decline", "delivery declines from 100 % to 0 over an hour from 1 h "
         "(100 uL/h): no_flow before it has fully stopped",
         dict(rate_ul_h=100.0, duration_s=2 * H + 10 * MIN,
              factor=[(H + k * 5 * MIN, 1.0 - k / 12.0) for k in range(13)]),
         expect=[("no_flow", "low_flow", H + 30 * MIN, 2 * H)]),
    Spec("pump_stall", "pulsatile pump (30 uL/h, a stroke every 5 min) stops stroking at "
         "1 h: no_flow within 15 min",
         dict(rate_ul_h=30.0, duration_s=H + 30 * MIN, factor=[(H, 0.0)], pulse_period_s=300,
              pulse_width_s=10),
         expect=[("no_flow", "low_flow", H, H + 15 * MIN)]),
    Spec("over_delivery", "pump delivers 2x from 1 h (10 uL/h): malfunction/over_delivery "
         "within 15 min",
         dict(rate_ul_h=10.0, duration_s=2 * H, factor=[(H, 2.0)], offset_fixed=-0.5),
         expect=[("malfunction", "over_delivery", H, H + 15 * MIN)]),
    Spec("leak", "leak of 0.5 mL/h from 1 h: malfunction/level_flow_mismatch within 2 h",
         dict(rate_ul_h=30.0, duration_s=3 * H + 30 * MIN, leak_ml_h=0.5, leak_from_s=H),
         expect=[("malfunction", "level_flow_mismatch", H, 3 * H)]),
    Spec("flow_sensor_silent", "flow sensor stops answering at 1 h: malfunction/flow_sensor "
         "within 30 s",
         dict(rate_ul_h=30.0, duration_s=H + 5 * MIN, flow_fault=("silent", H)),
         expect=[("malfunction", "flow_sensor", H, H + 30)]),
    Spec("flow_sensor_stuck", "flow reading frozen from 1 h: malfunction/flow_sensor "
         "within 10 min",
         dict(rate_ul_h=30.0, duration_s=H + 20 * MIN, flow_fault=("stuck", H)),
         expect=[("malfunction", "flow_sensor", H, H + 10 * MIN)]),
    Spec("air_in_line", "air-in-line flag from 1 h: malfunction/flow_sensor within 30 s",
         dict(rate_ul_h=30.0, duration_s=H + 5 * MIN, flow_fault=("air", H)),
         expect=[("malfunction", "flow_sensor", H, H + 30)]),
    Spec("level_sensor_jump", "level reading jumps 3 mL down and stays: "
         "malfunction/level_sensor within 5 min",
         dict(rate_ul_h=30.0, duration_s=H + 15 * MIN, level_jump=(H, -3.0),
              level_every_s=10),
         expect=[("malfunction", "level_sensor", H, H + 5 * MIN)]),
    Spec("recording_gap", "3 min of rows missing (a gap in the recording) at 1 h: sensor "
         "silence, malfunction/flow_sensor and level_sensor",
         dict(rate_ul_h=30.0, duration_s=H + 10 * MIN), cut=[(H, H + 3 * MIN)],
         expect=[("malfunction", "flow_sensor", H, H + 30),
                 ("malfunction", "level_sensor", H, H + 90)]),
    Spec("reservoir_empty", "reservoir runs dry (200 uL/h from 0.5 mL): low_reservoir, "
         "then no_flow",
         dict(rate_ul_h=200.0, duration_s=3 * H, level_ml=0.5, level_every_s=10),
         expect=[("low_reservoir", None, 0, 5 * MIN), ("low_reservoir", "refill_today", 0, 5 * MIN),
                 ("no_flow", None, 2 * H, 3 * H)]),
    Spec("refill", "low reservoir (3.5 mL, 1.5 days left), then a refill in refill mode: "
         "low_reservoir cleared, no high-priority alarm",
         dict(rate_ul_h=100.0, duration_s=3 * H, level_ml=3.5, refill_s=2 * H),
         expect=[("low_reservoir", None, 0, 2 * H)]),
    Spec("schedule", "daily program, night 30 -> day 55 -> night 30 uL/h (steps at 08:00 "
         "and 09:30), start 07:00: no alarm",
         dict(schedule=[(0, 30.0), (8 * H, 55.0), (9 * H + 30 * MIN, 30.0)], start_s=7 * H,
              duration_s=3 * H)),
    # issue 17 (docs/engine.md, Low reservoir): 2.5 days of a day program, 2.16 mL
    # a day, from 7 mL at 06:00; the patient acknowledges each alarm and each
    # hourly reminder a minute after it sounds; refilled at 15:00 on day 3
    Spec("reservoir_rundown", "reservoir runs down over 2.5 days (night 60, day 120 uL/h, "
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
    Spec("fast_stop", "total stop at 15 min (50 uL/h continuous): no_flow within 60 s "
         "(the sequential stop test)",
         dict(rate_ul_h=50.0, duration_s=17 * MIN, factor=[(15 * MIN, 0.0)]),
         expect=[("no_flow", "low_flow", 15 * MIN, 16 * MIN)]),
    Spec("stop_at_power_on", "nothing flows from power-on (30 uL/h): no_flow within 7 min, "
         "not after a 10-min window",
         dict(rate_ul_h=30.0, duration_s=8 * MIN, factor=[(0, 0.0)]),
         expect=[("no_flow", "low_flow", 0, 7 * MIN)]),
    Spec("flow_sensor_sparse", "stop at 15 min, then only every 2nd flow reading valid (a "
         "flaky cable): malfunction/flow_sensor (sparse) within 2 min",
         dict(rate_ul_h=30.0, duration_s=18 * MIN, factor=[(15 * MIN, 0.0)],
              flow_fault=("alternate", 15 * MIN)),
         expect=[("malfunction", "flow_sensor", 15 * MIN, 17 * MIN)], only=False),
    Spec("partial_delivery", "delivery falls to 45 % at 30 min (100 uL/h, strokes every "
         "2.5 min): under_delivery/partial (medium) within 2 h, no_flow/under_delivery "
         "(high) when it persists (partial_escalate_min 30 here)",
         dict(rate_ul_h=100.0, duration_s=2 * H, factor=[(30 * MIN, 0.45)],
              pulse_period_s=150, pulse_width_s=20),
         meta={"partial_escalate_min": "30"},
         expect=[("under_delivery", "partial", 30 * MIN, 90 * MIN),
                 ("no_flow", "under_delivery", 90 * MIN, 2 * H)], only=False),
    Spec("over_delivery_moderate", "pump delivers 1.4x from 30 min (30 uL/h): "
         "malfunction/over_delivery (60-min mean) within 2 h",
         dict(rate_ul_h=30.0, duration_s=80 * MIN, factor=[(30 * MIN, 1.4)]),
         expect=[("malfunction", "over_delivery", 30 * MIN, 80 * MIN)]),
    Spec("refill_mode_left_on", "refill mode switched on at 10 min and left on: "
         "malfunction/refill_mode after 30 min",
         dict(rate_ul_h=30.0, duration_s=45 * MIN, refill_mode=(10 * MIN, 45 * MIN)),
         expect=[("malfunction", "refill_mode", 40 * MIN, 41 * MIN)]),
    Spec("level_sensor_stuck", "level reading frozen from 30 min (200 uL/h): "
         "malfunction/level_sensor (stuck) before 0.25 mL more is delivered "
         "(level_stuck_ml 0.2 here)",
         dict(rate_ul_h=200.0, duration_s=2 * H, level_stuck_s=30 * MIN, level_every_s=10),
         meta={"level_stuck_ml": "0.2"},
         expect=[("malfunction", "level_sensor", 30 * MIN, 30 * MIN + 75 * MIN)]),
]
# the demo for `make run` (the virtual board): a story, at --speed 60 about 4 min
DEMO = Spec(
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
ALL = {s.name: s for s in SPECS + [DEMO]}


def generate(spec, out, seed=1, duration_s=None, rate_ul_h=None):
    sc = spec.scenario(seed, duration_s, rate_ul_h)
    return write_trace(out, spec.metadata(sc, seed), spec.samples(sc))


def expected_events(path):
    """The events the firmware gives for a trace today (CPython replay)."""
    from host_tools.replay import driver as replay_driver
    from host_tools.formats.trace import read_trace
    lines = []
    tr = read_trace(path)
    replay_driver.replay(tr.config(), tr.samples(), lines.append)
    return "".join(lines)


def regenerate(directory=CORPUS_DIR):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for spec in SPECS + [DEMO]:
        csv = directory / (spec.name + ".csv")
        generate(spec, csv)
        (directory / (spec.name + ".events.jsonl")).write_text(
            expected_events(csv), encoding="utf-8")
        (directory / (spec.name + ".expect.json")).write_text(
            json.dumps(spec.expectation(), indent=1) + "\n", encoding="utf-8")
        print("%-22s %8d bytes  %s" % (csv.name, csv.stat().st_size, spec.text))
