"""`pumpmon flash` and `pumpmon config`.

Part 1 needs no board: compatibility decisions from what real boards report,
compilation with the real mpy-cross (loaded by the real unix port), the
manifest, configuration validation, the progress bar and the JSON summary,
exit statuses for no board / busy port / invalid config.
Part 2 runs against the virtual board (`pumpmon board serve`, issue 5).
"""
import fcntl
import json
import os
import subprocess

import pytest

from host_tools.commands import flash as F
from host_tools.commands.config import parse_settings
from host_tools.device.errors import DeviceError
from host_tools.exitcodes import (BAD_INPUT, BUSY, INCOMPATIBLE, LOST, NO_BOARD, NO_SPACE,
                                  SELFTEST, CommandError)
from host_tools.flashing import build as B
from host_tools.flashing import protocol as P
from host_tools.flashing.errors import FlashError
from host_tools.flashing.progress import Progress

from tests.support import BIN, MICROPYTHON, ROOT, pumpmon
from tests.vboard_helpers import GOOD_CONFIG, VBoard


def unix_port_info():
    code = ("import sys, json; i = sys.implementation; print(json.dumps({'version': "
            "list(i.version[:3]), 'mpy': i._mpy, 'platform': sys.platform}))")
    r = subprocess.run([str(MICROPYTHON), "-c", code], capture_output=True, text=True)
    return json.loads(r.stdout)


# ---------------------------------------------------------------- part 1

@pytest.mark.req("R-050")
def test_target_for_the_unix_port_and_real_boards():
    t = B.target_for(unix_port_info())
    assert t["march"] == "x64" and t["compat"] is None and not t["source"]
    # what a Pico on 1.24 and an ESP32 on 1.21 report
    pico = B.target_for({"version": [1, 24, 1], "mpy": 0x1306, "platform": "rp2"})
    assert pico["march"] == "armv6m" and pico["compat"] is None
    esp = B.target_for({"version": [1, 21, 0], "mpy": 0x2906, "platform": "esp32"})
    assert esp["march"] == "xtensawin" and esp["compat"] == "1.20.0"
    assert B.board_for({"platform": "rp2"}) == "rpi_pico"
    assert B.board_for({"platform": "linux"}) == "sim"
    with pytest.raises(FlashError) as e:
        B.board_for({"platform": "nrf"})
    assert e.value.status == BAD_INPUT


@pytest.mark.parametrize("info, words", [
    ({"version": [1, 18, 0], "mpy": 0x1105, "platform": "rp2"}, "runs 1.18.0, too old"),
    ({"version": [1, 19, 1], "mpy": 0x1105, "platform": "rp2"}, "v5, too old"),
    ({"version": [1, 24, 0], "platform": "rp2"}, "reports no .mpy version"),
    ({"version": [2, 0, 0], "mpy": 0x1307, "platform": "rp2"}, "v7, unknown"),
    ({"version": [1, 24, 0], "mpy": (40 << 10) | 6, "platform": "rp2"}, "unknown architecture"),
    ({"mpy": 0x1306, "platform": "rp2"}, "did not report a version"),
])
@pytest.mark.req("R-050")
def test_too_old_or_unknown_micropython_is_refused(info, words):
    with pytest.raises(FlashError) as e:
        B.target_for(info)
    assert e.value.status == INCOMPATIBLE
    assert str(e.value).startswith("incompatible MicroPython")
    assert words in str(e.value)


def test_source_mode_needs_no_mpy_but_a_recent_version():
    assert B.target_for({"version": [1, 24, 0], "platform": "rp2"}, source=True)["source"]
    with pytest.raises(FlashError):
        B.target_for({"version": [1, 12, 0], "mpy": 5, "platform": "rp2"}, source=True)


def _fake_board_dir(tmp_path):
    # the repository's firmware with a minimal board folder
    root = tmp_path / "repo"
    (root / "boards" / "fake").mkdir(parents=True)
    (root / "boards" / "fake" / "board.py").write_text(
        "import helper\nclass Board:\n    pass\n")
    (root / "boards" / "fake" / "helper.py").write_text("X = 1\n")
    (root / "firmware").symlink_to(ROOT / "firmware")
    return root


def _install(files, dest, manifest):
    for p, data in files.items():
        f = dest / p
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
    (dest / "manifest.json").write_bytes(B.manifest_bytes(manifest))
    (dest / "config.json").write_text(json.dumps(GOOD_CONFIG))


