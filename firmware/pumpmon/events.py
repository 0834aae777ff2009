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
    "escalated",
)


def to_json(t_ms, code, cond, detail=0, minutes=-1):
    """One event line. minutes: time to empty (reservoir.py; -1 not known),
    given as whole hours with every low_reservoir event, as the last key."""
    s = '{"t_ms":%d,"event":"%s"' % (t_ms, NAMES[code])
    if cond >= 0:
        kind, prio, cause = A.TABLE[cond]
        name = A.KIND_NAMES[kind]
        s += ',"alarm":"%s","priority":"%s","cause":"%s"' % (
            name, A.PRIORITY_NAMES[prio], cause)
        if detail:
            s += ',"detail":"%s"' % A.DETAIL_NAMES[detail]
        if minutes >= 0 and name == "low_reservoir":
            s += ',"hours_to_empty":%d' % (minutes // 60)
    return s + "}"
