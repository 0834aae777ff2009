# Alarm management: pause, latch, acknowledge, priorities (issue 2).
from pumpmon import alarms as A
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.events import NAMES
from pumpmon.manager import AlarmManager

NO_FLOW = 1 << A.NO_FLOW
FLOW_SENSOR = 1 << A.FLOW_SENSOR
LOW = 1 << A.LOW_VOLUME


class Rig:
    def __init__(self):
        self.events = []
        self.cfg = Config({"rate_ul_h": 30})
        self.t0 = ticks_add(0, -3000)   # cross the ticks wrap on the way
        self.t = 0
        self.cond = 0
        self.button = 0
        self.m = AlarmManager(self.cfg, self._emit)

    def _emit(self, code, cond):
        self.events.append((self.t, NAMES[code], cond))

    def run(self, ms, step=100):
        end = self.t + ms
        while self.t < end:
            self.t += step
            self.m.update(ticks_add(self.t0, self.t), self.cond, self.button)

    def press(self, ms):
        self.button = 1
        self.run(ms)
        self.button = 0
        self.run(100)

    def names(self):
        return [e[1] for e in self.events]


def _raised(cond, ms):
    """A rig whose conditions have been cond for ms milliseconds."""
    r = Rig()
    r.cond = cond
    r.run(ms)
    return r


def test_raise_and_sound():
    """req: R-016"""
    r = _raised(NO_FLOW, 100)
    assert r.events == [(100, "alarm_raised", A.NO_FLOW)]
    assert r.m.sound_kind() == A.KIND_NO_FLOW
    assert r.m.light_kind() == A.KIND_NO_FLOW


def test_short_press_pauses_two_minutes_then_sounds_again():
    """req: R-017"""
    r = _raised(NO_FLOW, 1000)
    r.press(300)
    assert r.names()[-1] == "audio_paused"
    assert r.m.sound_kind() == A.KIND_NONE
    assert r.m.light_kind() == A.KIND_NO_FLOW   # the light keeps signalling
    r.run(119000)
    assert r.m.sound_kind() == A.KIND_NONE
    r.run(1500)
    assert r.names()[-1] == "audio_resumed"
    assert r.m.sound_kind() == A.KIND_NO_FLOW


def test_high_alarm_latches_until_acknowledged():
    """req: R-018"""
    r = _raised(NO_FLOW, 1000)
    r.cond = 0
    r.run(60000)
    assert r.names() == ["alarm_raised", "alarm_condition_cleared"]
    assert r.m.sound_kind() == A.KIND_NO_FLOW   # still sounding: latched
    r.press(2500)
    assert r.names()[2:] == ["alarm_acknowledged", "alarm_cleared"]
    assert r.m.shown == 0
    assert r.m.sound_kind() == A.KIND_NONE


def test_acknowledge_never_silences_a_persisting_danger():
    """req: R-018"""
    r = _raised(NO_FLOW, 1000)
    r.press(2500)
    assert "alarm_acknowledged" in r.names() and "audio_paused" in r.names()
    assert r.m.sound_kind() == A.KIND_NONE
    r.run(121000)
    assert r.m.sound_kind() == A.KIND_NO_FLOW
    # once acknowledged, its clearing ends it without a latch
    r.cond = 0
    r.run(200)
    assert r.names()[-1] == "alarm_cleared"


def test_medium_acknowledged_reminds_every_hour_until_condition_ends():
    """req: R-019"""
    r = _raised(LOW, 1000)
    assert r.m.sound_kind() == A.KIND_LOW_RESERVOIR
    r.press(2500)
    ack_t = r.t - 100             # the long press was seen 2 s into the press
    assert r.names() == ["alarm_raised", "alarm_acknowledged"]
    assert r.m.sound_kind() == A.KIND_NONE
    r.run(3600 * 1000 - 4000, step=1000)
    assert r.m.sound_kind() == A.KIND_NONE        # silent for (almost) an hour
    assert r.m.light_kind() == A.KIND_LOW_RESERVOIR
    r.run(4000, step=100)
    assert r.names()[-1] == "audio_resumed"       # the reminder, at 60 min
    assert r.m.sound_kind() == A.KIND_LOW_RESERVOIR
    first = r.events[-1][0]
    assert 3600 * 1000 - 2500 <= first - ack_t <= 3600 * 1000 + 100, first - ack_t
    r.press(2500)                                 # acknowledged again: another hour
    assert r.names()[-1] == "alarm_acknowledged"
    assert r.m.sound_kind() == A.KIND_NONE
    r.run(3600 * 1000, step=1000)
    assert r.names()[-1] == "audio_resumed"
    assert r.m.sound_kind() == A.KIND_LOW_RESERVOIR
    r.cond = 0
    r.run(200)
    assert r.names()[-1] == "alarm_cleared"
    assert r.m.light_kind() == A.KIND_NONE


