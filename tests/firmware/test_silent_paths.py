# Issue 12: silent paths of the running monitor that now end in an alarm
# (docs/safety.md has the table): a buzzer that raises, a flash that stops
# taking writes while nothing else is logged, state.bin deleted under a
# latched alarm, the last alive time and the interruption it measures.
# Runs on CPython and on the MicroPython unix port.
import os

from test_eventlog import FailingFlash, _rmtree, _tmpdir, in_tmpdir
from test_statefile import CFG, INTERNAL, NO_FLOW, _board, _no_flow_sounding, _records, \
    _seconds

from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon import patterns as P
from pumpmon.config import Config
from pumpmon.runner import Runner
from pumpmon.statefile import StateFile


@in_tmpdir("buzz")
def test_buzzer_that_raises_never_stops_the_light_or_the_watchdog(d):
    """req: R-035"""
    b = _board()

    def broken(hz):
        raise OSError(19)            # ENODEV: the PWM driver fails

    b.set_tone = broken
    r = Runner(b, Config(CFG), flash=d, rec_segments=0)
    r.run(50)
    fed = b.fed
    assert fed == 50                 # fed on every pass despite the buzzer
    m = r.monitor
    assert m.manager.shown & INTERNAL and m.internal_detail == A.D_OUTPUT
    r.run(300)                       # 3 s: malfunction's red blips go on
    assert b.fed == fed + 300
    assert P.RED in [c for _t, c in b.leds] and P.OFF in [c for _t, c in b.leds]
    r.run(100 * 61)                  # the faults are logged within a minute
    recs, _bad = _records(d)
    assert any(x[0] == L.FAULT and x[2] == A.D_OUTPUT for x in recs)


def test_light_that_raises_never_stops_the_sound():
    """req: R-035"""
    b = _board()

    def broken(colour):
        raise OSError(5)

    b.set_led = broken
    r = Runner(b, Config(CFG))
    r.run(300)
    assert b.fed == 300 and r.monitor.internal_detail == A.D_OUTPUT
    assert any(hz == P.C5 for _t, hz in b.tones)   # malfunction melody


@in_tmpdir("quietfail")
def test_flash_failure_with_nothing_to_log_is_found_within_two_minutes(d):
    """req: R-036"""
    fs = FailingFlash()
    b = _board()
    r = Runner(b, Config(CFG), flash=d, fs=fs, rec_segments=0)
    _seconds(r, 30)
    assert r.monitor.manager.shown == 0
    fs.full = 1                      # quiet delivery: nothing to log for an hour
    n = 0
    while not r.monitor.manager.shown & INTERNAL and n < 120:
        _seconds(r, 1)
        n += 1
    assert n < 120, "no alarm within 2 minutes of the flash failing"
    assert r.monitor.internal_detail == A.D_LOG


@in_tmpdir("delstate")
def test_deleted_state_file_under_a_latched_alarm_brings_it_back(d):
    """req: R-036"""
    r = _no_flow_sounding(d)
    b = r.board
    b.flow = 300                     # delivery back: no_flow stays latched
    _seconds(r, 11 * 60)
    assert r.monitor.manager.shown & NO_FLOW and not r.monitor.engine.conditions & NO_FLOW
    os.remove(d + "/state.bin")      # someone with a USB cable
    b2 = _board(5000)
    r2 = Runner(b2, Config(CFG), flash=d, rec_segments=0)
    m = r2.monitor
    assert m.manager.shown & NO_FLOW and not m.manager.acked & NO_FLOW
    assert m.manager.shown & INTERNAL and m.internal_detail == A.D_STATE
    _seconds(r2, 1)
    assert any(hz for _t, hz in b2.tones), "no sound within 1 s of boot"
    recs, _bad = _records(d)
    raised = [x for x in recs if x[0] == 1 and x[1] == A.INTERNAL]
    assert raised and raised[-1][2] == A.D_STATE


@in_tmpdir("fresh")
def test_first_boot_without_a_log_is_not_a_missing_state(d):
    """req: R-036"""
    r = Runner(_board(), Config(CFG), flash=d, rec_segments=0)
    assert r.monitor.manager.shown == 0 and not r.monitor.internal


