# Issue 2's detection requirements on generated traces (fixed seeds). Runs
# under pytest on CPython and under tests/mp_runner.py on the unix port.
from harness import Run

from host_tools.sim import scenarios as S


def _deadline(sc, onset, ceiling):
    if isinstance(ceiling, str):      # "cross:1.8": before the truth crosses it
        return S.onset_of(ceiling, sc)
    return onset + ceiling


def check_situation(entry, seed=1):
    name, kind, cause, onset, ceiling, kwargs = entry
    sc = S.build(kwargs, seed)
    run = Run(sc).go()
    start = S.onset_of(onset, sc)
    assert start is not None, "%s: the truth never changed" % name
    quiet_until = start
    if onset == "dry":  # an alarm may come early, but not with > 0.25 mL left
        quiet_until = S.onset_of("cross:0.25", sc)
        assert quiet_until is not None
    early = [e for e in run.raised(high_only=True) if e[0] < quiet_until]
    assert not early, "%s: high-priority alarm too early: %r" % (name, early)
    t = run.first(kind, cause)
    assert t is not None, "%s: no %s/%s; events %r" % (name, kind, cause, run.events)
    deadline = _deadline(sc, start, ceiling)
    assert t <= deadline, "%s: %s after %d s (ceiling %d s)" % (
        name, kind, t - start, deadline - start)
    return t - start


def test_situations():
    for entry in S.SITUATIONS:
        check_situation(entry)


def test_situations_other_seeds():
    for seed in (2, 3):
        for entry in S.SITUATIONS:
            check_situation(entry, seed)


def test_quiet_situations():
    for name, kwargs in S.QUIET:
        run = Run(S.build(kwargs, 1)).go()
        high = run.raised(high_only=True)
        assert not high, "%s: %r" % (name, high)


def test_refill_clears_low_reservoir():
    name, kwargs = S.QUIET[2]
    run = Run(S.build(kwargs, 1)).go()
    raised = run.first("low_reservoir", "volume")
    assert raised is not None and raised < kwargs["refill_s"]
    cleared = [e for e in run.events if e[1] == "alarm_cleared" and e[3] == "volume"]
    assert cleared and cleared[0][0] < kwargs["refill_s"] + 400, run.events


def test_single_bad_flow_readings_raise_nothing():
    from host_tools.sim.sensors import Scenario
    sc = Scenario(seed=4, rate_ul_h=30.0, duration_s=2 * 3600, missing_p=0.005)
    run = Run(sc)
    m = run.monitor
    from pumpmon.clock import ticks_add
    for t_ms, level, flow, flags, button, refill in sc.samples():
        t = t_ms // 1000
        run._t = t
        if t % 97 == 0:
            flow = 9999990          # out of range, once
        elif t % 101 == 0:
            flags = 1               # air flagged, once
        m.step(ticks_add(run.t0, t_ms), level, flow, flags, button, refill)
    assert not run.raised(high_only=True), run.events
