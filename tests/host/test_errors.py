# One error model (issue 26): every error that ends a command is a
# CommandError carrying a status of the exit-code table (host_tools/exitcodes.py,
# docs/exit-codes.md); a device error is not called a flash error, a flash
# error is raised only by flashing, and the table's names are the only names.
# The exit statuses a user sees are tested per command (test_cli.py,
# test_flash.py, ...); this is the model's shape, read from the source (ast).
import ast
from pathlib import Path

import pytest

from host_tools import exitcodes
from host_tools.device.errors import DeviceError
from host_tools.exitcodes import CommandError
from host_tools.flashing.errors import FlashError
from host_tools.formats.recording import RecError

HOST_TOOLS = Path(exitcodes.__file__).resolve().parent
# each kind of error, and the one package that raises it
RAISED_IN = {"FlashError": "flashing", "DeviceError": "device"}


def _sources():
    return sorted(p for p in HOST_TOOLS.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(p):
    return p.relative_to(HOST_TOOLS).as_posix()


def test_every_kind_is_a_command_error_with_a_status_of_the_table():
    for kind in (DeviceError, FlashError, RecError):
        assert issubclass(kind, CommandError)
    assert not issubclass(DeviceError, FlashError) and not issubclass(FlashError, DeviceError)
    e = DeviceError(exitcodes.LOST, "connection to the board lost")
    assert (e.status, str(e)) == (exitcodes.LOST, "connection to the board lost")
    assert RecError("bad").status == exitcodes.BAD_INPUT
    for status in (exitcodes.OK, 10, 42, "3", None):
        with pytest.raises(ValueError):
            CommandError(status, "a status the table does not have")


def constructed(tree, names):
    """(line, name) of every call of one of `names` (raise X(...), return X(...))."""
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names:
            out.append((n.lineno, n.func.id))
    return out


def test_each_kind_is_raised_only_by_its_package():
    bad = []
    for p in _sources():
        package = _rel(p).split("/")[0]
        for line, name in constructed(ast.parse(p.read_text(encoding="utf-8")), RAISED_IN):
            if package != RAISED_IN[name]:
                bad.append("%s:%d makes a %s (only host_tools/%s/ does; a command's own "
                           "refusal is a CommandError)" % (_rel(p), line, name, RAISED_IN[name]))
    assert not bad, "; ".join(bad)


def test_the_tables_names_are_the_only_names():
    # no second set of names for the statuses (the EXIT_* aliases flashing/build.py
    # once re-exported) and none for the error (FlashError = CommandError)
    names = {name for _, name, _ in exitcodes.TABLE} | {"CommandError"}
    bad = []
    for p in _sources():
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and n.module == "host_tools.exitcodes":
                bad += ["%s:%d imports %s as %s" % (_rel(p), n.lineno, a.name, a.asname)
                        for a in n.names if a.asname and a.name in names]
            elif isinstance(n, ast.Name) and n.id.startswith("EXIT_"):
                bad.append("%s:%d names %s" % (_rel(p), n.lineno, n.id))
        for n in tree.body:         # a module-level alias (a local `status = PROBLEM` is none)
            if isinstance(n, ast.Assign) and isinstance(n.value, (ast.Attribute, ast.Name)):
                value = n.value.attr if isinstance(n.value, ast.Attribute) else n.value.id
                bad += ["%s:%d renames %s" % (_rel(p), n.lineno, value)
                        for t in n.targets if isinstance(t, ast.Name) and value in names
                        and t.id != value]
    assert not bad, "; ".join(sorted(set(bad)))


def test_the_guards_above_see_what_they_guard():
    tree = ast.parse("def f():\n    raise FlashError(1, 'x')\nY = DeviceError(3, 'y')\n")
    assert sorted(constructed(tree, RAISED_IN)) == [(2, "FlashError"), (3, "DeviceError")]