def test_reminder_interval_is_configurable_but_never_longer_than_an_hour():
    """req: R-019"""
    r = Rig()
    r.m = AlarmManager(Config({"rate_ul_h": 30, "reminder_min": 15}), r._emit)
    r.cond = LOW
    r.run(1000)
    r.press(2500)
    r.run(15 * 60 * 1000 - 3000, step=1000)
    assert r.m.sound_kind() == A.KIND_NONE
    r.run(4000, step=100)
    assert r.m.sound_kind() == A.KIND_LOW_RESERVOIR
    from pumpmon.config import ConfigError
    try:
        Config({"rate_ul_h": 30, "reminder_min": 61})
    except ConfigError as e:
        assert "reminder_min" in str(e)
    else:
        raise AssertionError("a reminder over an hour was accepted")


def test_later_acknowledgement_never_delays_the_reminder():
    """req: R-019"""
    r = Rig()
    days = 1 << A.LOW_DAYS
    r.cond = LOW
    r.run(1000)
    r.press(2500)                 # LOW acknowledged at ~3 s
    r.run(30 * 60 * 1000, step=1000)
    r.cond = LOW | days           # a second medium alarm, acknowledged at ~30 min
    r.run(1000)
    r.press(2500)
    assert r.m.sound_kind() == A.KIND_NONE
    r.run(30 * 60 * 1000, step=1000)   # 60 min after the first acknowledgement
    assert r.m.sound_kind() == A.KIND_LOW_RESERVOIR
    assert r.names()[-1] == "audio_resumed"


def test_restored_acknowledged_medium_reminds_within_an_hour():
    """req: R-019"""
    r = Rig()
    r.m.restore(LOW, LOW)
    r.cond = LOW
    r.run(1000)
    assert r.m.sound_kind() == A.KIND_NONE
    r.run(3600 * 1000, step=1000)
    assert r.m.sound_kind() == A.KIND_LOW_RESERVOIR


def test_refill_today_is_annunciated_before_medium_alarms():
    # appended after the medium conditions, it still comes first: priority,
    # then index
    """req: R-009"""
    today = 1 << A.REFILL_TODAY
    assert A.REFILL_TODAY > A.LOW_DAYS
    assert A.top_condition(LOW | today) == A.REFILL_TODAY
    assert A.top_condition(LOW | (1 << A.LOW_DAYS)) == A.LOW_VOLUME
    assert A.top_condition(today | NO_FLOW) == A.NO_FLOW
    assert A.top_condition(0) == -1
    r = Rig()
    r.cond = LOW | today
    r.run(100)
    assert r.m.sound_kind() == A.KIND_REFILL_TODAY
    assert r.m.light_kind() == A.KIND_REFILL_TODAY
    assert A.KIND_NAMES[A.KIND_REFILL_TODAY] == "low_reservoir"
    assert A.priority_of(A.REFILL_TODAY) == A.HIGH


def test_refill_today_cannot_be_acknowledged_away():
    """req: R-009"""
    today = 1 << A.REFILL_TODAY
    r = Rig()
    r.cond = LOW | today
    r.run(1000)
    r.press(2500)     # acknowledges both: refill_today is only paused
    assert r.names()[-3:] == ["alarm_acknowledged", "alarm_acknowledged", "audio_paused"]
    assert r.m.shown == LOW | today
    r.run(121000)
    assert r.m.sound_kind() == A.KIND_REFILL_TODAY      # back after 2 min
    r.press(300)
    r.run(121000)
    assert r.m.sound_kind() == A.KIND_REFILL_TODAY      # and after every pause
    # the refill ends it: cleared at once (it does not latch), and the medium
    # one with it
    r.cond = 0
    r.run(100)
    assert r.names()[-2:] == ["alarm_cleared", "alarm_cleared"]
    assert r.m.shown == 0 and r.m.sound_kind() == A.KIND_NONE


