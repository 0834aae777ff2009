"""The Board interface of boards/README.md, checked on every class that
implements it (issue 26): the boards (rpi_pico, esp32, the virtual board's
sim), their shared base, and the boards the firmware's tests and benchmarks
drive the loop with. Each documented member is there (an optional one may be
missing) and takes the documented arguments; flow_flags is an attribute.

The members and their arguments are read from the README's table, so a member
added there is checked everywhere. The board modules are imported on CPython
with the fake machine of tests/boards/test_drivers.py."""
import ast
import inspect
import re
import sys
import types

import pytest
from test_drivers import _fake_machine, _load

from tests.support import ROOT

ROW = re.compile(r"^\| `(\w+)(?:\(([^)]*)\))?` \| (optional: )?")


def documented():
    """{name: (number of arguments or None for an attribute, optional)} from
    the table of boards/README.md."""
    out = {}
    for line in (ROOT / "boards" / "README.md").read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            args = None if m.group(2) is None else len([a for a in m.group(2).split(",")
                                                       if a.strip()])
            out[m.group(1)] = (args, bool(m.group(3)))
    return out


def _board_module(mocker, board):
    _fake_machine(mocker, 1)
    if board == "sim":                          # the ROM's link, on the virtual board only
        mocker.patch.dict(sys.modules, {"simhw": types.ModuleType("simhw")})
    return _load(board, "board").Board


def _base(mocker):
    _fake_machine(mocker, 1)        # imported under it, gone after (test_drivers' boards)
    import board_base
    return board_base.BoardBase


def _memboard(mocker):
    from fakeboard import FakeBoard         # the firmware tests' board: MemBoard
    return FakeBoard


def _ctrl_c_board(mocker):
    import test_service
    return test_service._CtrlCBoard


def _desk_board(mocker):
    from host_tools.bench.log import _DeskBoard
    return _DeskBoard


def _carer_bench_board(mocker):
    # a script run on the unix port (it runs at import): its class alone
    path = ROOT / "host_tools" / "bench" / "carer_mp.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    cls = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Board"]
    ns = {"time": types.SimpleNamespace(ticks_ms=lambda: 0, sleep_ms=lambda ms: None)}
    exec(compile(ast.Module(body=cls, type_ignores=[]), str(path), "exec"), ns)
    return ns["Board"]


IMPLEMENTATIONS = {
    "rpi_pico": lambda mocker: _board_module(mocker, "rpi_pico"),
    "esp32": lambda mocker: _board_module(mocker, "esp32"),
    "sim": lambda mocker: _board_module(mocker, "sim"),
    "board_base": _base,
    "memboard": _memboard,
    "test_service._CtrlCBoard": _ctrl_c_board,
    "bench.log._DeskBoard": _desk_board,
    "bench.carer_mp.Board": _carer_bench_board,
}


def _has_attribute(cls, name):
    """A class attribute, or one each instance gets (self.name = in a method)."""
    if hasattr(cls, name):
        return True
    for klass in cls.__mro__:
        try:
            src = inspect.getsource(klass)
        except (OSError, TypeError):
            src = ""
        if re.search(r"\bself\.%s\s*=" % name, src):
            return True
    return False


def interface_problems(cls, members):
    bad = []
    for name, (args, optional) in sorted(members.items()):
        if args is None:
            if not _has_attribute(cls, name):
                bad.append("%s: no attribute" % name)
            continue
        fn = getattr(cls, name, None)
        if fn is None:
            if not optional:
                bad.append("%s: missing" % name)
            continue
        if not callable(fn):
            bad.append("%s: not a method" % name)
            continue
        try:
            inspect.signature(fn).bind(object(), *range(args))   # self + the documented ones
        except TypeError as e:
            bad.append("%s: does not take %d argument(s): %s" % (name, args, e))
    return bad


def test_the_table_is_read():
    m = documented()
    assert m["read_flow"] == (0, False) and m["set_tone"] == (1, False)
    assert m["flow_flags"] == (None, False) and m["net_up"] == (2, True)
    assert m["set_siren"] == (1, True) and len(m) >= 15


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_every_board_implements_the_interface(name, mocker):
    cls = IMPLEMENTATIONS[name](mocker)
    assert interface_problems(cls, documented()) == []


def test_a_board_that_breaks_the_interface_is_found():
    class Broken:
        flow_flags = 0

        def ticks_ms(self):
            return 0

        def set_tone(self):                 # the tone is missing
            pass

        def set_siren(self, on, extra):     # one argument too many (optional member)
            pass

    bad = interface_problems(Broken, documented())
    assert "read_flow: missing" in bad and "net_up: missing" not in bad
    assert any(b.startswith("set_tone: does not take 1") for b in bad)
    assert any(b.startswith("set_siren: does not take 1") for b in bad)
    assert interface_problems(type("NoFlags", (), {}), {"flow_flags": (None, False)}) == [
        "flow_flags: no attribute"]
