# Event names and their JSON Lines form. The text is built by hand, keys in a
# fixed order and numbers as integers, so CPython and MicroPython produce
# byte-identical output (testers diff it).
from pumpmon import alarms as A

# index = event code (manager.EV_*)
NAMES = (
    "",
    "alarm_raised",
    "alarm_condition_cleared",
    "alarm_cleared",
    "alarm_acknowledged",
    "audio_paused",
    "audio_resumed",
)


def to_json(t_ms, code, cond, detail=0):
    s = '{"t_ms":%d,"event":"%s"' % (t_ms, NAMES[code])
    if cond >= 0:
        kind, prio, cause = A.TABLE[cond]
        s += ',"alarm":"%s","priority":"%s","cause":"%s"' % (
            A.KIND_NAMES[kind], A.PRIORITY_NAMES[prio], cause)
        if detail:
            s += ',"detail":"%s"' % A.DETAIL_NAMES[detail]
    return s + "}"
