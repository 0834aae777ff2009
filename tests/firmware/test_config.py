# Configuration: defaults, validation with a reason, schedules.
from pumpmon.config import Config, ConfigError


def _error(values):
    try:
        Config(values)
    except ConfigError as e:
        return str(e)
    raise AssertionError("accepted %r" % (values,))


def test_defaults_and_units():
    c = Config({"rate_ul_h": 41.7})
    assert c.sched_rate == [417]
    assert c.low_ul == 4000 and c.empty_ul == 100     # issue 17: 4.0 mL
    assert c.low_days_x10 == 70                       # or 7 days
    assert c.refill_today_ul == 1000 and c.refill_today_days_x10 == 10
    assert c.reminder_ms == 3600 * 1000
    assert c.no_flow_pct == 25
    assert c.daily_ul == 1000            # 41.7 uL/h x 24 h = 1000.8 uL
    assert c.pause_ms == 120000


def test_schedule_string_and_list():
    a = Config({"schedule": "00:00/30.0;08:00/45.0;20:00/30.0", "start": "07:59"})
    b = Config({"schedule": [["20:00", 30], ["00:00", 30.0], ["08:00", 45]]})
    assert a.sched_start == b.sched_start == [0, 8 * 3600, 20 * 3600]
    assert a.sched_rate == [300, 450, 300]
    assert a.start_s == 7 * 3600 + 59 * 60
    assert a.rate_at(8 * 3600 - 1) == 300 and a.rate_at(8 * 3600) == 450
    assert a.rate_at(86399) == 300
    assert a.daily_ul == (300 * 12 + 450 * 12) * 3600 // 36000


def test_schedule_not_starting_at_midnight_wraps():
    c = Config({"schedule": "06:00/50;18:00/20"})
    assert c.rate_at(3 * 3600) == 200     # before 06:00: the 18:00 entry runs on
    assert c.rate_at(7 * 3600) == 500


def test_invalid_values_say_why():
    """req: R-040"""
    assert "no programmed delivery" in _error({})
    assert "not both" in _error({"rate_ul_h": 1, "schedule": "00:00/1"})
    assert "rate_ul_h" in _error({"rate_ul_h": -1})
    assert "not a finite" in _error({"rate_ul_h": float("nan")})
    assert "not a number" in _error({"rate_ul_h": "fast"})
    assert "unknown setting" in _error({"rate_ul_h": 1, "rate": 2})
    assert "HH:MM" in _error({"schedule": "8h/30"})
    assert "out of range" in _error({"schedule": "25:00/30"})
    assert "same time" in _error({"schedule": "01:00/3;01:00/4"})
    assert "below reservoir_capacity_ml" in _error(
        {"rate_ul_h": 1, "reservoir_capacity_ml": 20, "low_reservoir_ml": 25})
    assert "pause_s" in _error({"rate_ul_h": 1, "pause_s": 600})


def test_low_reservoir_cannot_be_switched_off():
    # issue 17: each threshold has a floor above zero and an order
    """req: R-040"""
    assert "low_reservoir_ml" in _error({"rate_ul_h": 2, "low_reservoir_ml": 0})
    assert "low_reservoir_ml" in _error({"rate_ul_h": 2, "low_reservoir_ml": 1.9})
    assert "low_reservoir_days" in _error({"rate_ul_h": 2, "low_reservoir_days": 0})
    assert "low_reservoir_days" in _error({"rate_ul_h": 2, "low_reservoir_days": 61})
    assert "refill_today_ml" in _error({"rate_ul_h": 2, "refill_today_ml": 0})
    assert "refill_today_days" in _error({"rate_ul_h": 2, "refill_today_days": 0.4})
    assert "reminder_min" in _error({"rate_ul_h": 2, "reminder_min": 0})
    assert "refill_today_ml must be below low_reservoir_ml" in _error(
        {"rate_ul_h": 2, "low_reservoir_ml": 2, "refill_today_ml": 2})
    # issue 22: refill_today (high) only when at most a day is left
    assert "refill_today_days" in _error({"rate_ul_h": 2, "refill_today_days": 1.5})
    assert "reservoir_empty_ml must be below refill_today_ml" in _error(
        {"rate_ul_h": 2, "reservoir_empty_ml": 1.5, "refill_today_ml": 1.0})
    c = Config({"rate_ul_h": 2, "low_reservoir_ml": 2, "low_reservoir_days": 60,
                "refill_today_ml": 0.5, "refill_today_days": 0.5, "reminder_min": 10})
    assert (c.low_ul, c.low_days_x10, c.refill_today_ul, c.refill_today_days_x10,
            c.reminder_ms) == (2000, 600, 500, 5, 600000)


def test_round_trip_as_dict():
    c = Config({"schedule": "00:00/30.0;08:00/45.5", "low_reservoir_ml": 4})
    d = c.as_dict()
    again = Config(d)
    assert again.sched_rate == c.sched_rate and again.low_ul == 4000


