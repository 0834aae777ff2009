# Issue 12: a pump stopped by a clinician ("pump_stopped": true with rate 0)
# is the only way to a programmed rate of 0; the monitor shows it with its own
# light (yellow with a short dark gap, never green: issue 22) and a soft reminder, logs it at every boot
# and logs each change; it still judges the sensors and any flow.
# Runs on CPython and on the MicroPython unix port.
from test_eventlog import _rmtree, _tmpdir, in_tmpdir
from test_statefile import CFG, _board, _records, _seconds

from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon import patterns as P
from pumpmon.config import Config
from pumpmon.configlog import KEYS
from pumpmon.manager import EV_RAISED
from pumpmon.runner import Runner

STOPPED = {"rate_ul_h": 0, "pump_stopped": True}


def _boot(d, values, t0, cause="power_on", flow=300):
    b = _board(t0)
    b.cause = cause
    b.flow = flow
    cfg = Config(values)
    r = Runner(b, cfg, flash=d, rec_segments=0)
    r.note_config(cfg)
    return r


def _changes(recs):
    return dict((KEYS[x[2]], (x[8], x[9])) for x in recs if x[0] == L.CONFIG_CHANGED)


def _stopped_raised(recs):
    return [x for x in recs if x[0] == EV_RAISED and x[1] == A.PUMP_STOPPED]


@in_tmpdir("stopped")
def test_pump_stopped_is_shown_and_logged_at_every_boot_and_each_change(d):
    """req: R-012, R-062"""
    _seconds(_boot(d, CFG, -20000), 2)
    # pumpmon config set rate_ul_h=0 pump_stopped=true (its soft reset)
    r = _boot(d, STOPPED, 5000, "soft", flow=0)
    b = r.board
    _seconds(r, 6)
    recs, _bad = _records(d)
    assert _changes(recs) == {"rate_ul_h": (30000, 0), "pump_stopped": (0, 1000)}
    assert len(_stopped_raised(recs)) == 1
    assert r.monitor.manager.light_kind() == A.KIND_PUMP_STOPPED
    leds = set(c for _t, c in b.leds)
    # issue 22: yellow with its short dark gap; never green ("all well"), never red
    assert leds == {P.YELLOW, P.OFF}, leds
    assert [hz for _t, hz in b.tones if hz] == [P.C4]   # the reminder, once so far
    # a power cut: raised (and logged) again at the boot, not restored silently
    r = _boot(d, STOPPED, 9000, flow=0)
    _seconds(r, 2)
    recs, _bad = _records(d)
    assert len(_stopped_raised(recs)) == 2
    assert len(_changes(recs)) == 2                  # no change: nothing more
    # acknowledging does not end it: it lasts as long as the configuration
    r.board.btn = 1
    _seconds(r, 3)
    r.board.btn = 0
    _seconds(r, 2)
    assert r.monitor.manager.shown & (1 << A.PUMP_STOPPED)
    # the clinician restarts the pump: logged, and the indication ends
    r = _boot(d, CFG, 15000, "soft")
    _seconds(r, 2)
    recs, _bad = _records(d)
    assert _changes(recs)["pump_stopped"] == (1000, 0)
    assert not r.monitor.manager.shown & (1 << A.PUMP_STOPPED)


@in_tmpdir("stopflow")
def test_pump_stopped_still_judges_the_sensors_and_any_flow(d):
    """req: R-012"""
    r = _boot(d, STOPPED, -20000, flow=None)       # the flow sensor silent
    _seconds(r, 15)
    m = r.monitor.manager
    assert m.shown & (1 << A.FLOW_SENSOR)
    assert m.light_kind() == A.KIND_MALFUNCTION     # the danger shows first
    assert not m.shown & (1 << A.NO_FLOW)


def test_a_fallback_configuration_is_not_a_stopped_pump():
    """req: R-041"""
    from pumpmon.runner import load_config
    d = _tmpdir("stopfb")
    try:
        with open(d + "/config.json", "w") as f:
            f.write('{"rate_ul_h": 0}')                 # no pump_stopped: refused
        cfg, err = load_config(d + "/config.json")
        assert "pump_stopped" in err and cfg.pump_stopped is False
        with open(d + "/config.json", "w") as f:
            f.write('{"rate_ul_h": 0, "pump_stopped": true}')
        cfg, err = load_config(d + "/config.json")
        assert err is None and cfg.pump_stopped is True
    finally:
        _rmtree(d)
