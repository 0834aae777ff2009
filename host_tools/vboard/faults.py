"""The virtual board's faults: what `--fault T:SPEC`, the control socket and
the keys may inject, parsed once (docs/virtual-board.md). The values are the
wire protocol's (boards/sim/rom/wire.py), which the ROM applies."""
from host_tools import paths

W = paths.rom_module("wire")

BUTTON_MS = {"press": 300, "long": 3000, "hold": 10 ** 9, "release": 0}
FAULT_HELP = ("flow=ok|silent|stuck|range|air, level=ok|silent|stuck|range, "
              "flash=ok|fail|full, buzzer=ok|fail, hang, button=press|long|hold|release, reset, "
              "power-cut[=OFF_S], cut-after=BYTES")
# the faults the VM applies itself (sent on the data link, due at a world
# time); reset and power-cut are the host's
IN_VM = ("flow", "level", "flash", "buzzer", "button", "hang", "cut-after")


class UsageError(Exception):
    pass


def parse_fault(spec):
    """A fault spec -> (name, value); UsageError when it is not one."""
    spec = spec.strip()
    name, _, val = spec.partition("=")
    if name == "flow" and val in W.FLOW_MODES:
        return name, W.FLOW_MODES[val]
    if name == "level" and val in W.LEVEL_MODES:
        return name, W.LEVEL_MODES[val]
    if name == "flash" and val in W.FLASH_MODES:
        return name, W.FLASH_MODES[val]
    if name == "buzzer" and val in W.BUZZER_MODES:
        return name, W.BUZZER_MODES[val]
    if name == "button" and val in BUTTON_MS:
        return name, BUTTON_MS[val]
    if name in ("hang", "reset") and not val:
        return name, 0
    if name == "power-cut":
        try:
            return name, float(val) if val else 1.0
        except ValueError:
            pass
    if name == "cut-after":
        try:
            return name, int(val)
        except ValueError:
            pass
    raise UsageError("bad fault %r (one of: %s)" % (spec, FAULT_HELP))


def parse_scheduled(text):
    """'T:SPEC' (T = trace seconds from the trace's start) -> (t_ms, spec)."""
    t, sep, spec = text.partition(":")
    try:
        if not sep:
            raise ValueError
        t_ms = int(round(float(t) * 1000))
    except ValueError:
        raise UsageError("bad --fault %r: give SECONDS:FAULT, e.g. 600:flow=silent" % text)
    parse_fault(spec)
    return t_ms, spec