@pytest.mark.req("R-049")
def test_compiled_firmware_loads_and_passes_selftest_on_the_unix_port(tmp_path):
    root = _fake_board_dir(tmp_path)
    target = B.target_for(unix_port_info())
    files = B.build_files(root, "fake", target, cache=tmp_path / "cache")
    assert "lib/pumpmon/engine.mpy" in files and "board.mpy" in files
    assert "lib/helper.mpy" in files
    assert files["main.py"] == (ROOT / "firmware" / "main.py").read_bytes()
    assert files["lib/pumpmon/engine.mpy"][:2] == b"M\x06"
    assert not any(p.endswith(".py") and p.startswith("lib/") for p in files)
    board = tmp_path / "flash"
    _install(files, board, B.manifest_for(files, "fake", target))
    env = dict(os.environ, MICROPYPATH=".:lib")
    r = subprocess.run([str(MICROPYTHON), "-c",
                        "import sys\nfrom pumpmon import selftest, engine\n"
                        "print(engine.__file__)\nselftest.report()"],
                       cwd=board, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].endswith("engine.mpy")                 # the bytecode, not a source
    res = json.loads(lines[-1])
    assert res["ok"], res
    # damage one compiled file: the self-test says which
    (board / "lib" / "pumpmon" / "events.mpy").write_bytes(b"M\x06garbage")
    r = subprocess.run([str(MICROPYTHON), "-c", "from pumpmon import selftest\n"
                        "selftest.report()"], cwd=board, env=env, capture_output=True,
                       text=True, timeout=60)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert not res["ok"]
    assert any("lib/pumpmon/events.mpy" in p for p in res["problems"]), res


@pytest.mark.req("R-050")
def test_compile_per_architecture_and_for_older_releases(tmp_path):
    root = _fake_board_dir(tmp_path)
    pico = B.build_files(root, "fake", B.target_for(
        {"version": [1, 24, 1], "mpy": 0x1306, "platform": "rp2"}), cache=tmp_path / "c")
    old = B.build_files(root, "fake", B.target_for(
        {"version": [1, 20, 0], "mpy": 0x2906, "platform": "esp32"}), cache=tmp_path / "c")
    assert pico["lib/pumpmon/engine.mpy"][:2] == b"M\x06"
    assert old["lib/pumpmon/engine.mpy"][:2] == b"M\x06"
    src = B.build_files(root, "fake", {"source": True}, cache=tmp_path / "c")
    assert src["lib/pumpmon/engine.py"] == (ROOT / "firmware/pumpmon/engine.py").read_bytes()
    assert src["board.py"].startswith(b"import helper")


@pytest.mark.req("R-049")
def test_manifest_is_deterministic_and_tracks_one_changed_file(tmp_path):
    root = _fake_board_dir(tmp_path)
    target = B.target_for(unix_port_info())
    a = B.build_files(root, "fake", target, cache=tmp_path / "c1")
    b = B.build_files(root, "fake", target, cache=tmp_path / "c2")   # no cache shared
    ma, mb = B.manifest_for(a, "fake", target), B.manifest_for(b, "fake", target)
    assert B.manifest_bytes(ma) == B.manifest_bytes(mb)
    (root / "boards" / "fake" / "helper.py").write_text("X = 2\n")
    c = B.build_files(root, "fake", target, cache=tmp_path / "c1")
    mc = B.manifest_for(c, "fake", target)
    diff = [p for p in ma["files"] if ma["files"][p] != mc["files"].get(p)]
    assert diff == ["lib/helper.mpy"]
    assert ma["version"] != mc["version"]
    assert set(ma["files"]) == set(a)
    for p, h in ma["files"].items():
        assert h == B.sha256_hex(a[p])


def test_board_drivers_follow_the_imports():
    files = {d for d, _s, _c in B.sources(ROOT, "rpi_pico")}
    assert {"board.py", "lib/pins.py", "lib/sf06.py", "lib/buzzer.py"} <= files
    # no network stack on a Pico: the carers' link is not flashed there (the
    # self-test imports every flashed module), it is on the ESP32
    assert not [f for f in files if f.startswith(("lib/carerlink/", "lib/umqtt/"))]
    assert "lib/carerlink/link.py" in {d for d, _s, _c in B.sources(ROOT, "esp32")}
    with pytest.raises(FlashError) as e:
        B.sources(ROOT, "no_such_board")
    assert e.value.status == BAD_INPUT and "no such board" in str(e.value)


@pytest.mark.req("R-042")
def test_invalid_config_is_refused_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n "rate_ul_h": 30,\n "no_flow_fraction": 2\n}\n')
    with pytest.raises(FlashError) as e:
        B.config_bytes(bad)
    assert e.value.status == BAD_INPUT
    assert str(e.value).startswith("%s:3: invalid configuration: no_flow_fraction" % bad)
    bad.write_text('{"rate_ul_h": 30,,}')
    with pytest.raises(FlashError) as e:
        B.config_bytes(bad)
    assert "%s:1: invalid configuration: not JSON" % bad in str(e.value)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD_CONFIG))
    data, values = B.config_bytes(good)
    assert json.loads(data) == GOOD_CONFIG


