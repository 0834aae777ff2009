"""One definition of each table the host shares with the firmware: the host
imports the firmware's (pumpmon.*), and where the firmware keeps two copies
of its own (it must stay small and import little on a board), these pin them
together."""
import hashlib

from host_tools.formats import eventlog as host_log
from host_tools.formats import recording as host_rec
from host_tools.replay import plot
from host_tools.vboard import hwlink
from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon import events as E
from pumpmon import patterns as P


def test_host_readers_use_the_firmwares_names():
    assert host_log.RESET_CAUSES is L.RESET_CAUSES
    assert host_rec.RESET_CAUSES is L.RESET_CAUSES
    assert hwlink.COLOUR_NAMES is P.COLOUR_NAMES
    assert host_log.A is A


def test_every_record_code_has_the_one_name_the_docs_give():
    # the log's event names live on the host (host_log.EVENTS: the board never
    # reads them): every code the firmware's log defines has one, the alarm
    # manager's are events.NAMES (JSON Lines), no name is given twice, and
    # the table is docs/log-format.md's
    import re

    from host_tools import paths
    src = (paths.FIRMWARE / "pumpmon" / "eventlog.py").read_text(encoding="utf-8")
    consts = re.findall(r"^([A-Z][A-Z0-9_]*) = const\((\d+)\)", src, re.M)
    not_codes = {"REC", "MAGIC", "NO_COND", "STATE_OK", "STATE_NONE", "STATE_CORRUPT"}
    codes = {int(v) for name, v in consts if name not in not_codes}
    assert len(codes) >= 20, consts                      # the scan finds them
    assert codes <= set(host_log.EVENTS), codes - set(host_log.EVENTS)
    assert all(host_log.EVENTS[code] == E.NAMES[code] for code in range(1, len(E.NAMES)))
    assert len(set(host_log.EVENTS.values())) == len(host_log.EVENTS)
    doc = (paths.ROOT / "docs" / "log-format.md").read_text(encoding="utf-8")
    table = {int(c): name for c, name in re.findall(r"^\| (\d+) \| `(\w+)`", doc, re.M)}
    assert table == host_log.EVENTS


def test_colours_and_priorities_have_one_name_each():
    assert [P.COLOUR_NAMES[c] for c in (P.OFF, P.GREEN, P.YELLOW, P.RED)] == \
        ["off", "green", "yellow", "red"]
    assert set(plot.PRIORITY_COLOUR) == set(A.PRIORITY_NAMES)


def _vboard_reset_causes():
    """The reset causes the virtual board gives its VM (the string arguments of
    every spawn(...) and hard_reset(...) call in host_tools/vboard/), which
    board.reset_cause() returns to the firmware, and the causes its ROM's
    machine.reset_cause() knows (boards/sim/rom/simmachine.py, _CODES)."""
    import ast

    from host_tools import paths
    sent = set()
    for p in sorted((paths.HOST_TOOLS / "vboard").glob("*.py")):
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(n, ast.Call) and getattr(n.func, "attr", None) in ("spawn",
                                                                            "hard_reset"):
                sent |= {a.value for a in n.args + [k.value for k in n.keywords]
                         if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    sent.discard("normal")
    sent.discard("raw")                         # spawn's mode, not a cause
    tree = ast.parse((paths.ROM / "simmachine.py").read_text(encoding="utf-8"))
    codes = [n.value for n in tree.body if isinstance(n, ast.Assign)
             and getattr(n.targets[0], "id", None) == "_CODES"]
    return sent, {k.value for k in codes[0].keys}


def test_the_virtual_boards_reset_causes_are_the_logs():
    sent, machine_knows = _vboard_reset_causes()
    assert {"power_on", "watchdog", "hard", "soft"} <= sent     # the scan finds them
    assert sent <= set(L.RESET_CAUSES), sent - set(L.RESET_CAUSES)
    assert sent <= machine_knows, sent - machine_knows


def test_the_firmwares_sha256_helpers_agree(tmp_path):
    # firmware/boot.py's sha256_hex (also the flash session's, sent to the
    # board) and failsafe.py's copy (pumpmon.selftest uses it): boot.py stays
    # self-contained, as it must run whatever else a cut flash left broken
    import importlib.util
    import sys

    from host_tools import paths
    import failsafe
    spec = importlib.util.spec_from_file_location("pm_boot", paths.FIRMWARE / "boot.py")
    boot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(boot)
    f = tmp_path / "f.bin"
    f.write_bytes(bytes(range(256)) * 9)
    want = hashlib.sha256(f.read_bytes()).hexdigest()
    assert boot.sha256_hex(str(f)) == want == failsafe._sha256_hex(str(f))
    assert "pm_boot" not in sys.modules
