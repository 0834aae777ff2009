# What `pumpmon carer` rings for (host_tools/carer/watch.py), on a made-up
# clock: a high-priority alarm until it ends at the bedside (repeated), a
# monitor offline or with a stale heartbeat, an alarm unacknowledged for 10
# minutes (by the monitor's uptime), and nothing for a quiet monitor.
import json

import pytest

from host_tools.carer.watch import ESCALATE_S, RING_REPEAT_S, CarerWatch


def state(on=False, acked=False, since=100, up=100, prio="high", alarm="no_flow"):
    a = {"on": on, "acked": acked}
    if on:
        a.update(priority=prio, cause="low_flow", since_up_s=since)
    return json.dumps({"alarm": alarm if on else "none", "up_s": up,
                       "alarms": {alarm: a, "malfunction": {"on": False, "acked": False}}})


def hb(up, k=30):
    return json.dumps({"up_s": up, "keepalive_s": k})


def reasons(w, now):
    return sorted(why for _m, why, _t in w.check(now))


@pytest.mark.req("R-045")
def test_high_alarm_rings_and_repeats_until_it_ends_at_the_bedside():
    w = CarerWatch(["bed4"])
    w.on_message(0.0, "pumpmon/bed4/status", "online")
    w.on_message(0.0, "pumpmon/bed4/heartbeat", hb(100))
    w.on_message(0.0, "pumpmon/bed4/state", state())
    assert reasons(w, 0.5) == []
    w.on_message(1.0, "pumpmon/bed4/state", state(on=True))
    assert reasons(w, 1.0) == ["alarm:no_flow"]
    assert reasons(w, 2.0) == []                                  # not every poll
    w.on_message(10.0, "pumpmon/bed4/heartbeat", hb(110))
    assert reasons(w, 1.0 + RING_REPEAT_S) == ["alarm:no_flow"]   # again
    w.on_message(17.0, "pumpmon/bed4/state", state(on=True, acked=True))
    assert reasons(w, 1.0 + 2 * RING_REPEAT_S) == ["alarm:no_flow"]   # paused, not ended
    w.on_message(20.0, "pumpmon/bed4/state", state())
    w.on_message(20.0, "pumpmon/bed4/heartbeat", hb(120))
    assert reasons(w, 60.0) == []
    # a medium alarm shows but does not ring
    w.on_message(61.0, "pumpmon/bed4/state", state(on=True, prio="medium",
                                                   alarm="low_reservoir"))
    assert reasons(w, 61.0) == []


@pytest.mark.req("R-045")
def test_offline_and_stale_heartbeat_ring():
    w = CarerWatch(["bed4"])
    w.on_message(0.0, "pumpmon/bed4/heartbeat", hb(5, k=10))
    assert reasons(w, 14.9) == []
    assert reasons(w, 15.1) == ["stale"]            # 1.5 keep-alive periods
    w.on_message(16.0, "pumpmon/bed4/heartbeat", hb(21, k=10))
    assert reasons(w, 16.5) == []
    w.on_message(17.0, "pumpmon/bed4/status", "offline")
    assert reasons(w, 17.0) == ["offline"]
    assert "OFFLINE" in w.reasons(17.0)[0][2]


@pytest.mark.req("R-045")
def test_unacknowledged_alarm_escalates_after_ten_minutes_of_monitor_time():
    w = CarerWatch()
    w.on_message(0.0, "pumpmon/bed4/heartbeat", hb(100))
    w.on_message(0.0, "pumpmon/bed4/state", state(on=True, since=100, up=100))
    assert reasons(w, 0.0) == ["alarm:no_flow"]
    w.on_message(5.0, "pumpmon/bed4/heartbeat", hb(100 + ESCALATE_S - 1))
    assert reasons(w, 5.0) == []
    w.on_message(6.0, "pumpmon/bed4/heartbeat", hb(100 + ESCALATE_S))
    assert reasons(w, 6.0) == ["escalate:no_flow"]
    w.on_message(7.0, "pumpmon/bed4/state", state(on=True, acked=True, since=100,
                                                  up=100 + ESCALATE_S))
    assert "escalate:no_flow" not in [r for _m, r, _t in w.reasons(7.0)]
    assert w.views["bed4"].status == "online"      # heard: a heartbeat means online
    assert w.on_message(8.0, "other/topic", "x") is None


@pytest.mark.req("R-080")
def test_a_monitor_that_says_escalated_is_the_one_timer():
    # issue 22: the monitor's own escalation (state `escalated`, set by its
    # escalation_min timer) decides; the carers' tool no longer times it
    w = CarerWatch()

    def st(esc, up, acked=False):
        d = json.loads(state(on=True, since=100, up=up, acked=acked))
        d["escalated"] = esc
        return json.dumps(d)
    w.on_message(0.0, "pumpmon/bed4/state", st(False, 100))
    w.on_message(1.0, "pumpmon/bed4/heartbeat", hb(100 + ESCALATE_S + 60))
    assert reasons(w, 1.0) == ["alarm:no_flow"]     # 11 min: the monitor says not yet
    w.on_message(2.0, "pumpmon/bed4/state", st(True, 100 + 300))
    assert reasons(w, 2.0) == ["escalate:no_flow"]  # 5 min (escalation_min 5): it did
    assert "ESCALATED" in w.summary("bed4")
    w.on_message(3.0, "pumpmon/bed4/state", st(False, 100 + 310, acked=True))
    assert "escalate:no_flow" not in [r for _m, r, _t in w.reasons(3.0)]
    # a medium alarm never escalates, whatever the flag
    d = json.loads(state(on=True, prio="medium", alarm="low_reservoir", since=0, up=9999))
    d["escalated"] = True
    w.on_message(4.0, "pumpmon/bed4/state", json.dumps(d))
    assert [r for _m, r, _t in w.reasons(4.0)] == []