@pytest.mark.req("R-071")
@pytest.mark.parametrize("text,line,key", [
    ('{\n "rate_ul_h": 30,\n "flow_window_s": 120,\n "flow_window\\u005fs": 600\n}', 4,
     '"flow_window_s"'),
    ('{\n "rate_ul_h": 30,\n "\\ud83d\\ude00": 1,\n "\U0001F600": 2\n}', 4,
     '"\\ud83d\\ude00"')])
def test_a_key_given_twice_with_an_escape_is_refused_on_the_host(tmp_path, text, line, key):
    # issue 28: compared after unescaping, as the board does (a reader of the
    # file sees 120, json keeps 600); flash --dry-run, and config show/set
    # reading the board's file
    from host_tools.commands.config import parse_board_config
    bad = tmp_path / "dup.json"
    bad.write_text(text, encoding="utf-8")
    want = "%s:%d: invalid configuration: setting %s given twice" % (bad, line, key)
    with pytest.raises(FlashError) as e:
        B.config_bytes(bad)
    assert e.value.status == BAD_INPUT and str(e.value) == want
    r = pumpmon("flash", "--port", tmp_path / "no-such-port", "--config", bad, "--dry-run")
    assert r.returncode == 2 and r.stderr.strip() == "pumpmon flash: " + want, r.stderr
    values, problem = parse_board_config(text.encode("utf-8"))
    assert values is None
    assert problem == "config.json:%d on the board: setting %s given twice" % (line, key)


BAD_JSON = {"not_utf8": b'{"rate_ul_h": 30, "board_id": "\xff"}',
            "nested": b"[" * 100000 + b"]" * 100000,
            "nested_object": b'{"a":' * 100000 + b"1" + b"}" * 100000,
            "huge": b'{"rate_ul_h": 30, "board_id": "' + b"x" * (2 << 20) + b'"}'}


@pytest.mark.parametrize("what", sorted(BAD_JSON))
@pytest.mark.req("R-042")
def test_any_json_is_one_line_error_never_a_traceback(tmp_path, what):
    # --config of flash and replay, and replay's --check expectations
    bad = tmp_path / "bad.json"
    bad.write_bytes(BAD_JSON[what])
    trace = ROOT / "traces" / "normal.csv"
    for args in (("flash", "--port", tmp_path / "no-such-port", "--config", bad),
                 ("replay", trace, "--config", bad),
                 ("replay", trace, "--check", bad)):
        r = pumpmon(*args)
        assert r.returncode == 2, (args, r.stderr[-500:])
        assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr[-500:]
        assert str(bad) in r.stderr, r.stderr


@pytest.mark.req("R-042")
def test_cli_refuses_invalid_config_before_looking_for_a_board(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schedule": "08:00/30", "rate_ul_h": 3}')
    r = pumpmon("flash", "--port", tmp_path / "no-such-port", "--config", bad, "--json")
    assert r.returncode == 2, r.stderr
    assert "give rate_ul_h or schedule, not both" in r.stderr
    assert json.loads(r.stdout)["status"] == 2
    assert "Traceback" not in r.stderr


def test_cli_no_board_found(tmp_path):
    r = pumpmon("flash", "--port", tmp_path / "ttyACM9")
    assert r.returncode == NO_BOARD
    # a line "compiling the firmware for <the last board's kind>..." may come
    # first (prebuild.py: the compile is done before the board is looked for,
    # when another test's board was the last one seen): the error is a line
    # of its own, and the only failure said
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith("pumpmon flash:")]
    assert len(errs) == 1 and errs[0].startswith("pumpmon flash: no board found:"), r.stderr
    assert "Traceback" not in r.stderr
    r = pumpmon("flash", "--port", "socket://127.0.0.1:9", "--json")
    assert r.returncode == NO_BOARD
    assert json.loads(r.stdout)["error"].startswith("no board found")


def test_cli_board_busy_when_another_program_holds_the_port():
    master, slave = os.openpty()
    path = os.ttyname(slave)
    holder = os.open(path, os.O_RDWR | os.O_NOCTTY)
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)     # as pyserial's exclusive mode
    try:
        r = pumpmon("flash", "--port", path)
        assert r.returncode == BUSY, r.stderr
        assert "board busy" in r.stderr and path in r.stderr
        r = pumpmon("config", "show", "--port", path)
        assert r.returncode == BUSY, r.stderr
    finally:
        os.close(holder)
        os.close(slave)
        os.close(master)


