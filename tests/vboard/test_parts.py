# Issue 26: VirtualBoard is made of parts that own their state (docs/
# virtual-board.md, "Who is given what"): no mixins, no part writes another
# part's attributes, and the loop's selector carries bound methods, not
# method names. (A VM, vm.py, is the one record the parts share: the state
# of one unix-port process.)
import ast
import selectors
from pathlib import Path

from host_tools.vboard.board import VirtualBoard

VBOARD = Path(__file__).resolve().parents[2] / "host_tools" / "vboard"


def _setters(tree):
    """The nodes inside property setters: VirtualBoard's (what a caller sets:
    the port to run, the log lines' sink, the display's PNG folder, passed
    on to the part that owns it)."""
    inside = set()
    for f in ast.walk(tree):
        if isinstance(f, ast.FunctionDef) and any(
                isinstance(d, ast.Attribute) and d.attr == "setter" for d in f.decorator_list):
            inside.update(id(n) for n in ast.walk(f))
    return inside


def test_no_part_writes_another_parts_attributes():
    bad = []
    for path in sorted(VBOARD.glob("*.py")):
        tree = ast.parse(path.read_text())
        setters = _setters(tree)
        for node in ast.walk(tree):
            if id(node) in setters:
                continue
            targets = []
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                # self.<part>.<attr> = ...: a write into another object's state
                if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Attribute)
                        and isinstance(t.value.value, ast.Name) and t.value.value.id == "self"):
                    bad.append("%s:%d self.%s.%s" % (path.name, t.lineno, t.value.attr, t.attr))
    assert not bad, bad


def test_the_board_is_composed_and_dispatches_to_bound_methods(tmp_path):
    assert VirtualBoard.__bases__ == (object,)
    b = VirtualBoard(tmp_path / "flash", pty_path=str(tmp_path / "tty"), tcp_port=0)
    try:
        keys = list(b.sel.get_map().values())
        # the pty, the TCP listener, the ROM's and the control socket's
        # listeners, the wake pipe
        assert len(keys) == 5, keys
        for key in keys:
            assert isinstance(key, selectors.SelectorKey)
            handler, _arg = key.data
            assert callable(handler) and hasattr(handler, "__self__"), key.data
            assert not isinstance(handler, str)
    finally:
        b.close()