# ---- issue 28: the carer's side tells the truth -----------------------------
@pytest.mark.req("R-080")
def test_after_a_monitor_restart_the_old_uptime_is_not_used():
    # before: up for 2,000 s; it restarts and raises monitoring_interrupted at
    # 3 s of its new uptime: seconds old, not "33 min: ESCALATED"
    for order in ("state first", "heartbeat first"):
        w = CarerWatch(["bed4"])
        w.on_message(0.0, "pumpmon/bed4/heartbeat", hb(2000))
        w.on_message(0.0, "pumpmon/bed4/state", state(up=2000))
        new = state(on=True, since=3, up=5, prio="low", alarm="monitoring_interrupted")
        msgs = [("pumpmon/bed4/state", new), ("pumpmon/bed4/heartbeat", hb(6))]
        if order != "state first":
            msgs.reverse()
        for topic, payload in msgs:
            w.on_message(10.0, topic, payload)
        v = w.views["bed4"]
        assert v.boots == 1 and v.up_s in (5, 6), order
        ((alarm, age),) = v.unacked_for()
        assert alarm == "monitoring_interrupted" and 0 <= age <= 3, (order, age)
        assert not [r for _m, r, _t in w.reasons(10.0) if r.startswith("escalate")], order
        # and ten minutes of the NEW uptime later it does escalate (no flag sent)
        w.on_message(20.0, "pumpmon/bed4/heartbeat", hb(3 + ESCALATE_S))
        assert "escalate:monitoring_interrupted" in [r for _m, r, _t in w.reasons(20.0)]


@pytest.mark.req("R-080")
def test_lines_use_the_bedside_words_and_show_acknowledgements():
    from host_tools.view import words as W
    w = CarerWatch(["bed4"])
    w.on_message(0.0, "pumpmon/bed4/status", "online")
    w.on_message(0.0, "pumpmon/bed4/state", state(on=True))
    line = w.summary("bed4")
    assert W.describe("no_flow", "low_flow") in line and "high priority" in line
    assert W.CARER_ACTION["high"] in line and "NO_FLOW (" not in line
    assert "acknowledged" not in line
    ring = w.check(0.0)
    assert ring and W.describe("no_flow", "low_flow") in ring[0][2]
    w.on_message(1.0, "pumpmon/bed4/state", state(on=True, acked=True))
    assert "(acknowledged at the bedside)" in w.summary("bed4")
    w.on_message(2.0, "pumpmon/bed4/state", state())
    assert w.summary("bed4").endswith("no alarm")


@pytest.mark.req("R-080")
def test_every_alarm_is_shown_at_once_medium_and_low_noted_without_the_bell():
    w = CarerWatch(["bed4"])
    d = {"alarm": "low_reservoir", "up_s": 50, "alarms": {
        "low_reservoir": {"on": True, "acked": False, "priority": "medium",
                          "cause": "refill_today", "since_up_s": 50},
        "monitoring_interrupted": {"on": True, "acked": False, "priority": "low",
                                   "cause": "carer_link", "since_up_s": 40},
        "no_flow": {"on": False, "acked": False}}}
    w.on_message(0.0, "pumpmon/bed4/state", json.dumps(d))
    line = w.summary("bed4")
    assert "LOW RESERVOIR" in line and "MONITORING INTERRUPTED" in line
    assert w.check(0.0) == []                       # no bell
    notes = w.notes()
    assert sorted(a for _m, a, _t in notes) == ["low_reservoir", "monitoring_interrupted"]
    assert w.notes() == []                          # once
    d["alarms"]["low_reservoir"]["since_up_s"] = 90   # raised again later: noted again
    w.on_message(1.0, "pumpmon/bed4/state", json.dumps(d))
    assert [a for _m, a, _t in w.notes()] == ["low_reservoir"]


@pytest.mark.req("R-074")
def test_coming_is_shown_and_the_second_contact_rings_only_when_called():
    first = CarerWatch(["bed4"])
    second = CarerWatch(["bed4"], contact=2)
    d = json.loads(state(on=True))
    for w in (first, second):
        w.on_message(0.0, "pumpmon/bed4/state", json.dumps(d))
        w.on_message(0.0, "pumpmon/bed4/escalation", json.dumps(
            {"call": False, "alarm": "no_flow", "cause": "low_flow"}))
    assert [r for _m, r, _t in first.check(0.0)] == ["alarm:no_flow"]
    assert second.check(0.0) == []                  # not called yet
    call = {"call": True, "alarm": "no_flow", "priority": "high", "cause": "low_flow"}
    second.on_message(1.0, "pumpmon/bed4/escalation", json.dumps(call))
    ((_m, why, text),) = second.check(1.0)
    assert why == "second:no_flow" and "second contact" in text
    # a carer answers: the monitor stops calling; the state says who comes
    d["coming"] = {"contact": 1, "since_up_s": 120}
    first.on_message(2.0, "pumpmon/bed4/state", json.dumps(d))
    assert "carer 1 is coming" in first.summary("bed4")
    second.on_message(2.0, "pumpmon/bed4/escalation", json.dumps(dict(call, call=False)))
    assert second.check(40.0) == []
