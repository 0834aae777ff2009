"""Monitor.poll skips a pass that would change nothing (the manager idle, the
annunciator still, the same conditions, no button): what changes the manager
from outside the pass must poll afresh. Runs on CPython and the unix ports."""
from pumpmon import alarms as A
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.monitor import Monitor

RATE = 300          # 30 uL/h in 0.1 uL/h


def _quiet(m, now, seconds, level=20000):
    for i in range(seconds):
        now = ticks_add(now, 1000)
        m.step(now, level, RATE + i % 5 - 2, 0, 0, 0)   # (a flow that never changes is stuck)
    return now


def test_an_idle_monitor_skips_and_a_restore_polls_afresh():
    """req: R-060"""
    cfg = Config({"rate_ul_h": 30.0})
    m = Monitor(cfg, 0, lambda code, cond, detail: None)
    now = _quiet(m, 0, 900)                     # flow judged: green, nothing to do
    assert m.engine.judged & (1 << A.NO_FLOW) and not m.manager.shown
    assert m.manager.idle and m.ann.still and m._idle_key >= 0
    # a reset restored an unacknowledged no_flow alarm (the flow is judged
    # again at once here: the condition mask does not change)
    m.restore(1 << A.NO_FLOW, 0)
    now = _quiet(m, now, 2)
    assert m.manager.shown & (1 << A.NO_FLOW)
    assert m.ann.tone_hz or m.ann.sound != A.KIND_NONE   # it sounds
    now = _quiet(m, now, cfg.escalation_ms // 1000 + 5)
    assert m.manager.escalated == 1             # and escalates unanswered


def test_a_change_to_the_manager_from_outside_a_pass_is_never_skipped():
    """req: R-060"""
    cfg = Config({"rate_ul_h": 30.0})
    m = Monitor(cfg, 0, lambda code, cond, detail: None)
    now = _quiet(m, 0, 900)
    assert m._idle_key >= 0 and m.ann.sound == A.KIND_NONE
    # shown and acknowledged set from outside a pass without restore() (as
    # the store does when a fixed configuration clears its latch): the same
    # conditions, no button, yet the next pass must act on it
    m.manager.shown |= 1 << A.NO_FLOW
    now = _quiet(m, now, 2)
    assert m.ann.sound != A.KIND_NONE and m.ann.tone_hz, "a shown alarm left silent"
