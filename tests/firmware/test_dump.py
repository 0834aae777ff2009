# A dump is an overdose, not a sensor fault (issue 22), proved over random
# dumps: magnitudes from 10x the programmed rate to 4x the flow sensor's full
# scale, rates 2-200 uL/h, continuous or strokes every 1-5 min, either offset,
# level read every 1-10 s. Each: the FIRST high-priority alarm after the onset
# is over_delivery, within 60 s at or beyond full scale (50 mL/h), within 2
# min at 10x (a stroke pump: its stroke period more, the extra drug comes with
# the stroke). A lone out-of-range flow with a steady level stays the flow
# sensor's fault; a bubble of seconds is no alarm, air that stays is one.
# Runs on CPython and the unix ports (the sensor model's own generator).
from harness import Run

from host_tools.sim.sensors import Rng, Scenario

MIN = 60
FULL = 50000.0                 # the sensor model's full scale, uL/h (flow_max_ul_h)
RATES = (2.0, 5.0, 10.0, 30.0, 100.0, 200.0)
PERIODS = (0, 0, 60, 150, 180, 300)


def _draw(seed):
    r = Rng(seed)
    rate = RATES[r.u32() % len(RATES)]
    period = PERIODS[r.u32() % len(PERIODS)]
    onset = 20 * MIN + r.u32() % 600
    kw = dict(seed=seed, rate_ul_h=rate, offset_fixed=(0.5, -0.5)[r.u32() % 2],
              level_every_s=(1, 5, 10)[r.u32() % 3], capacity_ml=40.0, level_ml=38.0)
    if period:
        kw.update(pulse_period_s=period, pulse_width_s=10 + r.u32() % 21)
    return r, rate, period, onset, kw


def _first_high(run, onset):
    for e in run.events:
        if e[1] == "alarm_raised" and e[5] == "high":
            return e[0] - onset, e[3], e[4]
    return None


def test_random_dumps_at_or_beyond_full_scale_are_over_delivery_within_60_s():
    """req: R-004"""
    for seed in range(1, 19):
        r, rate, period, onset, kw = _draw(seed)
        ul_h = FULL * (1.0 + 3.0 * r.uniform())      # full scale .. 4x
        sc = Scenario(duration_s=onset + 3 * MIN, dump=(onset, ul_h), **kw)
        run = Run(sc).go()
        first = _first_high(run, onset)
        assert first is not None and first[1] == "over_delivery" and 0 <= first[0] <= 60, (
            seed, rate, period, ul_h, first, run.events)


def test_random_dumps_within_the_range_are_over_delivery_within_2_min():
    """req: R-004"""
    # 10x - 100x the rate, below full scale: the flow sensor reads it
    for seed in range(30, 42):
        r, rate, period, onset, kw = _draw(seed)
        f = 10.0 + 90.0 * r.uniform()
        if rate * f >= FULL * 0.9:
            f = FULL * 0.9 / rate
        sc = Scenario(duration_s=onset + 10 * MIN, factor=[(onset, f)], **kw)
        run = Run(sc).go()
        first = _first_high(run, onset)
        assert first is not None and first[1] == "over_delivery", (seed, rate, period, f, first)
        assert 0 <= first[0] <= 2 * MIN + period, (seed, rate, period, f, first)


def test_lone_out_of_range_flow_with_a_steady_level_is_a_flow_sensor_fault():
    """req: R-004, R-006"""
    for seed in range(50, 56):
        _r, rate, period, onset, kw = _draw(seed)
        sc = Scenario(duration_s=onset + 3 * MIN, flow_fault=("range", onset), **kw)
        run = Run(sc).go()
        first = _first_high(run, onset)
        assert first is not None and first[1:] == ("flow_sensor", "out_of_range"), (
            seed, first)
        assert first[0] <= 30 if kw["level_every_s"] <= 5 else first[0] <= 60, (seed, first)
        assert run.first("over_delivery", "over_delivery") is None, (seed, run.events)


def test_a_level_falling_fast_with_a_silent_flow_sensor_is_over_delivery():
    """req: R-004"""
    for seed in range(60, 64):
        _r, rate, period, onset, kw = _draw(seed)
        sc = Scenario(duration_s=onset + 4 * MIN, dump=(onset, 30000.0),
                      flow_fault=("silent", onset), **kw)
        run = Run(sc).go()
        t = run.first("over_delivery", "over_delivery")
        assert t is not None and t - onset <= 2 * MIN, (seed, run.events)
        assert run.raised("malfunction", "level_sensor") == [], (seed, run.events)


def test_a_level_jump_with_the_flow_reading_normal_is_not_over_delivery():
    """req: R-004"""
    sc = Scenario(seed=3, rate_ul_h=30.0, duration_s=3600 + 900, level_jump=(3600, -3.0))
    run = Run(sc).go()
    assert run.first("malfunction", "level_sensor") is not None
    assert run.first("over_delivery", "over_delivery") is None, run.events


def test_bubbles_of_seconds_are_no_alarm_and_air_that_stays_is_one():
    """req: R-006"""
    for seed in range(70, 78):
        r, rate, period, onset, kw = _draw(seed)
        if rate < 5.0:
            kw["rate_ul_h"] = rate = 5.0
        bubble = 1 + r.u32() % 20                    # 1-20 s
        run = Run(Scenario(duration_s=onset + 15 * MIN, flow_fault=("air", onset, bubble),
                           **kw)).go()
        assert run.raised(high_only=True) == [], (seed, bubble, run.events)
        run = Run(Scenario(duration_s=onset + 2 * MIN, flow_fault=("air", onset), **kw)).go()
        first = _first_high(run, onset)
        assert first is not None and first[1:] == ("flow_sensor", "air_in_line"), (seed, first)
        assert first[0] <= 30, (seed, first)