def test_refill_today_never_acknowledged_clears_with_the_refill():
    """req: R-009"""
    today = 1 << A.REFILL_TODAY
    r = _raised(today, 1000)
    r.cond = 0
    r.run(100)
    assert r.names() == ["alarm_raised", "alarm_cleared"]


def test_new_alarm_ends_a_pause():
    """req: R-017"""
    r = _raised(LOW, 1000)
    r.press(300)
    assert r.m.sound_kind() == A.KIND_NONE
    r.cond = LOW | FLOW_SENSOR
    r.run(100)
    assert r.names()[-2:] == ["alarm_raised", "audio_resumed"]
    assert r.m.sound_kind() == A.KIND_MALFUNCTION


def test_highest_priority_is_annunciated_all_are_shown():
    """req: R-016"""
    r = Rig()
    r.cond = LOW | FLOW_SENSOR | NO_FLOW
    r.run(100)
    assert r.m.shown == LOW | FLOW_SENSOR | NO_FLOW
    assert r.m.sound_kind() == A.KIND_NO_FLOW
    assert len([e for e in r.events if e[1] == "alarm_raised"]) == 3
    r.cond = LOW | FLOW_SENSOR
    r.run(100)
    r.press(2500)    # acknowledges all three; the latched no_flow clears
    assert r.m.shown == LOW | FLOW_SENSOR
    r.run(121000)
    assert r.m.sound_kind() == A.KIND_MALFUNCTION


def test_press_without_alarm_does_nothing():
    """req: R-017"""
    r = Rig()
    r.press(300)
    r.press(2500)
    assert r.events == []


def test_bounce_shorter_than_30ms_is_ignored():
    """req: R-017"""
    r = _raised(NO_FLOW, 100)
    r.button = 1
    r.run(10, step=10)
    r.button = 0
    r.run(10, step=10)   # released 10 ms after the press
    r.run(1000)
    assert r.names() == ["alarm_raised"]


def test_restore_keeps_latched_alarms():
    """req: R-024"""
    r = Rig()
    r.m.restore(NO_FLOW | LOW, LOW)
    assert r.m.sound_kind() == A.KIND_NO_FLOW
    r.run(100)      # condition absent after reset: still latched (high)
    assert r.m.shown & NO_FLOW


def test_restored_alarm_is_present_until_judged_again():
    # a reset during no_flow: after boot the flow window is empty for 10 min;
    # a long press then must not clear the danger, only pause it
    """req: R-024"""
    from fakeboard import FakeBoard

    from pumpmon.runner import Runner
    b = FakeBoard(ticks_add(0, -5000))
    b.flow = 0
    r = Runner(b, Config({"rate_ul_h": 30}))
    r.monitor.restore(NO_FLOW, 0)
    r.run(100 * 5)
    b.btn = 1
    r.run(100 * 3)
    b.btn = 0
    r.run(100 * 5)
    mg = r.monitor.manager
    assert mg.shown & NO_FLOW and mg.acked & NO_FLOW and mg.paused
    r.run(100 * 60 * 3)            # the pause ends: it sounds again
    assert mg.sound_kind() == A.KIND_NO_FLOW
    r.run(100 * 60 * 9)            # judged: still no flow, still shown
    assert mg.shown & NO_FLOW and r.monitor.restored == 0


def test_restored_alarm_whose_condition_is_gone_latches():
    """req: R-024"""
    from fakeboard import FakeBoard

    from pumpmon.runner import Runner
    b = FakeBoard(ticks_add(0, -5000))
    r = Runner(b, Config({"rate_ul_h": 30}))
    r.monitor.restore(NO_FLOW, 0)
    r.run(100 * 60 * 11)           # flow is normal: judged absent after 10 min
    mg = r.monitor.manager
    assert mg.shown & NO_FLOW      # still latched: nobody acknowledged it
    b.btn = 1
    r.run(100 * 3)
    b.btn = 0
    r.run(100)
    assert not mg.shown & NO_FLOW


