# Issue 25 on the virtual board, with the real firmware: a dry run changes
# nothing (a blank board: the files listed, exit 0, nothing written, nothing
# started; a running monitor: read through its console channel, its log
# unchanged, no stop, no reset); `pumpmon status` during a high-priority
# alarm reports the patterns played, never one instant of a blinking light;
# a board left at its REPL: status says the next step in one line, and that
# step works.
import json

import pytest

from tests.support import ROOT, pumpmon
from tests.vboard_helpers import _flash_firmware, _trace

from pumpmon import eventlog as L
import logread
from host_tools.formats.eventlog import EVENTS


_pumpmon = pumpmon


def _files(flash):
    return {p.relative_to(flash).as_posix(): p.read_bytes()
            for p in sorted(flash.rglob("*")) if p.is_file()}


def _log(flash):
    recs, _bad = logread.read_all(str(flash / "log"))
    return [tuple(r[2]) for r in recs]


@pytest.mark.req("R-084")
def test_a_dry_run_on_a_blank_board_lists_the_files_and_starts_nothing(start_board,
                                                                       tmp_path):
    b = start_board()
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"rate_ul_h": 30}))
    before = _files(b.flash)
    boots = len([r for r in b.timeline() if r["kind"] == "boot"])
    r = _pumpmon("flash", "--port", b.port, "--config", cfg, "--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "did not come up" not in r.stdout + r.stderr and "Traceback" not in r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("dry run: sim board on ") and "REPL" in lines[0], lines[0]
    sent = [ln.split()[-1] for ln in lines if ln.startswith("  send ")]
    assert {"main.py", "boot.py", "config.json", "lib/pumpmon/engine.mpy"} <= set(sent)
    assert ("would send %d files" % len(sent)) in lines[1]
    assert _files(b.flash) == before                     # nothing written
    rows = b.timeline()
    assert len([x for x in rows if x["kind"] == "boot"]) == boots   # no reset of any kind
    # --json says the same
    r = _pumpmon("flash", "--port", b.port, "--config", cfg, "--dry-run", "--json")
    s = json.loads(r.stdout)
    assert r.returncode == 0 and s["dry_run"] and sorted(s["would_send"]) == sorted(sent)


@pytest.mark.req("R-084")
def test_a_dry_run_on_a_running_monitor_never_stops_it(start_board, tmp_path):
    cfg = _trace(tmp_path / "t.csv", duration_s=3600)       # normal delivery: no alarm
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "2")
    _flash_firmware(b, cfg, tmp_path)
    st0 = json.loads(_pumpmon("status", "--port", b.port, "--json").stdout)
    assert st0["monitoring"]
    log0 = _log(b.flash)
    files0 = {p: d for p, d in _files(b.flash).items() if not p.startswith(("log/", "rec/"))}
    boots0 = len([r for r in b.timeline() if r["kind"] == "boot"])
    cfg_path = tmp_path / "config.json"
    for extra in ([], ["--json"]):
        r = _pumpmon("flash", "--port", b.port, "--config", cfg_path, "--dry-run", *extra)
        assert r.returncode == 0, r.stdout + r.stderr
        if extra:
            s = json.loads(r.stdout)
            assert s["would_send"] == [] and s["files_skipped"] > 15
            assert "console channel" in s["read"]
        else:
            assert "console channel; the monitor kept running" in r.stdout
            assert "would send 0 files" in r.stdout
    # the log is as it was (no monitoring_stopped, reset or monitoring_interrupted),
    # the board never reset, its files are the same, and it is still monitoring
    log1 = _log(b.flash)
    assert log1[:len(log0)] == log0
    names = [EVENTS.get(x[0]) for x in log1[len(log0):]]
    assert not {"monitoring_stopped", "boot"} & set(names), names
    assert not [x for x in log1 if x[1] != L.NO_COND and
                EVENTS.get(x[0]) == "alarm_raised"], "an alarm was raised"
    assert len([r for r in b.timeline() if r["kind"] == "boot"]) == boots0
    assert {p: d for p, d in _files(b.flash).items()
            if not p.startswith(("log/", "rec/"))} == files0
    st1 = json.loads(_pumpmon("status", "--port", b.port, "--json").stdout)
    assert st1["monitoring"] and st1["up_s"] >= st0["up_s"]
    assert st1["boot_cause"] == st0["boot_cause"]
    # a change is seen: one module different on the host -> that one file
    repo = tmp_path / "repo"
    import shutil
    shutil.copytree(ROOT / "firmware", repo / "firmware")
    shutil.copytree(ROOT / "boards", repo / "boards")
    with open(repo / "firmware" / "pumpmon" / "events.py", "a") as f:
        f.write("\nDRY_RUN_TEST = 1\n")
    from host_tools.flashing import protocol as F
    s = F.flash(b.port, config=str(cfg_path), dry_run=True, root=repo, progress=False)
    assert s["would_send"] == ["lib/pumpmon/events.mpy"] and s["would_remove"] == []
    assert len([r for r in b.timeline() if r["kind"] == "boot"]) == boots0


@pytest.mark.req("R-086")
def test_status_during_a_high_priority_alarm_reports_the_patterns(start_board, tmp_path):
    cfg = _trace(tmp_path / "t.csv", duration_s=3600, factor=[(200, 0.0)])
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "5")
    _flash_firmware(b, cfg, tmp_path)
    b.wait(lambda: any(e.get("alarm") == "no_flow" for e in
                       (r for r in b.timeline() if r["kind"] == "event")), 240,
           "the no_flow alarm")
    leds = set()
    for _ in range(6):
        r = _pumpmon("status", "--port", b.port)
        assert r.returncode == 0, r.stderr
        js = json.loads(_pumpmon("status", "--port", b.port, "--json").stdout)
        leds.add(js["led"])
        assert "light: red, flashing fast" in r.stdout, r.stdout
        assert "high priority: no_flow/low_flow" in r.stdout
        assert "sound: sounding: the no flow melody (high priority), a burst every 6 s" \
            in r.stdout, r.stdout
        assert "light off" not in r.stdout and "silent" not in r.stdout
        assert js["light_pattern"].startswith("red, flashing fast")
        assert js["sound_pattern"].startswith("sounding: the no flow melody")


@pytest.mark.req("R-086")
def test_status_at_the_repl_says_how_to_resume_and_that_works(start_board, tmp_path):
    cfg = _trace(tmp_path / "t.csv", duration_s=3600)
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "2")
    _flash_firmware(b, cfg, tmp_path)
    # plain mpremote: the monitor stops (Ctrl-C), and mpremote leaves the REPL
    b.mp("fs", "ls", ":")
    r = _pumpmon("status", "--port", b.port)
    assert r.returncode == 1
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "no monitor is running" in err[0], r.stderr
    step = "mpremote connect %s reset" % b.port
    assert step in err[0]
    b.mp("reset")                                 # the step it names
    js = None
    for _ in range(10):
        r = _pumpmon("status", "--port", b.port, "--json")
        if r.returncode == 0:
            js = json.loads(r.stdout)
            break
    assert js and js["monitoring"], r.stderr