def test_progress_bar_and_summary(capsys):
    p = Progress(5000, 2, True)
    p.add(2500)
    p.file_done()
    p.add(2500)
    p.file_done()
    p.end()
    err = capsys.readouterr().err
    assert "5.0/5.0 kB" in err and "2/2 files" in err and "#" * 30 in err
    q = Progress(5000, 2, False)                          # not a terminal: silent
    q.add(10)
    q.end()
    assert capsys.readouterr().err == ""
    s = {"files_sent": 1, "bytes_sent": 812, "files_skipped": 23, "files_removed": 0,
         "seconds": 1.25, "board": "sim", "port": "/dev/pts/3", "version": "abc",
         "micropython": "MicroPython 1.29.0, .mpy v6.3 x64", "dry_run": False}
    text = F.human(s)
    assert "sent 1 files (812 bytes), skipped 23, removed 0, in 1.25 s" in text


@pytest.mark.req("R-042")
def test_config_settings_parse():
    assert parse_settings(["rate_ul_h=30", "board_id=bed 4", "schedule=", "pause_s=60.5"]) == {
        "rate_ul_h": 30, "board_id": "bed 4", "schedule": None, "pause_s": 60.5}
    with pytest.raises(CommandError):
        parse_settings(["rate_ul_h"])
    # a value out of range or an unknown name: refused before connecting
    r = pumpmon("config", "set", "--port", "/dev/null-x", "no_flow_fraction=5")
    assert r.returncode == 2 and "no_flow_fraction: 5 is outside" in r.stderr, r.stderr
    r = pumpmon("config", "set", "--port", "/dev/null-x", "flow=5")
    assert r.returncode == 2 and "unknown setting 'flow'" in r.stderr
    # issue 12: a rate of 0 only as a declared stopped pump; extreme thresholds
    r = pumpmon("config", "set", "--port", "/dev/null-x", "rate_ul_h=0")
    assert r.returncode == 2 and "pump_stopped" in r.stderr and "clinician" in r.stderr, \
        r.stderr
    r = pumpmon("config", "set", "--port", "/dev/null-x", "rate_ul_h=0", "pump_stopped=yes")
    assert r.returncode == 2 and "pump_stopped: 'yes' is not true or false" in r.stderr
    for bad in ("no_flow_fraction=0.05", "flow_window_s=3600", "low_reservoir_ml=0"):
        r = pumpmon("config", "set", "--port", "/dev/null-x", bad)
        assert r.returncode == 2 and bad.split("=")[0] + ":" in r.stderr, r.stderr


# ---------------------------------------------------------------- part 2
# Against the virtual board: `pumpmon board serve` (the real unix port behind
# a pty that unmodified mpremote opens; its flash is a folder here).
import re            # noqa: E402

from host_tools.device import session as FB     # noqa: E402
from host_tools.vboard.served import ServedBoard  # noqa: E402

# every test here needs the virtual board (always in the tree): marked, never
# skipped, so a board that cannot start fails them
needs_board = pytest.mark.vboard


def flash(board, root, **kw):
    kw.setdefault("settle", 1.5)
    return P.flash(board.port, root=root, progress=False, **kw)


def whole(files, root):
    """The board holds exactly the version built from root (no staging,
    journal or leftovers)."""
    man = json.loads(files["manifest.json"])
    assert not any(p.startswith((".pm_", "lib/.pm")) for p in files), sorted(files)
    for p, h in man["files"].items():
        assert B.sha256_hex(files[p]) == h, p
    extra = set(files) - set(man["files"]) - {"manifest.json", "config.json"}
    assert not extra, extra
    return man


