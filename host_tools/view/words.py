"""What the bedside view says, as data: each alarm condition of
firmware/pumpmon/alarms.py (its TABLE's kind/cause names) and each detail code
(alarms.DETAIL_NAMES) in words a carer understands, and the light and sound
described from the firmware's own pattern table (patterns.LIGHT), never from a
sample of a blinking LED. tests/host/test_bedside.py checks that every name
the firmware has is here and nothing else.
"""
from pumpmon import alarms as A
from pumpmon import patterns as P

# (alarm, cause) -> what is wrong, in a carer's words
CONDITION_WORDS = {
    ("no_flow", "low_flow"): "the drug has stopped flowing (or flows far below the "
                             "programmed rate)",
    ("no_flow", "reservoir_empty"): "the pump's reservoir is empty: no drug is delivered",
    ("no_flow", "under_delivery"): "for over 2 hours the pump has delivered well under "
                                   "its programmed rate",
    ("over_delivery", "over_delivery"): "possible OVERDOSE: more drug is flowing than "
                                        "programmed - or a sensor fault; call now",
    ("malfunction", "flow_sensor"): "the flow sensor gives no usable readings",
    ("malfunction", "level_sensor"): "the reservoir level sensor gives no usable readings",
    ("malfunction", "level_flow_mismatch"): "the reservoir level does not match the measured "
                                            "flow (a leak or a sensor fault)",
    ("malfunction", "internal"): "the monitor itself has a fault",
    ("malfunction", "refill_mode"): "refill mode was left on: the reservoir is not checked",
    ("low_reservoir", "volume"): "the reservoir is low: arrange a refill",
    ("low_reservoir", "days_to_empty"): "the reservoir runs out within days: arrange a refill",
    ("low_reservoir", "refill_today"): "refill TODAY: a day or less of drug is left",
    ("under_delivery", "partial"): "the pump delivers well under its programmed rate",
    ("monitoring_interrupted", "reset"): "the monitor was off for a while (restart or "
                                         "power cut)",
    ("monitoring_interrupted", "carer_link"): "carers in other rooms no longer hear the "
                                              "alarms: the monitor lost its network link",
    ("pump_stopped", "clinician"): "the pump was stopped on purpose by a clinician: no "
                                   "delivery is expected (the sensors are still watched)",
}

# (alarm, cause) -> its short name in a carer's words, where a line names an
# alarm rather than describing it ("acknowledged", "only pauses ...")
SHORT_WORDS = {
    ("no_flow", "low_flow"): "drug stopped",
    ("no_flow", "reservoir_empty"): "reservoir empty",
    ("no_flow", "under_delivery"): "far too little drug",
    ("over_delivery", "over_delivery"): "possible overdose",
    ("malfunction", "flow_sensor"): "flow sensor fault",
    ("malfunction", "level_sensor"): "level sensor fault",
    ("malfunction", "level_flow_mismatch"): "level and flow disagree",
    ("malfunction", "internal"): "monitor fault",
    ("malfunction", "refill_mode"): "refill mode left on",
    ("low_reservoir", "volume"): "low reservoir",
    ("low_reservoir", "days_to_empty"): "reservoir runs out soon",
    ("low_reservoir", "refill_today"): "refill today",
    ("under_delivery", "partial"): "too little drug",
    ("monitoring_interrupted", "reset"): "monitor was off",
    ("monitoring_interrupted", "carer_link"): "carers' link lost",
    ("pump_stopped", "clinician"): "pump stopped on purpose",
}

# alarms.DETAIL_NAMES -> why, in words ("" adds nothing)
DETAIL_WORDS = {
    "": "",
    "silent": "no readings",
    "out_of_range": "readings out of range",
    "air_in_line": "air in the line",
    "stuck": "the reading does not change",
    "jump": "an impossible jump",
    "falling": "the level falls faster than the flow explains",
    "rising": "the level rises without a refill",
    "exception": "a software error",
    "unexpected_reset": "it restarted unexpectedly",
    "bad_config": "its configuration is refused: flash a correct one",
    "log_failure": "it cannot write its memory",
    "watchdog": "it hung and restarted",
    "sparse": "too few readings to judge",
    "sequential": "",             # how the engine found it: nothing for a carer
    "mean_60min": "over the last hour",
    "boot_failure": "it could not start",
    "firmware_damaged": "its software is damaged: flash it again",
    "output_failure": "the buzzer or the light failed",
    "state_missing": "its alarm memory was lost",
}

