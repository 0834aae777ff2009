# A flash with a correct configuration clears the bad_config alarm it fixed
# (runner._fixed_config): a latched malfunction/internal raised by bad_config
# is cleared at the next boot when the configuration is valid, logged as
# alarm_cleared with detail bad_config. Nothing else is ever cleared that way:
# another latched alarm, an internal fault of another cause, a bad_config
# joined by a watchdog reset, a configuration still bad. CPython and the unix port.
from test_eventlog import in_tmpdir
from test_statefile import CFG, INTERNAL, NO_FLOW, _board, _no_flow_sounding, _records, \
    _seconds

from pumpmon import alarms as A
from pumpmon.config import Config
from pumpmon.manager import EV_CLEARED
from pumpmon.runner import Runner, load_config


def _bad_config_boot(d, cause="power_on"):
    """A board whose config.json is refused: malfunction/internal (bad_config)."""
    with open(d + "/config.json", "wb") as f:
        f.write(b'{"rate_ul_h": "thirty"}')
    cfg, err = load_config(d + "/config.json")
    assert err
    b = _board()
    b.cause = cause
    r = Runner(b, cfg, flash=d, rec_segments=0)
    r.note_config(cfg, err)
    r.monitor.fault(A.D_CONFIG)
    _seconds(r, 2)
    assert r.monitor.manager.shown & INTERNAL
    return r


def _reboot(d, cause="soft", cfg=None, err=None, t0=50000):
    b = _board(t0)
    b.cause = cause
    cfg = cfg or Config(CFG)
    r = Runner(b, cfg, flash=d, rec_segments=0)
    r.note_config(cfg, err)
    if err:
        r.monitor.fault(A.D_CONFIG)
    _seconds(r, 2)
    return r


def _cleared(d):
    recs, _bad = _records(d)
    return [x for x in recs if x[0] == EV_CLEARED and x[1] == A.INTERNAL]


@in_tmpdir("cfgfix")
def test_a_valid_configuration_clears_the_bad_config_alarm_and_logs_it(d):
    """req: R-043"""
    _bad_config_boot(d)
    r = _reboot(d)                      # flashed with a good config: soft reset
    assert not r.monitor.manager.shown & INTERNAL
    got = _cleared(d)
    assert len(got) == 1 and got[0][2] == A.D_CONFIG
    # and it stays cleared on the next boot (the state file says so)
    r2 = _reboot(d, "power_on", t0=90000)
    assert not r2.monitor.manager.shown & INTERNAL


@in_tmpdir("cfgbad")
def test_a_configuration_still_bad_keeps_it(d):
    """req: R-043"""
    _bad_config_boot(d)
    cfg, err = load_config(d + "/config.json")
    r = _reboot(d, cfg=cfg, err=err)
    assert r.monitor.manager.shown & INTERNAL and not _cleared(d)


@in_tmpdir("cfgwdt")
def test_another_cause_of_malfunction_internal_is_never_cleared(d):
    """req: R-043"""
    _no_flow_sounding(d)
    b = _board(5000)
    b.cause = "watchdog"                # malfunction/internal (watchdog)
    r = Runner(b, Config(CFG), flash=d, rec_segments=0)
    r.note_config(Config(CFG), None)
    _seconds(r, 2)
    r = _reboot(d)
    m = r.monitor.manager
    assert m.shown & INTERNAL and m.shown & NO_FLOW and not _cleared(d)


@in_tmpdir("cfgjoin")
def test_bad_config_joined_by_a_watchdog_reset_stays_latched(d):
    """req: R-043"""
    _bad_config_boot(d)
    cfg, err = load_config(d + "/config.json")
    _reboot(d, "watchdog", cfg=cfg, err=err)     # still bad, and a watchdog reset
    r = _reboot(d, t0=70000)                     # now a good configuration
    assert r.monitor.manager.shown & INTERNAL and not _cleared(d)


@in_tmpdir("cfgother")
def test_other_latched_alarms_stay_when_bad_config_is_cleared(d):
    """req: R-043"""
    r0 = _no_flow_sounding(d)
    r0.note_config(Config(CFG), "config.json: bad")
    r0.monitor.fault(A.D_CONFIG)
    _seconds(r0, 2)
    assert r0.monitor.manager.shown & INTERNAL
    r = _reboot(d)
    m = r.monitor.manager
    assert not m.shown & INTERNAL and m.shown & NO_FLOW
    assert len(_cleared(d)) == 1
