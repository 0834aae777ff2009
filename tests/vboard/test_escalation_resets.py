# On the virtual board (the real unix port, the real firmware flashed by
# `pumpmon flash`): the delivery stops and nobody answers the no_flow alarm,
# and the board is reset every 5 minutes of trace time. The escalation
# (docs/alarm-policy.md) still comes within its 10 minutes plus at most a
# minute per reset (the state file's last save), and every boot after it is
# escalated again at once. It used to start again from zero at each boot: a
# board that resets more often than that never escalated, and the carers'
# tools follow that flag.
import pytest

from tests.vboard_helpers import _events, _flash_firmware, _trace

RESETS = (480, 780, 1080, 1380)     # trace seconds


@pytest.mark.req("R-060")
def test_resets_under_an_unanswered_no_flow_never_hold_off_its_escalation(start_board,
                                                                          tmp_path):
    cfg = _trace(tmp_path / "t.csv", duration_s=1800, factor=[(60, 0.0)])
    faults = []
    for t in RESETS:
        faults += ["--fault", "%d:reset" % t]
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "max", *faults)
    _flash_firmware(b, cfg, tmp_path)
    b.wait(lambda: (b.status().get("t_ms") or 0) >= 1700000, 300, "the trace's end")
    ev = _events(b)
    raised = [r for r in ev if r["event"] == "alarm_raised" and r.get("alarm") == "no_flow"]
    esc = [r for r in ev if r["event"] == "escalated"]
    boots = [r for r in b.timeline() if r["kind"] == "boot"]
    assert raised and esc, (raised, esc)
    t_raised = raised[0]["t_ms"]
    before = [t for t in RESETS if t * 1000 < esc[0]["t_ms"]]
    assert t_raised < RESETS[0] * 1000 and before, (t_raised, before)   # resets came between
    # 10 minutes shown, less what each reset cost: a minute at most (plus a
    # second for the boot itself)
    assert esc[0]["t_ms"] - t_raised <= 600000 + len(before) * 61000, (t_raised, esc[0])
    # each boot after it: escalated again within seconds
    for boot in boots:
        if boot["t_ms"] is not None and boot["t_ms"] > esc[0]["t_ms"]:
            assert [r for r in esc if 0 <= r["t_ms"] - boot["t_ms"] <= 2000], (boot, esc)
