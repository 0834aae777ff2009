"""The engine's copies of constants defined elsewhere, pinned. On the hot path
the engine and its detectors use `const()` literals, which MicroPython folds
into the bytecode (a name imported from another module would be a dictionary
look-up a reading, and `const(1 << A.NO_FLOW)` does not compile there), so
the condition bits of alarms.py and a few shared values are written twice.
These tests read the firmware's source (MicroPython drops `_`-named consts
from a module, so they cannot be imported) and fail when a copy drifts."""
import ast
from pathlib import Path

from pumpmon import alarms as A
from pumpmon import detect_stop, detect_strokes

ROOT = Path(__file__).resolve().parents[2]
PUMPMON = ROOT / "firmware" / "pumpmon"

# engine.py's condition bit -> the alarms.py condition it mirrors
BITS = {"_B_NO_FLOW": "NO_FLOW", "_B_EMPTY": "EMPTY", "_B_OVER": "OVER_DELIVERY",
        "_B_FLOW": "FLOW_SENSOR", "_B_LEVEL": "LEVEL_SENSOR", "_B_MISMATCH": "MISMATCH",
        "_B_PARTIAL": "PARTIAL", "_B_PARTIAL_LONG": "PARTIAL_LONG",
        "_B_REFILL": "REFILL_TIMEOUT"}


def consts(name, text=None):
    """{NAME: value} of a module's top-level `NAME = const(expr)` lines."""
    text = text if text is not None else (PUMPMON / (name + ".py")).read_text(encoding="utf-8")
    out = {}
    for node in ast.parse(text).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", None) == "const"):
            expr = ast.Expression(node.value.args[0])
            out[node.targets[0].id] = eval(compile(expr, name, "eval"), {}, dict(out))
    return out


def test_condition_bits_are_the_alarm_tables():
    eng = consts("engine")
    bits = {k: v for k, v in eng.items() if k.startswith("_B_")}
    assert set(bits) == set(BITS), "a condition bit without its alarms.py name: add it to BITS"
    for k, cond in BITS.items():
        assert bits[k] == 1 << getattr(A, cond), (k, cond)
    # closing.py (the engine's bucket and minute turns) uses some of them
    close = {k: v for k, v in consts("closing").items() if k.startswith("_B_")}
    assert close and set(close) <= set(BITS), set(close) - set(BITS)
    for k in close:
        assert close[k] == bits[k], k


def test_shared_values_are_one():
    eng = consts("engine")
    flow = consts("detect_flow")
    unset = {eng["_UNSET"], flow["_UNSET"], consts("detect_means")["UNSET"],
             consts("detect_level")["UNSET"], consts("detect_dump")["UNSET"]}
    assert len(unset) == 1, unset
    close = consts("closing")
    unset.add(close["_UNSET"])
    assert len(unset) == 1, unset
    for m in (flow, eng):        # (the engine runs a valid reading inline)
        assert m["_Q"] == detect_stop.Q and m["_Q2"] == 2 * detect_stop.Q
        assert m["_STROKE_TAIL"] == detect_strokes.STROKE_TAIL
    assert flow["_MINUTE_S"] == eng["MINUTE_S"] == close["MINUTE_S"]
    assert close["BUCKET_S"] == eng["BUCKET_S"]
    assert eng["_D_SILENT"] == A.D_SILENT


def test_a_drifted_copy_is_found():
    # the check can say no: a bit moved, as an edit could move it
    text = (PUMPMON / "engine.py").read_text(encoding="utf-8")
    bad = text.replace("_B_MISMATCH = const(1 << 5)", "_B_MISMATCH = const(1 << 6)")
    assert bad != text
    assert consts("engine", bad)["_B_MISMATCH"] != 1 << A.MISMATCH


# How many attributes the objects a tick touches may have, for both runtimes:
# - CPython (3.11 on) keeps an object's attributes in a table shared by its
#   class, found through a cached index, only while the class has at most 29
#   names; from the 30th every `self.x` of the tick is a dictionary look-up
#   (the replay's speed, docs/replay.md);
# - MicroPython grows an object's member table only when it is full, through
#   these sizes (py/map.c); an object with exactly that many attributes has
#   a full table, where looking up a name it lacks (every method call: the
#   members are searched before the class) walks the whole table. The engine
#   at 29 attributes cost the 32-bit port about 1,100 instructions a tick
#   (docs/engine.md, "Tick time").
# Config is exempt (read a few times a tick; one attribute per setting), and
# objects of 12 attributes or fewer (a short walk).
TICK_OBJECTS_MAX_ATTRS = 28
MP_FULL_TABLES = (17, 23, 29)


def test_the_objects_a_tick_touches_keep_their_attributes_inline():
    from pumpmon.config import Config
    from pumpmon.monitor import Monitor
    m = Monitor(Config({"rate_ul_h": 30}), 0, lambda *a: None)
    for s in range(3 * 3600):          # every detector's state made (minutes, an hour)
        m.step(s * 1000, 18000 if s % 5 == 0 else None, 300, 0, 0, 0)
    seen = set()
    over = []

    def walk(o, name):
        if id(o) in seen or not hasattr(o, "__dict__") or isinstance(o, Config):
            return
        seen.add(id(o))
        k = len(vars(o))
        if k > TICK_OBJECTS_MAX_ATTRS or k in MP_FULL_TABLES:
            over.append("%s (%s): %d" % (name, type(o).__name__, k))
        for k, v in vars(o).items():
            if type(v).__module__.startswith("pumpmon"):
                walk(v, name + "." + k)
    walk(m, "monitor")
    assert len(seen) > 15 and not over, over
