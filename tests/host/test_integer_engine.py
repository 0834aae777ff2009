# The engine judges in integers only: no float constant, no true division, no
# float() in the modules a tick runs through (engine.py, closing.py,
# detect_*.py, reservoir.py). So its arithmetic is the same on every runtime
# with 31-bit small ints: the 32-bit unix port (make test) and a
# microcontroller with single floats (the QEMU Cortex-M). That is why `make
# test` steps the engine through days of histories on CPython and both unix
# ports but leaves the multi-day ones on QEMU to `make test-mcu`
# (tests/test_on_mcu.py, SLOW_ON_MCU): a float here would make QEMU's single
# precision a different judgement, and this test fails first.
import ast

from tests.support import ROOT

PKG = ROOT / "firmware" / "pumpmon"
ENGINE = ["engine.py", "closing.py", "reservoir.py"] + sorted(
    p.name for p in PKG.glob("detect_*.py"))


def floats_in(source):
    """[(line, what)] of every float the code (not its docstrings) can make."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            out.append((node.lineno, "float constant %r" % node.value))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.Div):
            out.append((node.lineno, "true division"))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "float":
            out.append((node.lineno, "float()"))
    return sorted(out)


def test_the_engine_modules_are_found():
    assert len(ENGINE) >= 9 and all((PKG / n).is_file() for n in ENGINE), ENGINE


def test_the_engine_computes_in_integers_only():
    found = {n: floats_in((PKG / n).read_text(encoding="utf-8")) for n in ENGINE}
    found = {n: f for n, f in found.items() if f}
    assert not found, ("floats in the engine (single on a microcontroller, double on the "
                       "unix ports): %s" % found)


def test_the_check_sees_each_kind_of_float():
    assert floats_in("a = b * 0.5\nc = d / e\nf /= 2\ng = float(h)\n"
                     "i = j // k\n'''1.5 / 2'''\n") == [
        (1, "float constant 0.5"), (2, "true division"), (3, "true division"), (4, "float()")]
