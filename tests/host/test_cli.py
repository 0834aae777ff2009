# One CLI convention (issue 15): --version, the one exit-code table (pinned
# to docs/exit-codes.md, and used by every command), --port resolution with
# mpremote's shorthands, `pumpmon devs` with and without a virtual board.
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from serial.tools.list_ports_common import ListPortInfo

from host_tools import cli, exitcodes
from host_tools.device import ports

from tests.support import ROOT, pumpmon
BIN = Path(sys.executable).parent


run_pumpmon = pumpmon


# ---- --version ----------------------------------------------------------------------------
def test_version_names_the_package_and_the_firmware():
    from importlib import metadata

    from pumpmon import VERSION
    r = run_pumpmon("--version")
    assert r.returncode == exitcodes.OK, r.stderr
    line = r.stdout.strip()
    assert line.startswith("pumpmon %s " % metadata.version("pumpmon")), line
    assert "firmware %s" % VERSION in line
    assert "mpremote %s" % metadata.version("mpremote") in line


# ---- start-up: only the named command is imported ----------------------------------------
def test_a_command_imports_only_its_own_module():
    """`pumpmon replay` declares and imports replay alone (every other command's
    module, with the board and network code behind it, stays unimported); the
    top-level help still lists every command."""
    code = ("import sys\n"
            "from host_tools.cli import main\n"
            "rc = main(['replay', 'fast_stop', '--out', %r])\n"
            "print(rc, sorted(m for m in sys.modules if m.startswith('host_tools.commands.')))\n"
            % str(Path("/dev/null")))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split(None, 1) == ["0", "['host_tools.commands.replay']\n"], r.stdout
    top = run_pumpmon("--help")
    for name, _mod, help_text in cli.COMMANDS:
        assert name in top.stdout and help_text[:30] in " ".join(top.stdout.split()), name


# ---- the exit-code table ------------------------------------------------------------------
def _doc_table():
    rows = []
    for line in (ROOT / "docs" / "exit-codes.md").read_text().splitlines():
        m = re.match(r"\| (\d+) \| (\w+) \| (.+) \|$", line)
        if m:
            rows.append((int(m.group(1)), m.group(2), m.group(3)))
    return rows


@pytest.mark.req("R-054")
def test_the_docs_table_is_the_codes_table():
    assert _doc_table() == [tuple(r) for r in exitcodes.TABLE]
    for status, name, _ in exitcodes.TABLE:
        assert getattr(exitcodes, name) == status
    assert len({s for s, _, _ in exitcodes.TABLE}) == len(exitcodes.TABLE)


def _bare_returns(path):
    """Line numbers of `return <int literal>` other than 0... none allowed."""
    tree = ast.parse(path.read_text())
    return [n.lineno for n in ast.walk(tree)
            if isinstance(n, ast.Return) and isinstance(n.value, ast.Constant)
            and isinstance(n.value.value, int) and not isinstance(n.value.value, bool)]


@pytest.mark.parametrize("module", sorted(p.name for p in (ROOT / "host_tools" / "commands")
                                          .glob("*.py")) + ["../cli.py"])
@pytest.mark.req("R-054")
def test_no_command_returns_a_bare_number(module):
    path = ROOT / "host_tools" / "commands" / module
    assert _bare_returns(path) == [], "use the names of host_tools/exitcodes.py"


def test_a_missing_device_is_the_same_status_in_every_command(tmp_path):
    gone = str(tmp_path / "ttyACM9")
    cmds = [("flash", "--port", gone), ("status", "--port", gone), ("demo", "--port", gone),
            ("config", "show", "--port", gone),
            ("log", "pull", "--port", gone, "--dest", tmp_path / "log"),
            ("trace", "record", "--port", gone, "--out", tmp_path / "t.csv")]
    for cmd in cmds:
        r = run_pumpmon(*cmd)
        assert r.returncode == exitcodes.NO_BOARD, (cmd, r.stderr)
        assert "no board found" in r.stderr, (cmd, r.stderr)
        assert "Traceback" not in r.stderr


# ---- --port ---------------------------------------------------------------------------------
def test_shorthands_are_mpremotes_own_table():
    from mpremote.main import _BUILTIN_COMMAND_EXPANSIONS as X
    theirs = {k: v["command"].split()[1] for k, v in X.items()
              if re.fullmatch(r"[auc]\d", k)}
    assert theirs == ports.SHORTHANDS
    assert ports.expand("a0") == "/dev/ttyACM0"
    assert ports.expand("u3") == "/dev/ttyUSB3"
    assert ports.expand("c1") == "COM1"
    assert ports.expand("auto") is None and ports.expand(None) is None
    assert ports.expand("port:/dev/ttyX") == "/dev/ttyX"
    assert ports.expand("socket://127.0.0.1:5") == "socket://127.0.0.1:5"
    with pytest.raises(exitcodes.CommandError) as e:
        ports.expand("a7")          # not in mpremote's table: said so, not opened
    assert e.value.status == exitcodes.BAD_INPUT and "a0..a3" in str(e.value)


def _port(device, vid=None, pid=None, serial=None, product=None):
    p = ListPortInfo(device, skip_link_detection=True)
    p.vid, p.pid, p.serial_number, p.product = vid, pid, serial, product
    return p


