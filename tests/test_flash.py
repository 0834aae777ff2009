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
import sys
from pathlib import Path

import pytest

from host_tools import flash as F
from host_tools import flash_build as B
from host_tools.boardconfig import parse_settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MICROPYTHON = BIN / "micropython"
GOOD_CONFIG = {"rate_ul_h": 30.0, "board_id": "test bed"}


def pumpmon(*args, timeout=120):
    return subprocess.run([str(BIN / "pumpmon")] + [str(a) for a in args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def unix_port_info():
    code = ("import sys, json; i = sys.implementation; print(json.dumps({'version': "
            "list(i.version[:3]), 'mpy': i._mpy, 'platform': sys.platform}))")
    r = subprocess.run([str(MICROPYTHON), "-c", code], capture_output=True, text=True)
    return json.loads(r.stdout)


# ---------------------------------------------------------------- part 1

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
    with pytest.raises(B.FlashError) as e:
        B.board_for({"platform": "nrf"})
    assert e.value.status == B.EXIT_BAD_INPUT


@pytest.mark.parametrize("info, words", [
    ({"version": [1, 18, 0], "mpy": 0x1105, "platform": "rp2"}, "runs 1.18.0, too old"),
    ({"version": [1, 19, 1], "mpy": 0x1105, "platform": "rp2"}, "v5, too old"),
    ({"version": [1, 24, 0], "platform": "rp2"}, "reports no .mpy version"),
    ({"version": [2, 0, 0], "mpy": 0x1307, "platform": "rp2"}, "v7, unknown"),
    ({"version": [1, 24, 0], "mpy": (40 << 10) | 6, "platform": "rp2"}, "unknown architecture"),
    ({"mpy": 0x1306, "platform": "rp2"}, "did not report a version"),
])
def test_too_old_or_unknown_micropython_is_refused(info, words):
    with pytest.raises(B.FlashError) as e:
        B.target_for(info)
    assert e.value.status == B.EXIT_INCOMPATIBLE
    assert str(e.value).startswith("incompatible MicroPython")
    assert words in str(e.value)


def test_source_mode_needs_no_mpy_but_a_recent_version():
    assert B.target_for({"version": [1, 24, 0], "platform": "rp2"}, source=True)["source"]
    with pytest.raises(B.FlashError):
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
    with pytest.raises(B.FlashError) as e:
        B.sources(ROOT, "no_such_board")
    assert e.value.status == B.EXIT_BAD_INPUT and "no such board" in str(e.value)


def test_invalid_config_is_refused_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n "rate_ul_h": 30,\n "no_flow_fraction": 2\n}\n')
    with pytest.raises(B.FlashError) as e:
        B.config_bytes(bad)
    assert e.value.status == B.EXIT_BAD_INPUT
    assert str(e.value).startswith("%s:3: invalid configuration: no_flow_fraction" % bad)
    bad.write_text('{"rate_ul_h": 30,,}')
    with pytest.raises(B.FlashError) as e:
        B.config_bytes(bad)
    assert "%s:1: invalid configuration: not JSON" % bad in str(e.value)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD_CONFIG))
    data, values = B.config_bytes(good)
    assert json.loads(data) == GOOD_CONFIG


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
    assert r.returncode == B.EXIT_NO_BOARD
    assert r.stderr.startswith("pumpmon flash: no board found:")
    r = pumpmon("flash", "--port", "socket://127.0.0.1:9", "--json")
    assert r.returncode == B.EXIT_NO_BOARD
    assert json.loads(r.stdout)["error"].startswith("no board found")


def test_cli_board_busy_when_another_program_holds_the_port():
    master, slave = os.openpty()
    path = os.ttyname(slave)
    holder = os.open(path, os.O_RDWR | os.O_NOCTTY)
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)     # as pyserial's exclusive mode
    try:
        r = pumpmon("flash", "--port", path)
        assert r.returncode == B.EXIT_BUSY, r.stderr
        assert "board busy" in r.stderr and path in r.stderr
        r = pumpmon("config", "show", "--port", path)
        assert r.returncode == B.EXIT_BUSY, r.stderr
    finally:
        os.close(holder)
        os.close(slave)
        os.close(master)


def test_progress_bar_and_summary(capsys):
    p = F.Progress(5000, 2, True)
    p.add(2500)
    p.file_done()
    p.add(2500)
    p.file_done()
    p.end()
    err = capsys.readouterr().err
    assert "5.0/5.0 kB" in err and "2/2 files" in err and "#" * 30 in err
    q = F.Progress(5000, 2, False)                          # not a terminal: silent
    q.add(10)
    q.end()
    assert capsys.readouterr().err == ""
    s = {"files_sent": 1, "bytes_sent": 812, "files_skipped": 23, "files_removed": 0,
         "seconds": 1.25, "board": "sim", "port": "/dev/pts/3", "version": "abc",
         "micropython": "MicroPython 1.29.0, .mpy v6.3 x64", "dry_run": False}
    text = F.human(s)
    assert "sent 1 files (812 bytes), skipped 23, removed 0, in 1.25 s" in text


def test_config_settings_parse():
    assert parse_settings(["rate_ul_h=30", "board_id=bed 4", "schedule=", "pause_s=60.5"]) == {
        "rate_ul_h": 30, "board_id": "bed 4", "schedule": None, "pause_s": 60.5}
    with pytest.raises(B.FlashError):
        parse_settings(["rate_ul_h"])
    # a value out of range or an unknown name: refused before connecting
    r = pumpmon("config", "set", "--port", "/dev/null-x", "no_flow_fraction=5")
    assert r.returncode == 2 and "no_flow_fraction: 5 is outside" in r.stderr, r.stderr
    r = pumpmon("config", "set", "--port", "/dev/null-x", "flow=5")
    assert r.returncode == 2 and "unknown setting 'flow'" in r.stderr
