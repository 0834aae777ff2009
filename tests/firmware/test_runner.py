# The main loop around the core, on a fake board.
from fakeboard import FakeBoard

from pumpmon import alarms as A
from pumpmon import patterns as P
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.runner import Runner, load_config


def _runner(sinks=()):
    b = FakeBoard(ticks_add(0, -20000))
    r = Runner(b, Config({"rate_ul_h": 30}), sinks)
    return b, r


def test_normal_delivery_is_quiet_and_green():
    """req: R-002"""
    b, r = _runner()
    r.run(100 * 60 * 15)          # 15 minutes of 10 ms loop passes
    assert b.tone == 0 and b.led == P.GREEN
    assert b.fed >= 100 * 60 * 15


def test_stop_sounds_no_flow_and_logs_first():
    """req: R-001, R-022"""
    order = []

    def sink(code, cond, detail, runner):
        order.append((code, cond, runner.board.tone))

    b, r = _runner([sink])
    r.run(100 * 60 * 11)
    b.flow = 0
    r.run(100 * 60 * 12)
    assert order and order[0][:2] == (1, A.NO_FLOW)
    assert order[0][2] == 0       # the event reached the sink before any sound
    assert any(hz == P.C5 for _t, hz in b.tones)
    assert b.led in (P.RED, P.OFF)


def test_failing_sink_raises_internal_and_monitoring_goes_on():
    """req: R-037"""
    def bad(code, cond, detail, runner):
        raise OSError(28)

    b, r = _runner([bad])
    b.flow = None                 # flow sensor silent: an event, the sink fails
    r.run(100 * 30)
    shown = r.monitor.manager.shown
    assert shown & (1 << A.FLOW_SENSOR) and shown & (1 << A.INTERNAL)
    # the malfunction melody (C5 C4 C4 - C5 C4), whole: not just any sound
    heard = [hz for _t, hz in b.tones if hz]
    pattern = P.SOUND[A.KIND_MALFUNCTION]       # (Hz, on, off) triples
    melody = [pattern[i] for i in range(0, len(pattern), 3) if pattern[i]]
    assert heard[:len(melody)] == melody, heard
    assert b.led in (P.RED, P.OFF)


def test_bad_config_file_gives_fallback_and_reason():
    """req: R-041"""
    cfg, err = load_config("/nonexistent/config.json")
    assert cfg.sched_rate == [0] and "cannot read" in err


def test_time_of_day_from_the_board_clock():
    """req: R-044"""
    from pumpmon.runner import time_of_day
    b = FakeBoard()
    sched = Config({"schedule": "00:00/30;08:00/55"})
    b.wall = 1700000000            # 2023-11-14 22:13:20
    assert time_of_day(b, sched) == (1700000000 % 86400, None)
    b.wall = 0                     # clock not set: a changing schedule is a fault
    tod, err = time_of_day(b, sched)
    assert tod is None and "clock is not set" in err
    assert time_of_day(b, Config({"rate_ul_h": 30})) == (None, None)
    assert time_of_day(object(), Config({"schedule": "00:00/30;08:00/30"})) == (None, None)
