# Issue 17: the low reservoir. Days to empty along the programmed schedule,
# the escalation to refill_today (high) at 1 day / 1 mL, no escalation when a
# refill comes first, and refill mode ending the alarm only when the level
# really rose. Runs on CPython and on the MicroPython unix port.
from pumpmon import alarms as A
from pumpmon import patterns as P
from pumpmon import reservoir as R
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.events import NAMES, to_json
from pumpmon.monitor import Monitor

H = 3600
MIN = 60


def _sched(cfg):
    r = R.Reservoir(cfg)
    return r._starts, r._rates, r._daily


# ---- days to empty (pure) ------------------------------------------------------
def test_minutes_to_empty_constant_rate():
    """req: R-008"""
    c = Config({"rate_ul_h": 30})
    s, r, d = _sched(c)
    # 18 mL at 30 uL/h: 600 h, whatever the time of day
    assert R.minutes_to_empty(18000, 0, s, r, d) == 600 * 60
    assert R.minutes_to_empty(18000, 17 * 60 + 3, s, r, d) == 600 * 60
    assert R.minutes_to_empty(15, 0, s, r, d) == 30       # 15 uL: half an hour
    assert R.minutes_to_empty(0, 0, s, r, d) == 0
    assert R.minutes_to_empty(-40, 0, s, r, d) == 0


def test_minutes_to_empty_follows_a_day_program():
    # night 10 uL/h, day (08:00-20:00) 100 uL/h: 1320 uL a day, mean 55 uL/h
    """req: R-008"""
    c = Config({"schedule": "00:00/10;08:00/100;20:00/10"})
    s, r, d = _sched(c)
    naive = 600 * 1440 // 1320           # level / mean rate: 654 min
    # 0.6 mL at 08:00: the high day rate empties it in 6 h, not 10.9 h
    assert R.minutes_to_empty(600, 8 * 60, s, r, d) == 360
    assert naive == 654
    # the same 0.6 mL at 20:00: 12 h of night (120 uL), then 4.8 h of day
    assert R.minutes_to_empty(600, 20 * 60, s, r, d) == 12 * 60 + 288
    # at 19:00: 1 h of day (100 uL), 12 h of night (120 uL), 3.8 h of day
    assert R.minutes_to_empty(600, 19 * 60, s, r, d) == 60 + 720 + 228
    # whole days first, then the walk: 3 days + 0.6 mL from 08:00
    assert R.minutes_to_empty(3 * 1320 + 600, 8 * 60, s, r, d) == 3 * 1440 + 360


def test_minutes_to_empty_edges():
    # a schedule that starts after midnight wraps; a zero-rate night waits
    # (a configuration refuses a zero segment; the fallback's arithmetic copes)
    """req: R-008"""
    c = Config({"schedule": "08:00/120;20:00/0"}, fallback=True)
    s, r, d = _sched(c)
    assert d == 120 * 10 * 12 * 60
    assert R.minutes_to_empty(240, 22 * 60, s, r, d) == 10 * 60 + 120   # 10 h of nothing
    # exactly one day's volume: empty at 20:00, not 08:00 the next day
    assert R.minutes_to_empty(1440, 8 * 60, s, r, d) == 720
    assert R.minutes_to_empty(2880, 8 * 60, s, r, d) == 1440 + 720
    assert R.minutes_to_empty(2880, 20 * 60, s, r, d) == 12 * 60 + 1440 + 720
    # nothing programmed: never empties (not known)
    z = Config({"rate_ul_h": 0, "pump_stopped": True})
    assert R.minutes_to_empty(5000, 0, *_sched(z)) == R.UNKNOWN
    # the lowest rate allowed (the floor, 1.5 uL/h) and a full reservoir stay a
    # small int (capped at 999 days)
    t = Config({"rate_ul_h": 1.5, "reservoir_capacity_ml": 100})
    m = R.minutes_to_empty(126000, 0, *_sched(t))
    assert m == R.CAP_DAYS * 1440 and m < 1 << 30
    # the largest product: 5000 uL/h over a whole day, 126 mL
    f = Config({"rate_ul_h": 5000, "reservoir_capacity_ml": 100})
    s, r, d = _sched(f)
    assert d < 1 << 30 and 126000 * 600 < 1 << 30
    assert R.minutes_to_empty(126000, 0, s, r, d) == 126000 * 60 // 5000