# what the steady yellow light (no alarm) means, by the view's state
YELLOW_STATES = {
    "starting": "starting: judging the flow (no alarm yet)",
    "service": "SERVICE: the monitor is stopped for a tool (flash, config); it is NOT "
               "monitoring",
}

PRIORITY_WORDS = {"high": "high priority", "medium": "medium priority",
                  "low": "low priority"}
# what a carer in another room should do, by priority (pumpmon carer)
CARER_ACTION = {"high": "go to the bedside now",
                "medium": "go to the bedside soon",
                "low": "check the bedside when you can"}
# the colour a terminal shows for a light / a priority
STYLE = {"red": "bold red", "yellow": "bold yellow", "green": "bold green", "off": "dim"}
PRIORITY_STYLE = {"high": "bold red", "medium": "bold yellow", "low": "yellow"}


def condition_index(alarm, cause):
    """The firmware's condition number for an (alarm, cause) name pair, or -1."""
    for i, (kind, _prio, c) in enumerate(A.TABLE):
        if c == cause and A.KIND_NAMES[kind] == alarm:
            return i
    return -1


def priority(alarm, cause):
    i = condition_index(alarm, cause)
    return A.PRIORITY_NAMES[A.TABLE[i][1]] if i >= 0 else "high"


# a detail that means something else for one alarm (issue 22's dumps: the
# flow sensor beyond its full scale is the overdose's evidence, not a fault)
DETAIL_WORDS_FOR = {
    ("over_delivery", "out_of_range"): "the flow is beyond the sensor's full scale and the "
                                       "reservoir empties fast: a dump",
    ("over_delivery", "falling"): "the reservoir empties fast while the flow sensor cannot "
                                  "measure it",
}


def describe(alarm, cause, detail=""):
    """One line: what is wrong, and why when the detail says more."""
    text = CONDITION_WORDS.get((alarm, cause), "%s/%s" % (alarm, cause))
    why = DETAIL_WORDS_FOR.get((alarm, detail)) or DETAIL_WORDS.get(detail or "", detail or "")
    if why and why not in text:
        text += " (%s)" % why
    return text


def short(alarm, cause):
    """An alarm's short name in words, quoted: '"drug stopped"' (an alarm the
    table does not know yet: its names without underscores)."""
    return '"%s"' % SHORT_WORDS.get((alarm, cause), "%s %s" % (
        (alarm or "?").replace("_", " "), (cause or "?").replace("_", " ")))


def light_words(kind):
    """The light of an alarm kind (alarms.KIND_*), from patterns.LIGHT:
    (colour name, words)."""
    if kind == A.KIND_NONE:
        colour, on, off = P.IDLE_LIGHT
    elif kind == A.KIND_STARTING:
        colour, on, off = P.STARTING_LIGHT
    else:
        light = P.LIGHT[kind]
        if len(light) > 3:           # flashes in groups (over_delivery: a double flash)
            name = P.COLOUR_NAMES[light[0]]
            cycle = sum(light[1::3]) + sum(light[2::3])
            return name, "%s, %s flashes (%.1f a second)" % (
                name, {2: "double"}.get(len(light) // 3, "grouped"), 1000.0 / cycle)
        colour, on, off = light
    name = P.COLOUR_NAMES[colour]
    if not off:
        return name, "%s, steady" % name
    if on * 10 >= (on + off) * 9:    # pump_stopped: all but a short dark gap
        return name, "%s, with a short dark gap every %.0f s" % (name, (on + off) / 1000.0)
    hz = 1000.0 / (on + off)
    duty = on * 100 // (on + off)
    how = "short flashes" if duty < 35 else "flashing"
    speed = "fast" if hz >= 1.4 else ("slow" if hz < 0.6 else "")
    return name, "%s, %s%s (%.1f a second)" % (name, how, " " + speed if speed else "", hz)


def kind_of(alarm, cause):
    i = condition_index(alarm, cause)
    return A.TABLE[i][0] if i >= 0 else A.KIND_MALFUNCTION



def sound_words(condition):
    """The sound of an alarm condition (an index of alarms.TABLE), from
    patterns.SOUND: its melody, priority and how often its burst repeats
    (words, never one instant of it)."""
    kind, prio, _cause = A.TABLE[condition]
    cycle = sum(P.SOUND[kind][1::3]) + sum(P.SOUND[kind][2::3])
    return "the %s melody (%s), a burst every %.0f s" % (
        A.KIND_NAMES[kind].replace("_", " "), PRIORITY_WORDS[A.PRIORITY_NAMES[prio]],
        cycle / 1000.0)