def test_rate_zero_only_for_a_pump_stopped_by_a_clinician():
    # issue 12: rate 0 switched off no_flow, over-delivery and the stuck check
    """req: R-040"""
    e = _error({"rate_ul_h": 0})
    assert "pump_stopped" in e and "clinician" in e, e
    e = _error({"schedule": "00:00/30;22:00/0"})
    assert "22:00" in e and "pump_stopped" in e, e
    c = Config({"rate_ul_h": 0, "pump_stopped": True})
    assert c.pump_stopped is True and c.sched_rate == [0] and c.daily_ul == 0
    assert Config(c.as_dict()).pump_stopped is True          # round trip
    assert Config({"rate_ul_h": 30, "pump_stopped": False}).pump_stopped is False
    assert "needs" in _error({"rate_ul_h": 30, "pump_stopped": True})
    assert "needs" in _error({"schedule": "00:00/0", "pump_stopped": True})
    for bad in ("yes", 1, 0, None, "true"):
        assert "pump_stopped" in _error({"rate_ul_h": 0, "pump_stopped": bad}), bad
    # the monitor's own fallback (config.json unusable) may run at rate 0
    assert Config({"rate_ul_h": 0}, fallback=True).pump_stopped is False


# The direction in which each alarm threshold makes its alarm come sooner
# ("up": a larger value); beyond its default a threshold may only move that
# way (docs/config.md, "Why each range"). The low reservoir thresholds keep
# issue 17's bounds below the default (the pump maker's 2 mL).
SAFE_WAY = {
    "no_flow_fraction": "up", "over_delivery_factor": "down",
    "over_delivery_margin_ul_h": "down", "flow_window_s": "down", "flow_fault_s": "down",
    "flow_stuck_s": "down", "flow_min_ul_h": "up", "flow_max_ul_h": "down",
    "level_fault_s": "down", "level_jump_ml": "down", "mismatch_ml_h": "down",
    "mismatch_window_min": "down", "zero_offset_ul_h": "down", "stroke_max_s": "down",
    "partial_fraction": "up", "partial_escalate_min": "down", "over_hour_factor": "down",
    "over_hour_margin_ul_h": "down", "refill_timeout_min": "down", "level_stuck_ml": "down",
    "pause_s": "down", "long_press_ms": "up", "reservoir_empty_ml": "up",
    "reminder_min": "down", "low_reservoir_ml": "up", "low_reservoir_days": "up",
    "refill_today_ml": "up", "refill_today_days": "up", "escalation_min": "down",
}
BELOW_DEFAULT_BY_ISSUE_17 = ("low_reservoir_ml", "low_reservoir_days", "refill_today_ml",
                             "refill_today_days")


def test_thresholds_move_beyond_their_defaults_only_the_safe_way():
    """req: R-040"""
    from pumpmon.config import LIMITS
    not_thresholds = ("rate_ul_h", "reservoir_capacity_ml")
    assert sorted(SAFE_WAY) == sorted(k for k in LIMITS if k not in not_thresholds)
    for key, way in SAFE_WAY.items():
        default, lo, hi = LIMITS[key]
        if key in BELOW_DEFAULT_BY_ISSUE_17:
            assert 0 < lo < default, key
            continue
        assert (lo if way == "up" else hi) == default, key
        unsafe = default - abs(default or 1) * 0.5 if way == "up" else abs(default) * 2 + 1
        assert key in _error({"rate_ul_h": 30, key: unsafe}), (key, unsafe)


def test_extreme_thresholds_that_would_disable_detection_are_refused():
    """req: R-040"""
    for key, value in (("no_flow_fraction", 0.05), ("flow_window_s", 3600),
                       ("low_reservoir_ml", 0), ("over_delivery_factor", 10),
                       ("over_delivery_margin_ul_h", 100), ("flow_stuck_s", 3600),
                       ("flow_fault_s", 600), ("level_jump_ml", 50), ("stroke_max_s", 900),
                       ("partial_escalate_min", 1440), ("reservoir_empty_ml", 0),
                       ("level_fault_s", 3600), ("long_press_ms", 500)):
        assert key in _error({"rate_ul_h": 30, key: value}), (key, value)
    # partial under-delivery (medium) always comes before no_flow: the ranges
    # (no_flow_fraction <= 0.5 < 0.6 <= partial_fraction) keep them apart
    assert "partial_fraction" in _error({"rate_ul_h": 30, "partial_fraction": 0.5})
    # the flow sensor's valid range reaches above the over-delivery threshold
    # (else an over-delivery would read as a sensor fault: the wrong alarm)
    assert "flow_max_ul_h" in _error({"rate_ul_h": 100, "flow_max_ul_h": 150})
    Config({"rate_ul_h": 100, "flow_max_ul_h": 170})


def test_escalation_is_settable_only_sooner_and_never_off():
    # issue 22: 10 minutes by default, 5-10: never later, never switched off
    """req: R-060"""
    assert Config({"rate_ul_h": 30}).escalation_ms == 600000
    assert Config({"rate_ul_h": 30, "escalation_min": 5}).escalation_ms == 300000
    for bad in (0, 4.9, 11, 60, -1):
        assert "escalation_min" in _error({"rate_ul_h": 30, "escalation_min": bad}), bad