@in_tmpdir("alive")
def test_state_file_keeps_the_last_alive_time_every_minute(d):
    """req: R-025"""
    b = _board()
    b.wall = 1767225600              # 2026-01-01 00:00:00 local
    r = Runner(b, Config(CFG), flash=d, rec_segments=0)
    _seconds(r, 61)
    st = StateFile(d)
    st.load()
    assert st.alive == 1767225600
    b.wall += 60
    _seconds(r, 60)
    st.load()
    assert st.alive == 1767225660
    # a version 1 file (24 bytes, before issue 12) still loads
    import struct
    from pumpmon.eventlog import crc32
    buf = bytearray(24)
    struct.pack_into("<4sBBHHHII", buf, 0, b"PMST", 1, 0, 1, 0, 0, 7, 9)
    struct.pack_into("<I", buf, 20, crc32(memoryview(buf)[:20]) & 0xFFFFFFFF)
    with open(d + "/state.bin", "wb") as f:
        f.write(buf)
    os.remove(d + "/state.new") if StateFile(d).fs.size(d + "/state.new") >= 0 else None
    st = StateFile(d)
    assert st.load() == (L.STATE_OK, 1, 0, 0, 9) and st.alive == 0


BAD_CONFIGS = (
    (b"[1, 2]", "not a JSON object"),
    (b"true", "not a JSON object"),
    (b"null", "not a JSON object"),
    (b'{"rate_ul_h": true}', "not a number"),
    (b'{"rate_ul_h": 30, "rate_ul_h": 40}', "given twice"),
    (b'{"rate_ul_h": 30, "pause_s": 60, "pause_s" : 120}', "given twice"),
    (b'{"rate_ul_h": 1e999}', "finite"),
    (b'{"rate_ul_h": 1' + b"0" * 400 + b"}", "finite"),
    (b'{"rate_ul_h": {"a": 1}}', "not a number"),
    (b'{"rate_ul_h": 30, "board_id": "' + b"x" * 200 + b'"}', "board_id"),
    (b'{"rate_ul_h": 30, "board_id": "' + b"x" * 200000 + b'"}', "too large"),
    (b'{"rate_ul_h": 30, "board_id": "\xff\xfe"}', "UTF-8"),
    (b'{"schedule": 5}', "schedule"),
    (b"[" * 3000 + b"]" * 3000, ""),    # recursion / memory while parsing
    (b"", "not valid JSON"),
)


# issue 28: duplicates compared as JSON reads the keys (after unescaping):
# the first is what a person reading the file sees, the second what json keeps
ESCAPED_DUPLICATES = (
    (b'{\n "rate_ul_h": 30,\n "flow_window_s": 120,\n "flow_window\\u005fs": 600\n}',
     4, '"flow_window_s"'),
    (b'{\n "rate_ul_h": 30,\n "flow_window\\u005Fs": 600,\n\n "flow_window_s": 120\n}',
     5, '"flow_window_s"'),
    # a surrogate pair is one character: the same key as the character itself
    (b'{"rate_ul_h": 30,\n "\\ud83d\\ude00": 1,\n "\xf0\x9f\x98\x80": 2}', 3,
     '"\\U0001f600"'),
    (b'{"rate_ul_h": 30, "\\u0072ate_ul_h": 40}', 1, '"rate_ul_h"'),
    (b'{"rate_ul_h": 30, "a\\"b": 1, "a\\u0022b": 2}', 1, '"a\\u0022b"'),
    (b'{"rate_ul_h": 30, "c\\\\": 1, "c\\u005c": 2}', 1, '"c\\u005c"'),
)


def test_a_key_given_twice_is_found_after_unescaping_with_its_line():
    """req: R-071"""
    from pumpmon.configfile import duplicate_key
    from pumpmon.runner import load_config
    d = _tmpdir("dupesc")
    try:
        p = d + "/config.json"
        for data, line, shown in ESCAPED_DUPLICATES:
            with open(p, "wb") as f:
                f.write(data)
            cfg, err = load_config(p)
            assert err == "%s:%d: setting %s given twice" % (p, line, shown), (data, err)
            assert cfg.sched_rate == [0]          # the fallback: bad_config sounds
        # escapes that make different keys are not duplicates; nested keys do not count
        assert duplicate_key('{"a\\u005f": 1, "a-": 2, "b": {"c": 1, "c": 2}}') is None
        assert duplicate_key('{"\\ud83d\\ude00": 1, "\\ud83d\\ude01": 2}') is None
    finally:
        _rmtree(d)


