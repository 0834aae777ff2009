# What the bedside display says (docs/display.md), as data: the one table of
# the display's short words. The firmware draws them (screen.py); the host's
# bedside view (host_tools/view/words.py) and the quick-reference card import
# this same module, so the words on the device and on the host are the same.
# Keyed like the carers' words (host_tools/view/words.py): (alarm, cause) as
# alarms.KIND_NAMES and alarms.TABLE name them; tests/host/test_bedside.py
# checks that every condition of the table has an entry.
# Limits: a title of up to 8 characters is drawn twice as wide and tall, up
# to 16 twice as tall; every other line up to 16 characters (8x8 font).

#  (alarm, cause): (title, what is wrong, what to do (two lines))
WORDS = {
    ("no_flow", "low_flow"): ("NO FLOW", "drug not flowing", "CALL THE CLINIC", "NOW"),
    ("no_flow", "reservoir_empty"): ("EMPTY", "reservoir empty", "CALL THE CLINIC", "NOW"),
    ("no_flow", "under_delivery"): ("NO FLOW", "far too little", "CALL THE CLINIC", "NOW"),
    ("over_delivery", "over_delivery"): ("OVERDOSE", "too much drug?", "CALL THE CLINIC",
                                         "NOW"),
    ("malfunction", "flow_sensor"): ("FAULT", "flow sensor", "Check its cable",
                                     "then call clinic"),
    ("malfunction", "level_sensor"): ("FAULT", "level sensor", "Check its cable",
                                      "then call clinic"),
    ("malfunction", "level_flow_mismatch"): ("FAULT", "level vs flow", "Look for a leak",
                                             "call the clinic"),
    ("malfunction", "internal"): ("FAULT", "monitor fault", "Call the clinic", ""),
    ("malfunction", "refill_mode"): ("FAULT", "refill mode on", "Turn the key off", ""),
    ("low_reservoir", "volume"): ("LOW", "reservoir low", "Arrange a refill", ""),
    ("low_reservoir", "days_to_empty"): ("LOW", "runs out soon", "Arrange a refill", ""),
    ("low_reservoir", "refill_today"): ("REFILL!", "refill TODAY", "Call the clinic",
                                        "for a refill"),
    ("under_delivery", "partial"): ("LOW FLOW", "too little drug", "Call the clinic",
                                    "today"),
    ("monitoring_interrupted", "reset"): ("RESTART", "monitor was off", "Hold the button",
                                          "to acknowledge"),
    ("monitoring_interrupted", "carer_link"): ("NO LINK", "carers not told",
                                               "Check the Wi-Fi", ""),
    ("pump_stopped", "clinician"): ("STOPPED", "pump stopped", "on purpose by", "a clinician"),
}

# by alarms.PRIORITY_NAMES index; the second when the alarm is acknowledged
PRIORITY = ("HIGH PRIORITY", "MEDIUM PRIORITY", "LOW PRIORITY")
PRIORITY_ACKED = ("HIGH * ACKED", "MEDIUM * ACKED", "LOW * ACKED")

MONITORING = "Monitoring"
RATE = "Rate"
RATE_UNIT = "uL/h"
LEFT = "Left"
ML = "mL"
DAYS = "days left"
UNKNOWN = "?"
PAUSED = "||"                  # the audio-paused symbol, then the seconds left
SECONDS = "s"
ESCALATED = "ESCALATED"
DEMO = "DEMO"                  # the alarm demonstration (demo.py), not a real alarm
NOT_MONITORING = "NOT MONITORING"
# why it is not monitoring (screen.py's modes)
STARTING = ("starting up:", "judging the flow")
SERVICE = ("service mode:", "a tool has it")
STOPPED = ("stopped at the", "console")
