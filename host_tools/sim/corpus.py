"""The scenario corpus (traces/): generating the traces, expectations and
expected events of the catalogue's corpus entries (host_tools/sim/scenarios.py,
CORPUS and DEMO). The command is
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
from host_tools.sim import scenarios as S
from host_tools.sim.sensors import Scenario
from host_tools.formats.trace import write_trace

CORPUS_DIR = TRACES
H = S.H
MIN = S.MIN


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
        self.corpus = corpus        # False: a one-off scenario (trace gen), not in traces/

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


# the corpus entries of the one scenario catalogue, host_tools/sim/scenarios.py
SPECS = [Spec(*entry) for entry in S.CORPUS]
# the demo for `make run` (the virtual board): a story, at --speed 60 about 4 min
DEMO = Spec(*S.DEMO)
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