def test_escalation_counts_from_the_first_unacknowledged_high_alarm():
    # issue 22: the one escalation timer (manager.escalated)
    """req: R-060"""
    r = Rig()
    r.cond = LOW                    # a medium alarm never escalates
    r.run(15 * 60000, step=1000)
    assert "escalated" not in r.names() and r.m.escalated == 0
    r.cond = LOW | NO_FLOW
    r.run(600000, step=1000)        # the timer starts at the first update that sees it
    assert r.m.escalated == 0
    r.cond = LOW | NO_FLOW | FLOW_SENSOR   # a second high alarm: the timer runs on
    r.run(1000, step=1000)
    assert r.m.escalated == 1 and r.names()[-1] == "escalated"
    assert r.events[-1][2] == A.NO_FLOW
    r.press(2500)                    # acknowledged: the escalation ends
    assert r.m.escalated == 0
    # acknowledged and still present: it pauses, sounds again, never escalates again
    r.run(30 * 60000, step=1000)
    assert r.names().count("escalated") == 1
    # a new high alarm after the acknowledgement starts its own 10 minutes
    r.cond = LOW | NO_FLOW | FLOW_SENSOR | (1 << A.MISMATCH)
    r.run(600000, step=1000)
    assert r.m.escalated == 0
    r.run(1000, step=1000)
    assert r.m.escalated == 1 and r.events[-1][1:] == ("escalated", A.MISMATCH)


def test_restored_unacknowledged_high_alarm_escalates_from_boot():
    """req: R-060"""
    r = Rig()
    r.m.restore(NO_FLOW, 0)
    r.cond = NO_FLOW
    r.run(600000, step=1000)        # the first update after the restore starts it
    assert r.m.escalated == 0
    r.run(1000, step=1000)
    assert r.m.escalated == 1


def test_a_reset_never_restarts_the_escalation_timer():
    """req: R-060"""
    from pumpmon.manager import ESC_DONE
    r = Rig()
    r.cond = NO_FLOW
    r.run(7 * 60000, step=1000)
    t = ticks_add(r.t0, r.t)
    esc = r.m.escalation_s(t)
    assert 7 * 60 - 2 <= esc <= 7 * 60 and r.m.escalated == 0
    # the state file's value into a new manager (the board after a reset)
    r2 = Rig()
    r2.m.restore(NO_FLOW, 0, esc, ticks_add(r2.t0, r2.t))
    r2.cond = NO_FLOW
    r2.run((10 * 60 - esc - 1) * 1000, step=1000)
    assert r2.m.escalated == 0 and r2.m.escalation_s(ticks_add(r2.t0, r2.t)) < 600
    r2.run(2000, step=1000)
    assert r2.m.escalated == 1 and r2.events[-1][1:] == ("escalated", A.NO_FLOW)
    assert r2.m.escalation_s(ticks_add(r2.t0, r2.t)) == ESC_DONE
    # escalated before the reset: escalated again at the first update
    r3 = Rig()
    r3.m.restore(NO_FLOW, 0, ESC_DONE, ticks_add(r3.t0, r3.t))
    r3.cond = NO_FLOW
    r3.run(1000, step=1000)
    assert r3.m.escalated == 1 and r3.names() == ["escalated"]
    # nothing unacknowledged and high restored: the saved timer means nothing
    for shown, acked in ((NO_FLOW, NO_FLOW), (LOW, 0)):
        r4 = Rig()
        r4.m.restore(shown, acked, ESC_DONE, ticks_add(r4.t0, r4.t))
        r4.cond = shown
        r4.run(60000, step=1000)
        assert r4.m.escalated == 0 and r4.m.escalation_s(ticks_add(r4.t0, r4.t)) == 0


