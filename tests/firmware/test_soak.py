# Normal delivery with all the sensor noise (issue 2): no high-priority alarm
# at all, continuous or pulsatile, 2-200 uL/h, with refills whenever the
# reservoir runs low. Here every configuration of the catalogue's soak
# (host_tools/sim/scenarios.py SOAK) runs for DAYS days; the 30-day run of the
# same configurations, and a year over every rate and stroke period, is
# `make soak` (host_tools/bench/soak.py): a soak belongs there, not in every
# `make test`.
from harness import Run

from host_tools.sim import scenarios as S

DAYS = 4


def _soak(index, seed, **over):
    name, kwargs = S.SOAK[index]
    kw = dict(kwargs)
    kw.update(over)
    run = Run(S.soak_scenario(kw, seed, DAYS)).go()
    high = run.raised(high_only=True)
    assert not high, "%s: %r" % (name, high)
    return run


def test_soak_2_ul_h():
    """req: R-002"""
    _soak(0, 11)
    _soak(1, 12)


def test_soak_10_ul_h_pulsatile():
    """req: R-002"""
    _soak(2, 13)


def test_soak_50_ul_h():
    """req: R-002"""
    _soak(3, 14)
    _soak(4, 15)


def test_soak_200_ul_h():
    # from 9 mL, a day and a bit before the refill at 4 mL: low_reservoir
    # (medium) comes and clears around the refill
    """req: R-002"""
    run = _soak(5, 16, level_ml=9.0)
    assert run.first("low_reservoir") is not None
    assert len(run.scenario.refills) >= 1
    cleared = [e for e in run.events if e[1] == "alarm_cleared" and e[2] == "low_reservoir"]
    assert cleared, run.events
    _soak(6, 17, level_ml=9.0)


def test_soak_flex_dosing():
    # issue 22: a basal rate with three 20-min boluses a day at 10x: the
    # stop test's envelope overflowed in 2-3 days (an exception, a false
    # malfunction/internal); no over_delivery as a stroke pump's bolus starts
    _soak(7, 18)
    _soak(8, 19)


def test_soak_worst_offsets_and_stroke_periods():
    # issue 11 (the year-long run is `make soak`): a day each of the hardest
    # configurations for the new stop tests, with a schedule step and a refill
    # in refill mode: the lowest rate with the offset against it, a stroke
    # period near the noise, the 60-min mean's worst aliasing
    """req: R-002"""
    from host_tools.bench import soak as Y
    cfgs = Y.configs()
    for i in (1, 10, 47):     # 2 uL/h cont. -0.5; 5 uL/h 59 s +0.5; 200 uL/h 298 s -0.5
        high, _medium = Y.soak_one(cfgs[i], 1.1, 300 + i)
        assert not high, (cfgs[i][3], high)
