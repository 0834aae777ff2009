# The alarm conditions the engine can detect, as data. A condition is one
# (alarm, cause) pair; its index is its bit in the engine's condition mask
# (stored in the state file and the log: never renumber, only append). When
# several are active, top_condition() picks the one annunciated: highest
# priority first, then the lowest index.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# condition ids (bit numbers)
NO_FLOW = const(0)        # measured delivery below a fraction of programmed
EMPTY = const(1)          # reservoir empty
OVER_DELIVERY = const(2)  # measured delivery well above programmed
FLOW_SENSOR = const(3)    # flow sensor silent / out of range / stuck / air
LEVEL_SENSOR = const(4)   # level sensor silent / out of range / impossible jump
MISMATCH = const(5)       # level change not explained by measured flow
INTERNAL = const(6)       # firmware fault, unexpected reset, bad config, log failure
LOW_VOLUME = const(7)     # reservoir at or below low_reservoir_ml
LOW_DAYS = const(8)       # projected time to empty below low_reservoir_days
REFILL_TODAY = const(9)   # <= 1 day of programmed delivery or <= 1 mL left
PARTIAL = const(10)       # 60-min delivery under ~60 % of programmed (medium)
PARTIAL_LONG = const(11)  # that under-delivery persisting: escalated to high
REFILL_TIMEOUT = const(12)  # refill mode left on too long (level checks off)
INTERRUPTED = const(13)   # the monitor was off (a reset or power cut): until acknowledged
# the carers' link (MQTT, firmware/carerlink/) is down: carers in another room
# no longer hear the alarms (docs/carer.md). Its index lives only here.
CARER_LINK = const(14)
# a pump stopped by a clinician ("pump_stopped": true, rate 0): its own steady
# indication while the configuration says so. Its index lives only here.
PUMP_STOPPED = const(15)
N_CONDITIONS = const(16)

# alarm kinds: what the patient hears and sees (patterns.py index). The
# escalated low reservoir has a sound and light of its own, but it is still
# the low_reservoir alarm in every event and record (its name below).
KIND_NO_FLOW = const(0)
KIND_MALFUNCTION = const(1)
KIND_LOW_RESERVOIR = const(2)
KIND_REFILL_TODAY = const(3)
KIND_UNDER_DELIVERY = const(4)
KIND_INTERRUPTED = const(5)   # low-priority technical alarm
KIND_PUMP_STOPPED = const(6)  # low priority: the pump stopped on purpose
# high priority: too much drug (an overdose risk), a drug-delivery cause, never
# the equipment-failure signal (issue 22; docs/alarm-signals.md)
KIND_OVER_DELIVERY = const(7)
KIND_NONE = const(255)
KIND_STARTING = const(254)  # no alarm, but flow not judged yet (light only)
KIND_NAMES = ("no_flow", "malfunction", "low_reservoir", "low_reservoir", "under_delivery",
              "monitoring_interrupted", "pump_stopped", "over_delivery")

# priorities (IEC 60601-1-8)
HIGH = const(0)
MEDIUM = const(1)
LOW = const(2)
PRIORITY_NAMES = ("high", "medium", "low")

#         kind                 priority  cause
TABLE = (
    (KIND_NO_FLOW, HIGH, "low_flow"),
    (KIND_NO_FLOW, HIGH, "reservoir_empty"),
    (KIND_OVER_DELIVERY, HIGH, "over_delivery"),
    (KIND_MALFUNCTION, HIGH, "flow_sensor"),
    (KIND_MALFUNCTION, HIGH, "level_sensor"),
    (KIND_MALFUNCTION, HIGH, "level_flow_mismatch"),
    (KIND_MALFUNCTION, HIGH, "internal"),
    (KIND_LOW_RESERVOIR, MEDIUM, "volume"),
    (KIND_LOW_RESERVOIR, MEDIUM, "days_to_empty"),
    (KIND_REFILL_TODAY, HIGH, "refill_today"),
    (KIND_UNDER_DELIVERY, MEDIUM, "partial"),
    (KIND_NO_FLOW, HIGH, "under_delivery"),
    (KIND_MALFUNCTION, HIGH, "refill_mode"),
    (KIND_INTERRUPTED, LOW, "reset"),
    (KIND_INTERRUPTED, LOW, "carer_link"),
    (KIND_PUMP_STOPPED, LOW, "clinician"),
)

# masks derived once from the table
HIGH_MASK = 0
MEDIUM_MASK = 0
for _i in range(N_CONDITIONS):
    if TABLE[_i][1] == HIGH:
        HIGH_MASK |= 1 << _i
    elif TABLE[_i][1] == MEDIUM:
        MEDIUM_MASK |= 1 << _i
del _i
# high-priority alarms latch when their condition ends, except refill_today:
# it ends only with a real refill, which is itself the carer's action
LATCH_MASK = HIGH_MASK & ~(1 << REFILL_TODAY)
# an acknowledged medium alarm whose condition persists sounds again after
# reminder_min (60 min): never silenced for good either. The lost carers' link
# (low, technical) is quietened the same way: the light stays until the link
# is back, the sound comes back after the reminder (docs/carer.md)
# The high-priority level sensor fault leaves the stop test working (the flow
# sensor judges it alone): once acknowledged it reminds the same way instead
# of every 2 minutes (docs/alarm-policy.md, the one authority)
QUIET_MASK = MEDIUM_MASK | (1 << CARER_LINK) | (1 << LEVEL_SENSOR)
REMIND_MASK = QUIET_MASK

# detail codes: why a condition became active (logged with the event)
D_NONE = const(0)
D_SILENT = const(1)
D_OUT_OF_RANGE = const(2)
D_AIR = const(3)
D_STUCK = const(4)
D_JUMP = const(5)
D_FALLING = const(6)
D_RISING = const(7)
D_EXCEPTION = const(8)
D_RESET = const(9)
D_CONFIG = const(10)
D_LOG = const(11)
D_WATCHDOG = const(12)
D_SPARSE = const(13)         # too few valid readings to judge (any pattern)
D_SEQUENTIAL = const(14)     # no_flow: the sequential (CUSUM) stop test
D_HOUR = const(15)           # over_delivery / partial: the 60-minute judgement
# docs/safety.md: the monitor could not start and the fail-safe path sounds
# (firmware/failsafe.py logs it); a firmware file missing or differing from
# the manifest; the buzzer or the light raised; state.bin missing while the
# log shows the board ran before
D_BOOT = const(16)
D_FIRMWARE = const(17)
D_OUTPUT = const(18)
D_STATE = const(19)
DETAIL_NAMES = (
    "", "silent", "out_of_range", "air_in_line", "stuck", "jump", "falling",
    "rising", "exception", "unexpected_reset", "bad_config", "log_failure",
    "watchdog", "sparse", "sequential", "mean_60min", "boot_failure",
    "firmware_damaged", "output_failure", "state_missing",
)


def kind_of(cond):
    return TABLE[cond][0]


def priority_of(cond):
    return TABLE[cond][1]


# ---- which alarm is annunciated ---------------------------------------------
# Conditions are appended to TABLE as they come, so an index says nothing of
# urgency: pick by priority first, then by index.
def top_condition(mask):
    """The condition of mask annunciated first (highest priority, then the
    lowest index), or -1 when mask is empty."""
    m = mask & HIGH_MASK
    if not m:
        m = mask & MEDIUM_MASK
        if not m:
            m = mask
    return lowest_bit(m)


def lowest_bit(mask):
    """Index of the lowest set bit of mask, or -1."""
    i = 0
    while mask:
        if mask & 1:
            return i
        mask >>= 1
        i += 1
    return -1
