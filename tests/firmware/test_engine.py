# Engine edge cases: the ticks wrap, gaps in time, schedules, faults.
from harness import Run

from host_tools.sim.sensors import Scenario
from pumpmon import alarms as A
from pumpmon.clock import ticks_add, ticks_diff
from pumpmon.config import Config
from pumpmon.monitor import Monitor


def test_ticks_wrap_is_invisible():
    # the same scenario started at different points of the ticks counter
    # (one crossing the wrap mid-alarm) gives the same events
    """req: R-013"""
    sc_args = dict(seed=9, rate_ul_h=20.0, duration_s=2 * 3600, factor=[(3600, 0.0)])
    base = Run(Scenario(**sc_args), t0=0).go().events
    wrapped = Run(Scenario(**sc_args), t0=ticks_add(0, -(3600 + 300) * 1000)).go().events
    assert base and base == wrapped


def test_ticks_diff_across_wrap():
    """req: R-013"""
    a = ticks_add(0, -5)
    assert ticks_diff(ticks_add(a, 10), a) == 10
    assert ticks_diff(a, ticks_add(a, 10)) == -10


def test_gap_in_time_is_sensor_silence():
    """req: R-006"""
    cfg = Config({"rate_ul_h": 30})
    ev = []
    m = Monitor(cfg, 0, lambda c, k, d: ev.append((c, k, d)))
    t = 0
    while t < 700:
        m.step(t * 1000, 18000, 300 + (t % 3), 0, 0, 0)
        t += 1
    assert ev == []
    # no rows for 5 minutes, then readings again: the silence is a fault
    m.step(1000 * 1000, 18000, 301, 0, 0, 0)
    raised = [e for e in ev if e[0] == 1]
    assert (1, A.FLOW_SENSOR, A.D_SILENT) in raised
    assert (1, A.LEVEL_SENSOR, A.D_SILENT) in raised
    # high priority: latched although the sensors answer again (after a
    # minute: until then the last minute holds too few valid readings)
    t = 1001
    while t < 1075:
        m.step(t * 1000, 18000, 300 + (t % 3), 0, 0, 0)
        t += 1
    assert m.manager.shown & (1 << A.FLOW_SENSOR)
    assert not m.engine.conditions & (1 << A.FLOW_SENSOR)


def test_engine_exception_raises_internal_malfunction():
    """req: R-013, R-037"""
    cfg = Config({"rate_ul_h": 30})
    ev = []
    m = Monitor(cfg, 0, lambda c, k, d: ev.append((c, k, d)))
    m.step(1000, 18000, "garbage", 0, 0, 0)   # a type error inside the engine
    assert (1, A.INTERNAL, A.D_EXCEPTION) in ev
    assert m.manager.sound_kind() == A.KIND_MALFUNCTION


def test_stop_at_power_on_is_found_before_the_mean_window():
    # nothing flows from the start: the stop test cannot tell it from the gap
    # before a pump's first stroke until stroke_max_s (300 s) x 1.25 has
    # passed, but it need not wait for the 10-minute window
    """req: R-001"""
    sc = Scenario(seed=2, rate_ul_h=30.0, duration_s=1200, factor=[(0, 0.0)])
    run = Run(sc).go()
    t = run.first("no_flow", "low_flow")
    assert t is not None and 375 <= t <= 420, run.events


def test_stop_at_power_on_is_found_in_seconds_for_a_continuous_pump():
    # stroke_max_s 0: the pump is declared continuous, nothing to wait for
    """req: R-001"""
    sc = Scenario(seed=2, rate_ul_h=30.0, duration_s=600, factor=[(0, 0.0)])
    run = Run(sc, cfg={"stroke_max_s": 0}).go()
    t = run.first("no_flow", "low_flow")
    assert t is not None and t <= 15, run.events


def test_pump_stopped_by_a_clinician_is_not_no_flow_but_shown():
    # rate 0 only with pump_stopped (config.py): no stop is judged, the
    # stopped pump has its own low-priority indication from the start
    """req: R-012"""
    sc = Scenario(seed=2, rate_ul_h=0.0, duration_s=4 * 3600)
    run = Run(sc, cfg={"rate_ul_h": 0.0, "pump_stopped": True})
    # step it as Run.go does, listening: its sound is one soft C4 pulse every
    # 5 minutes (patterns.py), never silence and never another tone
    m, now, last, tones, pulses = run.monitor, run.t0, 0, set(), 0
    for t_ms, level, flow, flags, button, refill in sc.samples():
        run._t = t_ms // 1000
        now = ticks_add(now, t_ms - last)
        last = t_ms
        before = m.ann.tone_hz
        m.step(now, level, flow, flags, button, refill)
        tones.add(m.ann.tone_hz)
        if m.ann.tone_hz and not before:
            pulses += 1
    assert [e[2:4] for e in run.raised()] == [("pump_stopped", "clinician")], run.events
    assert run.first("pump_stopped", "clinician") == 0
    assert tones == {0, 262}, tones
    assert 4 * 12 - 1 <= pulses <= 4 * 12 + 1, pulses         # 4 h, one every 5 min


def test_pump_stopped_any_flow_beyond_the_sensor_noise_is_over_delivery():
    # a stopped pump that delivers 1.5 uL/h (a leak, a pump running on):
    # the offset learnt at rate 0 is clamped to zero_offset_ul_h (0.5), the
    # rest is over the margins: over_delivery/over_delivery, high priority
    """req: R-004, R-012"""
    sc = Scenario(seed=2, rate_ul_h=1.5, duration_s=3 * 3600)
    run = Run(sc, cfg={"rate_ul_h": 0.0, "pump_stopped": True}).go()
    t = run.first("over_delivery", "over_delivery")
    assert t is not None and t <= 3600, run.events


def test_delivery_with_zero_programmed_is_over_delivery():
    # the pump delivers 20 uL/h while the configuration programs nothing
    """req: R-004"""
    sc = Scenario(seed=2, rate_ul_h=20.0, duration_s=2 * 3600)
    run = Run(sc, cfg={"rate_ul_h": 0.0, "pump_stopped": True}).go()
    assert run.first("over_delivery", "over_delivery") is not None


def test_stuck_detection_needs_programmed_flow():
    # a stopped pump's sensor reads a steady 0: not a stuck sensor (a sensor
    # stuck at 0 while drug flows is the level-flow mismatch's to find)
    """req: R-006"""
    sc = Scenario(seed=2, rate_ul_h=0.0, duration_s=2 * 3600, flow_fault=("stuck", 600))
    run = Run(sc, cfg={"rate_ul_h": 0.0, "pump_stopped": True}).go()
    assert run.first("malfunction", "flow_sensor") is None