def test_any_config_file_content_is_bad_config_with_a_reason():
    """req: R-041"""
    from pumpmon.runner import load_config
    d = _tmpdir("badcfg")
    try:
        p = d + "/config.json"
        for data, why in BAD_CONFIGS:
            with open(p, "wb") as f:
                f.write(data)
            cfg, err = load_config(p)
            assert err and why in err and p in err, (data[:40], err)
            assert cfg.sched_rate == [0]          # the fallback: bad_config sounds
        with open(p, "wb") as f:
            f.write(b'{"rate_ul_h": 30, "board_id": "bed 4", "note": {"a": 1, "a": 2}}')
        cfg, err = load_config(p)
        assert "unknown setting 'note'" in err    # nested duplicates are not top level
        with open(p, "wb") as f:
            f.write(b'{"rate_ul_h": 30, "board_id": "a \\"b\\": c"}')
        cfg, err = load_config(p)
        assert err is None and cfg.sched_rate == [300]
    finally:
        _rmtree(d)


def test_bad_config_sounds_malfunction_not_a_reset_loop():
    """req: R-041"""
    from pumpmon.runner import load_config
    d = _tmpdir("badcfg2")
    try:
        with open(d + "/config.json", "wb") as f:
            f.write(b"[1, 2]")
        cfg, err = load_config(d + "/config.json")
        b = _board()
        r = Runner(b, cfg, flash=d, rec_segments=0)
        r.note_config(cfg, err)
        r.monitor.fault(A.D_CONFIG)
        r.run(200)
        assert b.fed == 200 and r.monitor.manager.shown & INTERNAL
        assert any(hz == P.C5 for _t, hz in b.tones)
    finally:
        _rmtree(d)


@in_tmpdir("cut")
def test_power_cut_logs_how_long_monitoring_was_off_and_shows_it_until_acknowledged(d):
    """req: R-025"""
    b = _board()
    b.wall = 1767225600
    r = Runner(b, Config(CFG), flash=d, rec_segments=0)
    _seconds(r, 61)                  # last alive: 1767225600
    # the power goes for 2 hours; the board clock (a DS3231) kept time
    b2 = _board(5000)
    b2.wall = 1767225600 + 7200
    r2 = Runner(b2, Config(CFG), flash=d, rec_segments=0)
    m = r2.monitor
    assert m.manager.shown == 1 << A.INTERRUPTED
    _seconds(r2, 2)
    assert P.YELLOW in [c for _t, c in b2.leds]       # steady yellow
    assert any(hz for _t, hz in b2.tones)             # two soft pulses
    recs, _bad = _records(d)
    cut = [x for x in recs if x[0] == L.INTERRUPTED]
    assert len(cut) == 1 and cut[0][2] == L.reset_code("power_on")
    assert cut[0][8] == 7200 and cut[0][9] == 1767225600
    b2.btn = 1                                        # long press: acknowledged
    _seconds(r2, 3)
    b2.btn = 0
    _seconds(r2, 1)
    assert m.manager.shown == 0 and b2.led != P.GREEN     # start-up: not judged yet
    _seconds(r2, 60)
    assert m.manager.shown == 0 and b2.led == P.GREEN
    # a soft reset (pumpmon flash, config set) is logged, without an alarm;
    # without a clock the duration is not known
    b3 = _board(9000)
    b3.cause = "soft"
    r3 = Runner(b3, Config(CFG), flash=d, rec_segments=0)
    assert r3.monitor.manager.shown == 0
    cut = [x for x in _records(d)[0] if x[0] == L.INTERRUPTED]
    assert len(cut) == 2 and cut[1][8] == L.UNKNOWN


@in_tmpdir("pot")
def test_power_on_test_shows_every_colour_and_a_tone_and_logs_it(d):
    """req: R-020"""
    b = _board()
    r = Runner(b, Config(CFG), flash=d, rec_segments=0)
    t0 = b.t
    assert r.power_on_test()
    assert [c for _t, c in b.leds] == [P.OFF, P.GREEN, P.YELLOW, P.RED][-3:] or \
        [c for _t, c in b.leds][-3:] == [P.GREEN, P.YELLOW, P.RED]
    assert [hz for _t, hz in b.tones][-2:] == [P.C5, 0]
    assert b.fed == 3 and b.t - t0 == 750
    _seconds(r, 60)                             # then monitoring as usual
    assert b.led == P.GREEN and b.tone == 0
    recs, _bad = _records(d)
    pot = [x for x in recs if x[0] == L.POWER_ON_TEST]
    assert len(pot) == 1 and pot[0][8] == 1 and pot[0][9] == 0
    # a buzzer that raises: the test says so, and it is malfunction/internal
    b2 = _board()

    def broken(hz):
        raise OSError(19)

    b2.set_tone = broken
    r2 = Runner(b2, Config(CFG), flash=d, rec_segments=0)
    assert not r2.power_on_test()
    assert r2.monitor.internal_detail == A.D_OUTPUT
    pot = [x for x in _records(d)[0] if x[0] == L.POWER_ON_TEST]
    assert pot[-1][8] == 0 and pot[-1][9] == 0b11000   # the tone on and off