@needs_board
@pytest.mark.req("R-049")
def test_first_flash_then_no_change_then_one_file(vboard, repo, cfg_file):
    # first flash, through the command line with --json
    r = subprocess.run([str(BIN / "pumpmon"), "flash", "--port", vboard.port, "--config",
                        str(cfg_file), "--json"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert set(first) >= {"files_sent", "bytes_sent", "files_skipped", "files_removed",
                          "seconds"}
    assert first["files_sent"] > 15 and first["bytes_sent"] > 10000
    assert first["files_skipped"] == 0 and first["board"] == "sim"
    # the virtual board's RTC (a Pico's, boards/sim/rom/simclocks.py) set to its world's time
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", first["clock"]), first["clock"]
    man = whole(vboard.files(), ROOT)
    assert "lib/pumpmon/engine.mpy" in man["files"] and "board.mpy" in man["files"]
    assert json.loads(vboard.files()["config.json"]) == GOOD_CONFIG
    assert vboard.selftest()["ok"]
    # the same again: nothing sent
    again = flash(vboard, ROOT, config=cfg_file)
    assert again["files_sent"] == 0 and again["bytes_sent"] == 0
    assert again["files_skipped"] == first["files_sent"]
    assert again["version"] == first["version"]
    # one module changed: one file sent
    with open(repo / "firmware" / "pumpmon" / "events.py", "a") as f:
        f.write("\nFLASH_TEST = 1\n")
    before = vboard.files()
    dry = flash(vboard, repo, config=cfg_file, dry_run=True)
    assert dry["would_send"] == ["lib/pumpmon/events.mpy"] and dry["would_remove"] == []
    assert dry["bytecode"].startswith(".mpy on littlefs now"), dry   # (no ROM partition)
    assert vboard.files() == before                     # a dry run changes nothing
    one = flash(vboard, repo, config=cfg_file)
    assert one["files_sent"] == 1 and one["files_removed"] == 0
    assert one["bytes_sent"] == len(vboard.files()["lib/pumpmon/events.mpy"])
    assert one["version"] != first["version"]
    whole(vboard.files(), repo)
    print("\nfirst %.2f s %d B; no change %.2f s; one file %.2f s %d B" % (
        first["seconds"], first["bytes_sent"], again["seconds"], one["seconds"],
        one["bytes_sent"]))


@needs_board
@pytest.mark.req("R-049")
def test_stale_files_are_removed(vboard, repo, cfg_file):
    extra = repo / "firmware" / "pumpmon" / "flash_extra.py"
    extra.write_text("EXTRA = 1\n")
    flash(vboard, repo, config=cfg_file)
    assert "lib/pumpmon/flash_extra.mpy" in vboard.files()
    extra.unlink()
    s = flash(vboard, repo)
    assert s["files_removed"] == 1 and s["files_sent"] == 0
    assert "lib/pumpmon/flash_extra.mpy" not in vboard.files()
    # source then compiled: every .py of the source version goes
    s = flash(vboard, repo, source=True)
    assert any(p.endswith(".py") for p in json.loads(vboard.files()["manifest.json"])["files"]
               if p.startswith("lib/"))
    s = flash(vboard, repo)
    assert s["files_removed"] >= 15
    files = vboard.files()
    assert not any(p.startswith("lib/") and p.endswith(".py") for p in files)
    whole(files, repo)
    assert json.loads(files["config.json"]) == GOOD_CONFIG       # never touched


def _cut_exec(mocker, when):
    """Pull the cable (close the port) at the first exchange `when(code, n)`
    accepts; n counts the data chunks sent so far."""
    real = FB.BoardSession.exec
    state = {"chunks": 0, "cut": False}

    def exec_(self, code):
        if code.startswith("_pmw("):
            state["chunks"] += 1
        if not state["cut"] and when(code, state["chunks"]):
            state["cut"] = True
            self.t.serial.close()
        return real(self, code)

    mocker.patch.object(FB.BoardSession, "exec", exec_)
    return state


@needs_board
@pytest.mark.parametrize("point", ["first chunk", "half way", "last module", "manifest",
                                   "journal"])
@pytest.mark.req("R-049")
def test_cut_transfer_keeps_old_version_and_next_flash_finishes(vboard, repo, cfg_file,
                                                                mocker, point):
    flash(vboard, ROOT, config=cfg_file)
    old = vboard.files()
    old_version = vboard.version()
    # a new version that changes every module
    for p in (repo / "firmware" / "pumpmon").glob("*.py"):
        with open(p, "a") as f:
            f.write("\n_CUT_TEST = 1\n")
    total = sum(len(d) for p, d in old.items() if p.startswith("lib/pumpmon/")) // FB.CHUNK
    last = sorted((repo / "firmware" / "pumpmon").glob("*.py"))[-1].stem
    when = {
        "first chunk": lambda code, n: n == 1,
        "half way": lambda code, n: n == max(2, total // 2),
        "last module": lambda code, n: code.startswith(
            "_pmopen('.pm_stage/lib/pumpmon/%s.mpy'" % last),
        "manifest": lambda code, n: code.startswith("_pmopen('.pm_stage/manifest.json'"),
        "journal": lambda code, n: code.startswith("_pmopen('.pm_journal.tmp'"),
    }[point]
    state = _cut_exec(mocker, when)
    with pytest.raises(DeviceError) as e:
        flash(vboard, repo)
    assert state["cut"]
    assert e.value.status == LOST and "connection to the board lost" in str(e.value)
    mocker.stopall()
    # the board boots the old version, whole (mpremote soft-resets: boot.py runs)
    st = vboard.selftest()
    assert st["ok"] and st["version"] == old_version, st
    now = vboard.files()
    assert {p: d for p, d in now.items() if not p.startswith(".pm_stage/")} == old
    staged = [p for p in now if p.startswith(".pm_stage/")]
    assert staged or point == "first chunk"
    # the next flash finishes the job, sending only what was not staged
    s = flash(vboard, repo)
    changed = len([p for p in (repo / "firmware" / "pumpmon").glob("*.py")])
    if point == "first chunk":
        assert s["files_resumed"] == 0
    elif point == "half way":
        assert 1 <= s["files_resumed"] < changed - 1
    elif point == "last module":
        assert s["files_resumed"] == changed - 1 and s["files_sent"] == 1
    else:                                    # every module was staged and verified
        assert s["files_resumed"] == changed and s["files_sent"] == 0
    assert s["files_sent"] + s["files_resumed"] == changed
    man = whole(vboard.files(), repo)
    assert man["version"] == s["version"] != old_version
    assert vboard.selftest()["ok"]


@needs_board
@pytest.mark.parametrize("fault", ["cut-after=6000", "power-cut=30"])
@pytest.mark.req("R-049")
def test_flash_after_a_power_cut_exits_9_within_its_timeout(tmp_path, repo, cfg_file, fault,
                                                            mocker):
    # the board loses power in the middle of the transfer (the virtual
    # board's own fault, not a mock): every read of the session times out,
    # so the command ends with exit status 9, never a hang
    import time
    ctl = tmp_path / "ctl"
    served = ServedBoard(tmp_path / "tty", tmp_path / "flash", ["--control", ctl],
                         stderr=subprocess.DEVNULL)
    try:
        assert served.ready
        r = subprocess.run([str(BIN / "pumpmon"), "flash", "--port", served.port, "--config",
                            str(cfg_file)], cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        for p in (repo / "firmware" / "pumpmon").glob("*.py"):
            with open(p, "a") as f:
                f.write("\n_CUT_TEST = 1\n")
        if fault.startswith("cut-after"):
            arm = [fault]
        else:                                # the cut comes during the transfer
            arm = []
        if arm:
            subprocess.run([str(BIN / "pumpmon"), "board", "ctl", "--control", str(ctl)]
                           + arm, check=True, timeout=30, capture_output=True)
        import threading
        result = {}

        def run():
            try:
                P.flash(served.port, root=repo, progress=False, settle=1.5)
                result["status"] = 0
            except CommandError as e:
                result["status"], result["error"] = e.status, str(e)
        if not arm:                          # the power goes as the first file is staged
            real = FB.BoardSession.write

            def write(self, path, data, progress=None):
                if path.startswith(".pm_stage/"):
                    subprocess.run([str(BIN / "pumpmon"), "board", "ctl", "--control",
                                    str(ctl), fault], check=True, timeout=30,
                                   capture_output=True)
                return real(self, path, data, progress)
            mocker.patch.object(FB.BoardSession, "write", write)
        t0 = time.monotonic()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(90)
        took = time.monotonic() - t0
        assert not t.is_alive(), "pumpmon flash hangs after %s" % fault
        assert result.get("status") == 9, result
        assert "connection to the board lost" in result["error"], result
        assert took < 60, took
    finally:
        served.stop()


@needs_board
@pytest.mark.req("R-049")
def test_cut_after_commit_is_finished_by_boot_py(vboard, repo, cfg_file, mocker):
    flash(vboard, ROOT, config=cfg_file)
    old_version = vboard.version()
    with open(repo / "firmware" / "pumpmon" / "events.py", "a") as f:
        f.write("\n_COMMIT_TEST = 1\n")
    real = FB.BoardSession.exec

    def exec_(self, code):
        out = real(self, code)
        if code.startswith("os.rename('.pm_journal.tmp'"):
            vboard.power_cut()               # the board dies right after the commit
        return out

    mocker.patch.object(FB.BoardSession, "exec", exec_)
    with pytest.raises(DeviceError) as e:
        flash(vboard, repo)
    assert e.value.status == LOST
    mocker.stopall()
    files = vboard.files()
    assert ".pm_journal" in files                       # committed, not swapped
    assert json.loads(files["manifest.json"])["version"] == old_version
    vboard.start()                                      # power back: boot.py swaps
    st = vboard.selftest()
    assert st["ok"] and st["version"] != old_version, st
    man = whole(vboard.files(), repo)
    assert man["version"] == st["version"]
    s = flash(vboard, repo)                             # and a flash has nothing to do
    assert s["files_sent"] == 0


@needs_board
@pytest.mark.req("R-049")
def test_board_killed_mid_transfer(vboard, repo, cfg_file, mocker):
    flash(vboard, ROOT, config=cfg_file)
    old_version = vboard.version()
    for p in (repo / "firmware" / "pumpmon").glob("*.py"):
        with open(p, "a") as f:
            f.write("\n_KILL_TEST = 1\n")
    real = FB.BoardSession.exec
    n = [0]

    def exec_(self, code):
        if code.startswith("_pmw("):
            n[0] += 1
            if n[0] == 5:
                vboard.power_cut()
        return real(self, code)

    mocker.patch.object(FB.BoardSession, "exec", exec_)
    with pytest.raises(DeviceError) as e:
        flash(vboard, repo)
    assert e.value.status == LOST
    mocker.stopall()
    vboard.start()
    st = vboard.selftest()
    assert st["ok"] and st["version"] == old_version
    s = flash(vboard, repo)
    assert s["files_resumed"] >= 1
    assert whole(vboard.files(), repo)["version"] == s["version"] != old_version


@needs_board
@pytest.mark.req("R-050")
def test_old_or_unknown_micropython_is_refused_and_nothing_sent(vboard, cfg_file, mocker):
    flash(vboard, ROOT, config=cfg_file)
    before = vboard.files()
    real = FB.BoardSession.probe
    for fake in ({"version": [1, 18, 0], "mpy": 0x1105}, {"mpy": None}):
        def probe(self, fake=fake):
            info = real(self)            # the real board's answer, made older
            info.update(fake)
            return info
        mocker.patch.object(FB.BoardSession, "probe", probe)
        with pytest.raises(FlashError) as e:
            flash(vboard, ROOT, config=cfg_file)
        assert e.value.status == INCOMPATIBLE
        assert str(e.value).startswith("incompatible MicroPython")
        mocker.stopall()
    assert vboard.files() == before


@needs_board
@pytest.mark.req("R-042")
def test_invalid_config_refused_before_sending(vboard, tmp_path, cfg_file):
    flash(vboard, ROOT, config=cfg_file)
    before = vboard.files()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rate_ul_h": 30, "low_reservoir_ml": 30}))
    r = subprocess.run([str(BIN / "pumpmon"), "flash", "--port", vboard.port, "--config",
                        str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "invalid configuration: low_reservoir_ml must be below" in r.stderr
    assert vboard.files() == before
    r = subprocess.run([str(BIN / "pumpmon"), "config", "set", "--port", vboard.port,
                        "low_reservoir_ml=30"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "nothing was sent" in r.stderr, r.stderr
    assert vboard.files() == before


@needs_board
@pytest.mark.req("R-049")
def test_out_of_space(tmp_path, cfg_file):
    b = VBoard(tmp_path, flash_size=352 * 1024)   # the compiled firmware fits, its source does not
    try:
        flash(b, ROOT, config=cfg_file)                  # compiled: fits
        before = b.files()
        with pytest.raises(FlashError) as e:
            flash(b, ROOT, source=True)                  # source: twice as big
        assert e.value.status == NO_SPACE
        m = re.match(r"out of space: the update needs (\d+) bytes of free flash, "
                     r"the board has (\d+) \((\d+) more needed\)", str(e.value))
        assert m, str(e.value)
        assert int(m.group(1)) > int(m.group(2))
        assert b.files() == before                       # nothing staged is left
        st = b.selftest()
        assert st["ok"] and st["version"] == json.loads(before["manifest.json"])["version"]
    finally:
        b.stop()


@needs_board
@pytest.mark.req("R-026")
def test_config_show_and_set_logged_on_the_board(vboard, cfg_file):
    flash(vboard, ROOT, config=cfg_file)
    r = subprocess.run([str(BIN / "pumpmon"), "config", "set", "--port", vboard.port,
                        "rate_ul_h=45", "--json"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["changed"] == ["rate_ul_h"]
    assert json.loads(r.stdout)["clock"].startswith("20")   # its RTC set again
    r = subprocess.run([str(BIN / "pumpmon"), "config", "show", "--port", vboard.port,
                        "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    shown = json.loads(r.stdout)
    assert shown["config"]["rate_ul_h"] == 45 and shown["valid"]
    assert json.loads(vboard.files()["config.json"])["rate_ul_h"] == 45
    whole(vboard.files(), ROOT)
    # the firmware logged the change on the board at its restart
    r = subprocess.run([str(BIN / "pumpmon"), "log", "decode", "--json",
                        str(vboard.flash / "log")], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    records = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    configs = [x for x in records if x.get("event") == "config"]
    assert [c["rate_ul_h"] for c in configs if c["changed"]] == [30.0, 45.0], configs
    # config set asked for service mode first: logged, then the reset's boot;
    # config show read through the channel: nothing stopped after that boot
    stops = [i for i, x in enumerate(records) if x["event"] == "monitoring_stopped"]
    last = records[stops[-1]]
    assert last["detail"] == "service" and last["service"] == "config", [
        (x["event"], x.get("detail"), x["uptime_ms"]) for x in records]
    assert records[stops[-1] + 1]["event"] == "boot"
    assert [x["event"] for x in records[stops[-1]:]].count("monitoring_stopped") == 1


@needs_board
@pytest.mark.parametrize("content", [b'{"rate_ul_h": 30, "board_id": "\xff\xfe"}',
                                     b"[" * 100000, b"\x00\x01binary"])
def test_a_broken_config_on_the_board_is_one_line_and_config_set_replaces_it(
        vboard, cfg_file, content):
    flash(vboard, ROOT, config=cfg_file)
    (vboard.flash / "config.json").write_bytes(content)
    r = subprocess.run([str(BIN / "pumpmon"), "config", "show", "--port", vboard.port],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "config.json on the board is not" in out, out
    r = subprocess.run([str(BIN / "pumpmon"), "config", "set", "--port", vboard.port,
                        "rate_ul_h=35"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert json.loads(vboard.files()["config.json"]) == {"rate_ul_h": 35}


@needs_board
@pytest.mark.req("R-049")
def test_monitor_that_does_not_come_up_is_a_failure(vboard, repo, cfg_file):
    # no configuration on a new board and none given: refused, nothing sent
    # (tests/vboard/test_flash_guide.py has the whole first-time path)
    with pytest.raises(FlashError) as e:
        flash(vboard, ROOT)
    assert e.value.status == BAD_INPUT
    assert "config.json" in str(e.value) and "make flash CONFIG=" in str(e.value)
    assert not (vboard.flash / "manifest.json").exists()
    # a main.py that stops: seen on the console after the reset
    (repo / "firmware" / "main.py").write_text("raise RuntimeError('flash test')\n")
    with pytest.raises(FlashError) as e:
        flash(vboard, repo, config=cfg_file)
    assert e.value.status == SELFTEST
    assert str(e.value) == ("the monitor did not come up: main.py stopped with an "
                            "exception")


def _set_clock_on_unix_port(with_rtc):
    """The board-side code of BoardSession.set_clock, run by the real unix port with a
    machine module that has (or lacks) an RTC: what it printed, what was set."""
    import time as _t
    from host_tools.device.session import SET_CLOCK
    t = _t.struct_time((2026, 11, 25, 23, 30, 5, 2, 329, 0))
    dt = (2026, 11, 25, 2, 23, 30, 5, 0)
    fake = ("import sys\nclass _M:\n    pass\nm = _M()\n"
            + ("class RTC:\n    def datetime(self, t):\n        print('rtc', t)\n"
               "m.RTC = RTC\n" if with_rtc else "")
            + "sys.modules['machine'] = m\n")
    code = fake + SET_CLOCK % ((t.tm_year, t.tm_mon, t.tm_mday, t.tm_wday, t.tm_hour,
                                 t.tm_min, t.tm_sec, 0),)
    r = subprocess.run([str(MICROPYTHON), "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split("\n"), dt


@pytest.mark.skipif(not MICROPYTHON.exists(), reason="no MicroPython unix port (make setup)")
def test_set_clock_writes_the_rtc_tuple_of_rp2_and_esp32():
    out, dt = _set_clock_on_unix_port(True)
    # (year, month, day, weekday 0 = Monday, h, m, s, subseconds): 2026-11-25 is a Wednesday
    assert out[:2] == ["rtc %r" % (dt,), "set"], out
    out, _dt = _set_clock_on_unix_port(False)
    assert out[0] == "none", out


@needs_board
@pytest.mark.req("R-042")
def test_config_the_board_refuses_is_replaced_by_the_previous_one(vboard, repo, cfg_file,
                                                                   tmp_path, mocker):
    # issue 12: a configuration that passes the host's checks but fails the
    # board's self-test must not stay installed (a board worse than before)
    flash(vboard, ROOT, config=cfg_file)
    before = vboard.files()["config.json"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"rate_ul_h": 45.0, "board_id": "bed 9"}))
    real = FB.BoardSession.selftest

    def refuses(self):
        st = real(self)
        return {"ok": False, "version": st["version"],
                "problems": ["config.json: refused by this board (test)"]}

    mocker.patch.object(FB.BoardSession, "selftest", refuses)
    with pytest.raises(FlashError) as e:
        flash(vboard, ROOT, config=other)
    assert e.value.status == SELFTEST
    assert "the previous configuration was put back" in str(e.value)
    assert vboard.files()["config.json"] == before
    mocker.stopall()
    assert vboard.selftest()["ok"]
