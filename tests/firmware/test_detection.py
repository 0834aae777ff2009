# The scenario catalogue's detection situations (host_tools/sim/scenarios.py:
# issue 2's requirements and issue 11's faults) on generated traces, each with
# its seeds, judged by the one expectation checker
# (host_tools/formats/expectations.py). Runs under pytest on CPython and under
# tests/mp_runner.py on the unix port.
from harness import Run

from host_tools.sim import scenarios as S


def check_situation(entry, seed=1):
    """Run one detection entry and check it; the run."""
    sc = S.build(entry[4], seed)
    run = Run(sc, entry[5]).go()
    run.check(S.expectation(entry, sc)[0])
    return run


def _seed(seed):
    n = 0
    for entry in S.DETECTION:
        if seed in entry[6]:
            check_situation(entry, seed)
            n += 1
    assert n >= 20, n       # the catalogue was found and walked


def test_detection_seed_1():
    """req: R-001, R-003, R-004, R-005, R-006, R-007, R-010, R-011"""
    _seed(1)


def test_detection_seed_2():
    """req: R-001, R-003, R-004, R-005, R-006, R-007, R-010, R-011"""
    _seed(2)


def test_detection_seed_3():
    """req: R-001, R-003, R-004, R-005, R-006, R-007, R-010"""
    _seed(3)


def test_quiet_situations():
    """req: R-002"""
    for name, kwargs, seed in S.QUIET:
        run = Run(S.build(kwargs, seed)).go()
        run.check({"raised": [], "no_other_high": True})


def test_refill_clears_low_reservoir():
    """req: R-008"""
    name, kwargs, seed = S.find(S.QUIET, "refill in refill mode")
    run = Run(S.build(kwargs, seed)).go()
    raised = run.first("low_reservoir", "volume")
    assert raised is not None and raised < kwargs["refill_s"]
    cleared = [e for e in run.events if e[1] == "alarm_cleared" and e[3] == "volume"]
    assert cleared and cleared[0][0] < kwargs["refill_s"] + 400, run.events


def test_single_bad_flow_readings_raise_nothing():
    """req: R-002"""
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


def test_the_checker_finds_a_late_an_early_and_a_missing_alarm():
    # the checks above prove nothing unless the checker can say no
    """req: R-001"""
    from host_tools.formats.expectations import check_events
    entry = S.find(S.DETECTION, "stop, 10 uL/h continuous")
    sc = S.build(entry[4], 1)
    events = Run(sc, entry[5]).go().event_dicts()
    expectation, (start, _deadline) = S.expectation(entry, sc)
    assert check_events(events, expectation) == []
    tight = (entry[0], entry[1], entry[2], 1) + entry[4:]
    assert check_events(events, S.expectation(tight, sc)[0])[0].startswith("- missing:")
    late = (entry[0], entry[1], 3 * 3600, 60) + entry[4:]
    found = check_events(events, S.expectation(late, sc)[0])
    assert len(found) == 1 and found[0].startswith("+ too early: no_flow/low_flow"), found
    other = S.expectation((entry[0], ("malfunction/flow_sensor", "no_flow/low_flow"),
                           entry[2], entry[3]) + entry[4:], sc)[0]
    assert check_events(events, other) == []          # any one of them will do