def test_listing_gives_vid_pid_and_marks_usb_boards():
    found = ports.serial_ports([_port("/dev/ttyS0"),
                                _port("/dev/ttyACM0", 0x2E8A, 0x0005, "E661", "Board in FS mode")])
    assert [(b["port"], b["kind"]) for b in found] == [("/dev/ttyACM0", "usb"),
                                                        ("/dev/ttyS0", "serial")]
    acm = found[0]
    assert (acm["vid"], acm["pid"], acm["serial"], acm["shorthand"]) == \
        ("2e8a", "0005", "E661", "a0")
    assert ports.describe(acm) == "/dev/ttyACM0 (2e8a:0005 Board in FS mode)"


def test_auto_with_no_board_lists_how_to_start_a_virtual_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PUMPMON_RUNTIME_DIR", str(tmp_path / "rt"))
    monkeypatch.setattr(ports, "usb_boards", lambda comports=None: [])
    with pytest.raises(exitcodes.CommandError) as e:
        ports.resolve_port("auto")
    assert e.value.status == exitcodes.NO_BOARD
    assert "no board found" in str(e.value) and "make vboard" in str(e.value)


def test_auto_with_two_boards_refuses_and_lists_both(tmp_path, monkeypatch):
    monkeypatch.setenv("PUMPMON_RUNTIME_DIR", str(tmp_path / "rt"))
    two = ports.serial_ports([_port("/dev/ttyACM0", 0x2E8A, 5), _port("/dev/ttyUSB0", 0x10C4,
                                                                      0xEA60)])
    monkeypatch.setattr(ports, "usb_boards", lambda comports=None: two)
    with pytest.raises(exitcodes.CommandError) as e:
        ports.resolve_port(None)
    msg = str(e.value)
    assert e.value.status == exitcodes.NO_BOARD and msg.startswith("2 boards found")
    assert "--port /dev/ttyACM0 (2e8a:0005" in msg and "--port /dev/ttyUSB0 (10c4:ea60" in msg
    monkeypatch.setattr(ports, "usb_boards", lambda comports=None: two[:1])
    assert ports.resolve_port(None) == "/dev/ttyACM0"


def test_a_shorthand_reaches_the_command(tmp_path):
    # a3 is /dev/ttyACM3: absent here, so the command says so by its device name
    if Path("/dev/ttyACM3").exists():
        pytest.skip("a real /dev/ttyACM3 is attached")
    r = run_pumpmon("status", "--port", "a3")
    assert r.returncode == exitcodes.NO_BOARD, r.stderr
    assert "/dev/ttyACM3" in r.stderr


# ---- devs -------------------------------------------------------------------------------------
def test_devs_with_no_board(tmp_path):
    env = dict(__import__("os").environ, PUMPMON_RUNTIME_DIR=str(tmp_path / "rt"))
    r = run_pumpmon("devs", "--json", env=env)
    assert r.returncode == exitcodes.OK
    boards = json.loads(r.stdout)["boards"]
    assert not [b for b in boards if b["kind"] == "virtual"]
    r = run_pumpmon("devs", env=env)
    assert r.returncode == exitcodes.OK
    if not [b for b in boards if b["kind"] == "usb"]:
        assert "no virtual board running" in r.stderr and "make vboard" in r.stderr


def test_devs_lists_a_served_virtual_board_and_forgets_it_when_it_stops(tmp_path, monkeypatch):
    from host_tools.vboard.served import ServedBoard
    rt = tmp_path / "rt"
    monkeypatch.setenv("PUMPMON_RUNTIME_DIR", str(rt))
    served = ServedBoard(tmp_path / "tty", tmp_path / "flash", ["--quiet", "--json"])
    try:
        assert served.ready, served.line
        first = json.loads(served.line)             # board serve --json: the endpoints
        assert first["port"] == str(tmp_path / "tty") and first["pid"] == served.proc.pid
        r = run_pumpmon("devs", "--json")
        boards = [b for b in json.loads(r.stdout)["boards"] if b["kind"] == "virtual"]
        assert len(boards) == 1, r.stdout
        b = boards[0]
        assert b["port"] == str(tmp_path / "tty") and b["pid"] == served.proc.pid
        assert b["socket"].startswith("socket://127.0.0.1:")
        assert b["flash"] == str((tmp_path / "flash").resolve())
        text = run_pumpmon("devs").stdout
        assert str(tmp_path / "tty") in text and "virtual" in text
        # auto-detection with no USB board names it as the port to give
        msg = ports._found([])
        assert "--port %s (virtual board" % (tmp_path / "tty") in msg
    finally:
        served.stop()
    assert json.loads(run_pumpmon("devs", "--json").stdout)["boards"] == [
        b for b in json.loads(run_pumpmon("devs", "--json").stdout)["boards"]
        if b["kind"] != "virtual"]
    assert list(rt.iterdir()) == []


def test_a_killed_boards_advert_is_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("PUMPMON_RUNTIME_DIR", str(tmp_path))
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    (tmp_path / ("%d.json" % p.pid)).write_text(json.dumps(
        {"pid": p.pid, "port": str(tmp_path)}))
    assert ports.virtual_boards() == []
    assert list(tmp_path.iterdir()) == []


def test_every_board_command_takes_the_same_port_option():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    paths = [("flash",), ("status",), ("demo",), ("config", "show"), ("config", "set"), ("log", "pull"),
             ("trace", "record"), ("trace", "stream"), ("run",)]
    for path in paths:
        p = sub[path[0]]
        for name in path[1:]:
            p = next(a for a in p._actions if a.dest and a.choices and name in a.choices) \
                .choices[name]
        port = next(a for a in p._actions if "--port" in a.option_strings)
        assert port.help.startswith(ports.PORT_HELP[:40]), path
        assert not port.required, path
