# Bedside escalation (issue 22; docs/alarm-policy.md): a high-priority alarm
# that nobody acknowledges for escalation_min (10 min, settable 5-10) changes
# to the escalated signal: event `escalated`, the burst every 4 s instead of
# 6 s, and the board's second sounder with the pulses. The main loop on the
# in-memory board, 10 ms passes, nobody pressing. CPython and the unix ports.
from fakeboard import FakeBoard

from pumpmon import alarms as A
from pumpmon import patterns as P
from pumpmon.clock import ticks_add, ticks_diff
from pumpmon.config import Config
from pumpmon.events import NAMES
from pumpmon.runner import Runner

PASSES_PER_MIN = 100 * 60


def _stopped(extra=None):
    """A runner whose flow stops after 11 min; (board, runner, events)."""
    values = {"rate_ul_h": 30}
    values.update(extra or {})
    b = FakeBoard(ticks_add(0, -20000))       # crosses the ticks wrap
    events = []

    def sink(code, cond, detail, runner):
        events.append((runner.board.t, NAMES[code], cond))
    r = Runner(b, Config(values), [sink])
    r.run(PASSES_PER_MIN * 11)
    b.flow = 0
    return b, r, events


def _at(events, name, cond=None):
    for t, n, c in events:
        if n == name and (cond is None or c == cond):
            return t
    return None


def _bursts(tones, after, before=None):
    """Start times of the bursts (a tone after 0.9 s or more of silence)
    between `after` and `before` (tones: the board's (t, hz) changes)."""
    out = []
    off = None
    for t, h in tones:
        if h:
            if off is not None and ticks_diff(t, off) >= 900 and ticks_diff(t, after) >= 0 \
                    and (before is None or ticks_diff(t, before) < 0):
                out.append(t)
            off = None
        elif off is None:
            off = t
    return out


def test_unanswered_high_alarm_escalates_at_ten_minutes():
    """req: R-060"""
    b, r, events = _stopped()
    r.run(PASSES_PER_MIN * 3)
    t_raise = _at(events, "alarm_raised", A.NO_FLOW)
    assert t_raise is not None
    assert _at(events, "escalated") is None
    assert b.sirens == [] and r.monitor.manager.escalated == 0
    r.run(PASSES_PER_MIN * 10)
    t_esc = _at(events, "escalated", A.NO_FLOW)
    assert t_esc is not None, events
    assert abs(ticks_diff(t_esc, t_raise) - 600000) <= 1000, ticks_diff(t_esc, t_raise)
    assert r.monitor.manager.escalated == 1
    # the burst: every 6 s before, every 4.4 s after, the same melody
    before = _bursts(b.tones, t_raise, t_esc)
    after = _bursts(b.tones, t_esc)
    gaps_before = set(ticks_diff(before[i + 1], before[i]) for i in range(len(before) - 1))
    gaps_after = set(ticks_diff(after[i + 1], after[i]) for i in range(len(after) - 1))
    assert len(before) > 50 and gaps_before == {P.REPEAT_HIGH}, gaps_before
    assert len(after) > 5 and gaps_after == {P.REPEAT_ESCALATED}, gaps_after
    assert P.REPEAT_ESCALATED < P.REPEAT_HIGH
    # the second sounder sounds with the escalated pulses, and only then
    assert b.sirens and all(ticks_diff(t, t_esc) >= 0 for t, _on in b.sirens)
    ons = [t for t, on in b.sirens if on]
    tone_on = set(t for t, h in b.tones if h)
    assert ons and all(t in tone_on for t in ons)
    # a long press acknowledges: the escalation ends, the second sounder is off
    b.btn = 1
    r.run(250)
    b.btn = 0
    r.run(100)
    assert r.monitor.manager.escalated == 0 and b.siren == 0
    assert _at(events, "alarm_acknowledged", A.NO_FLOW) is not None


def test_escalation_sooner_when_set_and_a_pause_does_not_stop_it():
    """req: R-060"""
    b, r, events = _stopped({"escalation_min": 5})
    r.run(PASSES_PER_MIN * 3)
    t_raise = _at(events, "alarm_raised", A.NO_FLOW)
    assert t_raise is not None
    b.btn = 1                       # a short press: the sound pauses for 2 min
    r.run(30)
    b.btn = 0
    r.run(PASSES_PER_MIN * 6)
    assert _at(events, "audio_paused") is not None
    t_esc = _at(events, "escalated", A.NO_FLOW)
    assert t_esc is not None
    assert abs(ticks_diff(t_esc, t_raise) - 300000) <= 1000, ticks_diff(t_esc, t_raise)