# ---- the monitor on clean synthetic readings -------------------------------------
class Rig:
    """A Monitor stepped once a second with noise-free readings: the level
    falls as programmed, the flow reads the programmed rate (+-0.1 uL/h)."""

    def __init__(self, values, level_ul, tod_s=0):
        self.cfg = Config(values)
        self.t0 = ticks_add(0, -60000)
        self.t = 0
        self.events = []       # (t_s, event, cause, priority, minutes)
        self.base = level_ul   # level = base - delivered
        self.dv = 0            # delivered, 1/36000 uL (0.1 uL/h for a second)
        self.tod0 = tod_s
        self.m = Monitor(self.cfg, self.t0, self._on_event, tod_s)

    def _on_event(self, code, cond, detail):
        cause = prio = None
        if cond >= 0:
            cause = A.TABLE[cond][2]
            prio = A.PRIORITY_NAMES[A.TABLE[cond][1]]
        self.events.append((self.t, NAMES[code], cause, prio,
                            self.m.engine.reservoir.minutes))

    def run(self, seconds, button=0, refill=0, level_to=None):
        """seconds of delivery; level_to: a refill ramps the level there (uL)."""
        end = self.t + seconds
        while self.t < end:
            rate = self.cfg.rate_at((self.tod0 + self.t) % 86400)   # 0.1 uL/h
            self.dv += rate
            if level_to is not None:
                self.base += (level_to - self.level()) // 10
            self.t += 1
            self.m.step(ticks_add(self.t0, self.t * 1000), self.level(),
                        rate + (self.t % 3) - 1, 0, button, refill)
        return self

    def level(self):
        return self.base - self.dv // 36000

    def press(self, seconds):
        self.run(seconds, button=1)
        return self.run(1)

    def raised(self, cause=None):
        return [e for e in self.events if e[1] == "alarm_raised" and cause in (None, e[2])]

    def shown(self, cond):
        return bool(self.m.manager.shown & (1 << cond))


def test_escalation_at_one_day_left_is_high_with_its_own_pattern():
    # 100 uL/h = 2.4 mL a day; 2.6 mL is 26 h: volume and days_to_empty at
    # once, refill_today when 1 day is left (2.4 mL, after 2 h)
    """req: R-009"""
    g = Rig({"rate_ul_h": 100}, 2600)
    g.run(2 * H - 5 * MIN)
    assert g.raised("volume") and g.raised("days_to_empty")
    assert not g.raised("refill_today")
    assert g.m.manager.sound_kind() == A.KIND_LOW_RESERVOIR
    g.run(10 * MIN)
    up = g.raised("refill_today")
    assert up, g.events
    t, _ev, _c, prio, minutes = up[0]
    assert 2 * H - 60 <= t <= 2 * H + 60, t          # EMA and the 10 s judgement
    assert prio == "high" and minutes <= 1440
    mg = g.m.manager
    assert mg.sound_kind() == A.KIND_REFILL_TODAY and mg.light_kind() == A.KIND_REFILL_TODAY
    # its own sound and light: not no_flow's
    assert P.SOUND[A.KIND_REFILL_TODAY] != P.SOUND[A.KIND_NO_FLOW]
    assert P.LIGHT[A.KIND_REFILL_TODAY] != P.LIGHT[A.KIND_NO_FLOW]
    # what the annunciator plays over the next 10 s: the general melody
    # (C4 only) and red flashes, 10 pulses a burst
    tones = []
    leds = []
    now = ticks_add(g.t0, g.t * 1000)
    for k in range(1000):
        g.m.ann.tick(ticks_add(now, k * 10))
        tones.append(g.m.ann.tone_hz)
        leds.append(g.m.ann.led)
    assert sorted(set(tones)) == [0, P.C4]
    assert sorted(set(leds)) == [0, P.RED]
    starts = [k for k in range(1, 1000) if tones[k] and not tones[k - 1]]
    assert 9 <= len(starts) + (1 if tones[0] else 0) <= 10


