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
    assert "low_reservoir_ml" in _error({"rate_ul_h": 2, "low_reservoir_ml": 0})
    assert "low_reservoir_ml" in _error({"rate_ul_h": 2, "low_reservoir_ml": 1.9})
    assert "low_reservoir_days" in _error({"rate_ul_h": 2, "low_reservoir_days": 0})
    assert "low_reservoir_days" in _error({"rate_ul_h": 2, "low_reservoir_days": 61})
    assert "refill_today_ml" in _error({"rate_ul_h": 2, "refill_today_ml": 0})
    assert "refill_today_days" in _error({"rate_ul_h": 2, "refill_today_days": 0.4})
    assert "reminder_min" in _error({"rate_ul_h": 2, "reminder_min": 0})
    assert "refill_today_ml must be below low_reservoir_ml" in _error(
        {"rate_ul_h": 2, "low_reservoir_ml": 2, "refill_today_ml": 2})
    assert "refill_today_days must be below low_reservoir_days" in _error(
        {"rate_ul_h": 2, "low_reservoir_days": 2, "refill_today_days": 2})
    assert "reservoir_empty_ml must be below refill_today_ml" in _error(
        {"rate_ul_h": 2, "reservoir_empty_ml": 1.5, "refill_today_ml": 1.0})
    c = Config({"rate_ul_h": 2, "low_reservoir_ml": 2, "low_reservoir_days": 60,
                "refill_today_ml": 0.5, "refill_today_days": 1.5, "reminder_min": 10})
    assert (c.low_ul, c.low_days_x10, c.refill_today_ul, c.refill_today_days_x10,
            c.reminder_ms) == (2000, 600, 500, 15, 600000)


def test_round_trip_as_dict():
    c = Config({"schedule": "00:00/30.0;08:00/45.5", "low_reservoir_ml": 4})
    d = c.as_dict()
    again = Config(d)
    assert again.sched_rate == c.sched_rate and again.low_ul == 4000