def test_heartbeat_toggles_once_a_second_and_stops_when_sampling_stops():
    """req: R-034"""
    b = _board()
    beats = []
    b.heartbeat = lambda: beats.append(b.t)
    r = Runner(b, Config(CFG))
    r.run(100 * 10)                       # 10 s of 10 ms passes
    assert 9 <= len(beats) <= 11
    n = len(beats)

    def hung():
        raise OSError(110)                # the flow driver fails on every read
    b.read_flow = hung
    r.run(100 * 10)
    assert len(beats) == n                # no edges: the independent sounder sounds
    assert r.monitor.internal_detail == A.D_EXCEPTION and b.fed >= 2000


def test_every_setting_has_a_stable_config_log_index():
    """req: R-026"""
    from pumpmon.config import LIMITS
    from pumpmon.configlog import KEYS
    assert set(LIMITS) | {"schedule"} <= set(KEYS) and len(set(KEYS)) == len(KEYS)
    assert KEYS[:3] == ("rate_ul_h", "reservoir_capacity_ml", "low_reservoir_ml")


def test_carers_link_changes_are_logged_as_set_and_changed_never_the_text():
    """req: R-026"""
    from pumpmon.configlog import KEYS
    d = _tmpdir("cfgnet")
    try:
        old = Config({"rate_ul_h": 30, "mqtt_host": "10.0.0.2"})
        Runner(_board(), old, flash=d, rec_segments=0).note_config(old)
        new = Config({"rate_ul_h": 30, "mqtt_host": "10.0.0.3", "mqtt_user": "bed",
                      "mqtt_password": "s3cret-pw", "mqtt_tls": True,
                      "mqtt_fingerprint": "ab" * 32})
        b = _board(7000)
        b.cause = "soft"
        Runner(b, new, flash=d, rec_segments=0).note_config(new)
        got = [x for x in _records(d)[0] if x[0] == L.CONFIG_CHANGED]
        by_key = dict((KEYS[x[2]], (x[8], x[9], x[10])) for x in got)
        # text: 0 unset / 1000 set, 1 = changed; TLS on moves the default port
        assert by_key == {"mqtt_host": (1000, 1000, 1), "mqtt_user": (0, 1000, 1),
                          "mqtt_password": (0, 1000, 1), "mqtt_tls": (0, 1000, 0),
                          "mqtt_port": (1883000, 8883000, 0),
                          "mqtt_fingerprint": (0, 1000, 1)}, by_key
        # a password changed alone: no trace of a secret, so not seen as a change
        again = Config({"rate_ul_h": 30, "mqtt_host": "10.0.0.3", "mqtt_user": "bed",
                        "mqtt_password": "other-pw", "mqtt_tls": True,
                        "mqtt_fingerprint": "ab" * 32})
        Runner(_board(9000), again, flash=d, rec_segments=0).note_config(again)
        assert len([x for x in _records(d)[0] if x[0] == L.CONFIG_CHANGED]) == len(got)
    finally:
        _rmtree(d)


def test_config_change_is_logged_with_old_and_new_values_when_applied():
    """req: R-026"""
    from pumpmon.configlog import KEYS
    d = _tmpdir("cfgchg")
    try:
        Runner(_board(), Config(CFG), flash=d, rec_segments=0).note_config(Config(CFG))
        # pumpmon config set rate_ul_h=45 no_flow_fraction=0.3; the soft reset applies it
        new = Config({"rate_ul_h": 45, "no_flow_fraction": 0.3})
        b = _board(7000)
        b.cause = "soft"
        Runner(b, new, flash=d, rec_segments=0).note_config(new)
        got = [x for x in _records(d)[0] if x[0] == L.CONFIG_CHANGED]
        by_key = dict((KEYS[x[2]], (x[8], x[9])) for x in got)
        assert by_key == {"rate_ul_h": (30000, 45000), "no_flow_fraction": (250, 300)}
        # the same configuration again: nothing logged; a schedule: uL/day, first rate
        Runner(_board(8000), new, flash=d, rec_segments=0).note_config(new)
        sched = Config({"schedule": "00:00/30;08:00/60", "no_flow_fraction": 0.3})
        Runner(_board(9000), sched, flash=d, rec_segments=0).note_config(sched)
        got = [x for x in _records(d)[0] if x[0] == L.CONFIG_CHANGED]
        assert len(got) == 3
        assert KEYS[got[2][2]] == "schedule" and got[2][8:12] == (1080, 1200, 450, 300)
    finally:
        _rmtree(d)