def test_refill_today_by_the_days_alone_never_by_the_ml():
    # issue 22 (docs/alarm-policy.md): 40 uL/h = 0.96 mL a day; 1.06 mL is
    # 1.1 days: the old 1 mL floor raised refill_today after 80 min; now it
    # waits for the day (at 0.96 mL, 2.5 h in), high from then on
    """req: R-009, R-059"""
    g = Rig({"rate_ul_h": 40}, 1060)
    g.run(140 * MIN)
    assert not g.raised("refill_today")
    g.run(20 * MIN)
    up = g.raised("refill_today")
    assert up and 150 * MIN - 60 <= up[0][0] <= 150 * MIN + 60, g.events
    assert up[0][4] <= 1440 and up[0][3] == "high"


def test_one_ml_left_at_a_low_rate_is_medium_with_hourly_reminders():
    # 0.9 mL at 2 uL/h is 18 days: low_reservoir/volume (medium), never
    # refill_today; acknowledged, it sounds again each hour (reminder_min).
    # A configuration that sets refill_today_ml still loads.
    """req: R-059"""
    g = Rig({"rate_ul_h": 2, "refill_today_ml": 1.0}, 900)
    g.run(5 * MIN)
    assert [e[2] for e in g.raised()] == ["volume"] and g.raised()[0][3] == "medium"
    g.press(3)
    mg = g.m.manager
    assert mg.sound_kind() == A.KIND_NONE
    g.run(6 * H)
    assert not g.raised("refill_today")
    # each reminder one burst, no press needed: quiet again, the next an hour on
    resumed = [e[0] for e in g.events if e[1] == "audio_resumed"]
    assert len(resumed) == 5 and 60 * MIN <= resumed[0] - 5 * MIN <= 60 * MIN + 10
    assert all(60 * MIN <= b - a <= 60 * MIN + 20 for a, b in zip(resumed, resumed[1:]))
    assert mg.sound_kind() == A.KIND_NONE and mg.light_kind() == A.KIND_LOW_RESERVOIR


def test_escalated_alarm_pauses_but_never_goes_until_the_refill():
    """req: R-009"""
    g = Rig({"rate_ul_h": 100}, 2300)          # < 1 day left from the start
    g.run(5 * MIN)
    assert g.raised("refill_today")
    g.press(3)                                  # acknowledge: only a pause
    mg = g.m.manager
    assert mg.paused and g.shown(A.REFILL_TODAY)
    g.run(2 * MIN + 5)
    assert mg.sound_kind() == A.KIND_REFILL_TODAY
    g.press(3)
    g.run(H)
    assert g.shown(A.REFILL_TODAY) and mg.sound_kind() == A.KIND_REFILL_TODAY
    # the refill (refill mode, level to 19 mL) ends it and the medium ones
    g.run(3 * MIN, refill=1, level_to=19000)
    g.run(MIN)
    assert not mg.shown, g.events
    cleared = [e[2] for e in g.events if e[1] == "alarm_cleared"]
    assert sorted(cleared) == ["days_to_empty", "refill_today", "volume"]


def test_no_escalation_when_a_refill_comes_first():
    # 2.8 mL at 100 uL/h: refill_today would come at 4 h; refilled at 1 h
    """req: R-009"""
    g = Rig({"rate_ul_h": 100}, 2800)
    g.run(H)
    assert g.raised("volume") and not g.raised("refill_today")
    g.run(3 * MIN, refill=1, level_to=19000)
    g.run(5 * H)
    assert not g.raised("refill_today"), g.events
    assert not g.m.manager.shown


def test_schedule_aware_escalation_with_a_high_daytime_rate():
    # night 20 uL/h, day (08:00-20:00) 200 uL/h: 2.64 mL a day. With half a
    # day as the escalation: 2.395 mL at 08:00 lasts 12 h of daytime delivery,
    # so refill_today comes at 08:00, although level / mean rate says 21.8 h
    """req: R-008"""
    values = {"schedule": "00:00/20;08:00/200;20:00/20", "refill_today_days": 0.5,
              "refill_today_ml": 0.5, "low_reservoir_days": 2}
    g = Rig(values, 2415, tod_s=7 * H)
    g.run(10)
    m0 = g.m.engine.reservoir.minutes
    assert 60 + 715 <= m0 <= 60 + 720, m0       # 1 h of night, then 718 min of day
    g.run(H - 5 * MIN)                          # until 07:55
    assert not g.raised("refill_today")
    g.run(10 * MIN)
    up = g.raised("refill_today")
    assert up and H - 5 * MIN <= up[0][0] <= H + 5 * MIN, g.events
    assert up[0][4] <= 720
    naive = g.m.engine.level.ul * 1440 // 2640  # level / mean daily rate, minutes
    assert naive > 1200, naive


