# The carers' link at the bedside (docs/carer.md): a lost link is a
# low-priority technical indication, not latched, and the alarm management
# treats it as one (quiet once acknowledged until the reminder, cleared with
# the link, never over a danger). Runs on CPython and the MicroPython ports.
from pumpmon import alarms as A
from pumpmon.config import Config
from pumpmon.monitor import Monitor

BIT = 1 << A.CARER_LINK


def test_lost_link_is_a_low_technical_indication_not_latched():
    """req: R-046"""
    kind, prio, cause = A.TABLE[A.CARER_LINK]
    assert prio == A.LOW and cause == "carer_link"
    assert A.KIND_NAMES[kind] == "monitoring_interrupted"
    assert not BIT & A.LATCH_MASK and BIT & A.QUIET_MASK and BIT & A.REMIND_MASK


def test_acknowledged_lost_link_is_quiet_until_the_reminder_and_clears_with_the_link():
    """req: R-046"""
    cfg = Config({"rate_ul_h": 30})
    events = []
    m = Monitor(cfg, 0, lambda c, cond, d: events.append((c, cond)))
    m.link_lost(1)
    m.poll(10, 0)
    assert m.manager.shown == BIT and (1, A.CARER_LINK) in events
    assert m.manager.sound_kind() == A.KIND_INTERRUPTED
    m.manager.acknowledge(20)
    m.poll(30, 0)
    assert m.manager.sound_kind() == A.KIND_NONE          # quiet
    assert m.manager.light_kind() == A.KIND_INTERRUPTED   # still shown
    m.poll(20 + cfg.reminder_ms + 10, 0)
    assert m.manager.sound_kind() == A.KIND_INTERRUPTED   # sounds again after an hour
    m.link_lost(0)
    m.poll(20 + cfg.reminder_ms + 20, 0)
    assert m.manager.shown == 0 and (3, A.CARER_LINK) in events
    # a danger still wins the sound over the technical indication
    m.link_lost(1)
    m.manager.update(0, (1 << A.NO_FLOW) | BIT, 0)
    assert m.manager.sound_kind() == A.KIND_NO_FLOW
