"""The names of the board's event log (docs/log-format.md) on the host:
EVENTS, record code -> event name, for `pumpmon log decode` (eventlog.py)
and the virtual board's timeline. Only readers need them, so the board does
not carry them: the codes are the firmware's constants (pumpmon.eventlog),
the alarm manager's events (1..7) its JSON Lines names (pumpmon.events), and
tests/host/test_tables.py pins the table to the firmware's codes and to
docs/log-format.md."""
from pumpmon import eventlog as L
from pumpmon import events as E

EVENTS = {code: name for code, name in enumerate(E.NAMES) if code}
EVENTS.update({
    L.BOOT: "boot", L.SNAPSHOT: "status", L.REFILL_START: "refill_start",
    L.REFILL_END: "refill_end", L.CONFIG: "config", L.FAULT: "internal_fault",
    L.LOG_RESUMED: "log_resumed", L.INTERRUPTED: "monitoring_interrupted",
    L.POWER_ON_TEST: "power_on_test", L.CONFIG_CHANGED: "config_changed",
    L.MONITORING_STOPPED: "monitoring_stopped", L.LOG_DAMAGED: "log_damaged",
    L.CARER_LINK: "carer_link", L.RECORDS_HELD: "records_held",
    L.MONITORING_RESUMED: "monitoring_resumed", L.FIRMWARE: "firmware",
    L.CARER_COMING: "carer_coming", L.DISPLAY: "display", L.DEMO: "demo",
})
RESET_CAUSES = L.RESET_CAUSES      # the firmware's (boot records' detail)