def test_refill_mode_ends_the_alarm_only_when_the_level_rose():
    # 3.9 mL at 20 uL/h (8 days left): low_reservoir/volume only
    """req: R-009"""
    g = Rig({"rate_ul_h": 20}, 3900)
    g.run(5 * MIN)
    assert g.shown(A.LOW_VOLUME) and not g.shown(A.LOW_DAYS)
    mg = g.m.manager
    # refill mode on and off, nothing added
    g.run(5 * MIN, refill=1)
    g.run(5 * MIN)
    assert g.shown(A.LOW_VOLUME)
    # a top-up to 4.5 mL: clear of the 4.0 mL threshold and its 0.3 mL
    # hysteresis, but less than 1 mL above the lowest level: not a refill
    g.run(2 * MIN, refill=1, level_to=4500)
    g.run(5 * MIN)
    assert g.m.engine.level.ul > 4400
    assert g.shown(A.LOW_VOLUME), g.events
    # a wild reading for 15 s in refill mode (a pressure transient) ends nothing
    g.base += 11000
    g.run(15, refill=1)
    g.base -= 11000
    g.run(MIN, refill=1)
    g.run(2 * MIN)
    assert g.shown(A.LOW_VOLUME), g.events
    assert not [e for e in g.events if e[1] == "alarm_cleared"]
    # a real refill ends it (within the refill, once the rise held 30 s)
    g.run(3 * MIN, refill=1, level_to=19000)
    assert not g.shown(A.LOW_VOLUME), g.events
    assert mg.light_kind() == A.KIND_NONE


def test_hourly_reminder_on_the_monitor():
    """req: R-008"""
    g = Rig({"rate_ul_h": 20}, 3500)           # 7 days left: medium only
    g.run(MIN)
    assert g.raised("volume") and not g.raised("refill_today")
    g.press(3)
    assert g.m.manager.sound_kind() == A.KIND_NONE
    g.run(H - MIN)
    assert g.m.manager.sound_kind() == A.KIND_NONE
    g.run(MIN + 5)                              # the reminder: one burst (15 s)
    assert g.m.manager.sound_kind() == A.KIND_LOW_RESERVOIR
    assert g.events[-1][1] == "audio_resumed"
    g.run(20)
    assert g.m.manager.sound_kind() == A.KIND_NONE  # quiet again without a press


# ---- days to empty in the events ---------------------------------------------------
def test_hours_to_empty_is_the_last_key_of_low_reservoir_events():
    line = to_json(12000, 1, A.LOW_VOLUME, 0, 1500)
    assert line == ('{"t_ms":12000,"event":"alarm_raised","alarm":"low_reservoir",'
                    '"priority":"medium","cause":"volume","hours_to_empty":25}')
    line = to_json(5, 4, A.REFILL_TODAY, 0, 59)
    assert line.endswith('"priority":"high","cause":"refill_today","hours_to_empty":0}')
    # other alarms, and a time not known: no key
    assert "hours" not in to_json(5, 1, A.NO_FLOW, 0, 1500)
    assert "hours" not in to_json(5, 1, A.LOW_VOLUME, 0, -1)
    assert "hours" not in to_json(5, 5, -1, 0, 1500)


def test_replay_logs_days_to_empty_with_each_low_reservoir_event():
    from host_tools.replay.driver import replay
    lines = []
    cfg = Config({"rate_ul_h": 100})
    samples = [(t * 1000, 2600 - t * 100 // 3600, 999 + t % 3, 0, 0, 0)
               for t in range(2 * H + 5 * MIN)]
    replay(cfg, samples, lines.append)
    low = [x for x in lines if '"low_reservoir"' in x]
    assert len(low) == 3, lines
    for x in low:
        assert x.rstrip().endswith("}") and '"hours_to_empty":' in x
    # 2.6 mL at 100 uL/h: ~26 h when raised; refill_today at 24 h
    assert '"cause":"volume","hours_to_empty":25}' in low[0] or \
        '"cause":"volume","hours_to_empty":26}' in low[0]
    assert '"cause":"refill_today","hours_to_empty":23}' in low[2] or \
        '"cause":"refill_today","hours_to_empty":24}' in low[2]