def test_short_press_while_paused_puts_the_sound_back_on():
    # issue 22: a paused sound can be put back on at once, and it is logged
    """req: R-061"""
    r = _raised(NO_FLOW, 1000)
    r.press(300)
    assert r.names()[-1] == "audio_paused" and r.m.sound_kind() == A.KIND_NONE
    r.run(30000)
    r.press(300)                     # 30 s into the pause
    assert r.names()[-1] == "audio_resumed" and r.m.paused == 0
    assert r.m.sound_kind() == A.KIND_NO_FLOW
    t_back = r.events[-1][0]
    r.run(200000)                    # no second resume when the old pause would end
    assert r.names().count("audio_resumed") == 1
    r.press(300)                     # and the next short press pauses again
    assert r.names()[-1] == "audio_paused" and r.events[-1][0] > t_back
    # a medium alarm acknowledged: a short press pauses nothing new, resumes a pause
    r2 = Rig()
    r2.cond = LOW
    r2.run(1000)
    r2.press(300)
    r2.press(300)
    assert r2.names() == ["alarm_raised", "audio_paused", "audio_resumed"]
    assert r2.m.sound_kind() == A.KIND_LOW_RESERVOIR


def test_faults_that_leave_the_stop_test_working_remind_hourly_others_every_2_min():
    # issue 22, docs/alarm-policy.md: an acknowledged level sensor fault (the
    # flow sensor still judges a stop) is quiet until reminder_min, light on;
    # a flow sensor fault (the stop test blind) and every danger sound again
    # after the 2-minute pause, as before
    """req: R-059"""
    level = 1 << A.LEVEL_SENSOR
    assert A.priority_of(A.LEVEL_SENSOR) == A.HIGH and A.QUIET_MASK & level
    for bit in (A.NO_FLOW, A.EMPTY, A.OVER_DELIVERY, A.FLOW_SENSOR, A.PARTIAL_LONG,
                A.INTERNAL, A.MISMATCH, A.REFILL_TODAY, A.REFILL_TIMEOUT):
        assert not A.QUIET_MASK & (1 << bit), bit
    r = _raised(level, 1000)
    assert r.m.sound_kind() == A.KIND_MALFUNCTION
    r.press(2500)
    r.run(59 * 60000, step=1000)
    assert r.m.sound_kind() == A.KIND_NONE and r.m.light_kind() == A.KIND_MALFUNCTION
    assert r.m.escalated == 0
    r.run(2 * 60000, step=1000)
    assert r.m.sound_kind() == A.KIND_MALFUNCTION and r.names()[-1] == "audio_resumed"
    # unanswered after the reminder: it escalates like any high alarm
    r.run(10 * 60000, step=1000)
    assert r.m.escalated == 1
    r2 = Rig()
    r2.cond = FLOW_SENSOR
    r2.run(1000)
    r2.press(2500)
    r2.run(121000, step=1000)
    assert r2.m.sound_kind() == A.KIND_MALFUNCTION


def test_a_reminder_is_one_burst_and_needs_no_press():
    # issue 22: the hourly reminder of an acknowledged medium alarm sounds one
    # burst (15 s), then is quiet again for another hour; a press meanwhile
    # acknowledges it as before. A high one (level sensor) sounds until pressed.
    """req: R-059"""
    r = _raised(LOW, 1000)
    r.press(2500)
    r.run(3600 * 1000, step=1000)
    assert r.names()[-1] == "audio_resumed" and r.m.sound_kind() == A.KIND_LOW_RESERVOIR
    t_rem = r.events[-1][0]
    r.run(16000, step=1000)
    assert r.m.sound_kind() == A.KIND_NONE and r.m.light_kind() == A.KIND_LOW_RESERVOIR
    assert r.names()[-1] == "audio_resumed"          # nothing logged for going quiet
    r.run(3600 * 1000, step=1000)
    rem = [e[0] for e in r.events if e[1] == "audio_resumed"]
    assert len(rem) == 2 and 3600 * 1000 <= rem[1] - t_rem <= 3600 * 1000 + 17000
    level = 1 << A.LEVEL_SENSOR
    r2 = Rig()
    r2.cond = level
    r2.run(1000)
    r2.press(2500)
    r2.run(3605 * 1000, step=1000)
    assert r2.m.sound_kind() == A.KIND_MALFUNCTION
    r2.run(120 * 1000, step=1000)
    assert r2.m.sound_kind() == A.KIND_MALFUNCTION    # a high one waits for a press
