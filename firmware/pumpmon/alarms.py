# The alarm conditions the engine can detect, as data. A condition is one
# (alarm, cause) pair; its index is its bit in the engine's condition mask and
# its rank when several are active (lower index = annunciated first).
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# condition ids (bit numbers). Stored in the state file and the log: never
# renumber; new conditions are appended at the end of TABLE.
NO_FLOW = const(0)        # measured delivery below a fraction of programmed
EMPTY = const(1)          # reservoir empty
OVER_DELIVERY = const(2)  # measured delivery well above programmed
FLOW_SENSOR = const(3)    # flow sensor silent / out of range / stuck / air
LEVEL_SENSOR = const(4)   # level sensor silent / out of range / impossible jump
MISMATCH = const(5)       # level change not explained by measured flow
INTERNAL = const(6)       # firmware fault, unexpected reset, bad config, log failure
LOW_VOLUME = const(7)     # reservoir at or below low_reservoir_ml
LOW_DAYS = const(8)       # projected time to empty below low_reservoir_days
PARTIAL = const(9)        # 60-min delivery under ~60 % of programmed (medium)
PARTIAL_LONG = const(10)  # that under-delivery persisting: escalated to high
REFILL_TIMEOUT = const(11)  # refill mode left on too long (level checks off)
N_CONDITIONS = const(12)

# alarm kinds: what the patient hears and sees
KIND_NO_FLOW = const(0)
KIND_MALFUNCTION = const(1)
KIND_LOW_RESERVOIR = const(2)
KIND_UNDER_DELIVERY = const(3)
KIND_NONE = const(255)
KIND_STARTING = const(254)  # no alarm, but flow not judged yet (light only)
KIND_NAMES = ("no_flow", "malfunction", "low_reservoir", "under_delivery")

# priorities (IEC 60601-1-8)
HIGH = const(0)
MEDIUM = const(1)
LOW = const(2)
PRIORITY_NAMES = ("high", "medium", "low")

#         kind                 priority  cause
TABLE = (
    (KIND_NO_FLOW, HIGH, "low_flow"),
    (KIND_NO_FLOW, HIGH, "reservoir_empty"),
    (KIND_MALFUNCTION, HIGH, "over_delivery"),
    (KIND_MALFUNCTION, HIGH, "flow_sensor"),
    (KIND_MALFUNCTION, HIGH, "level_sensor"),
    (KIND_MALFUNCTION, HIGH, "level_flow_mismatch"),
    (KIND_MALFUNCTION, HIGH, "internal"),
    (KIND_LOW_RESERVOIR, MEDIUM, "volume"),
    (KIND_LOW_RESERVOIR, MEDIUM, "days_to_empty"),
    (KIND_UNDER_DELIVERY, MEDIUM, "partial"),
    (KIND_NO_FLOW, HIGH, "under_delivery"),
    (KIND_MALFUNCTION, HIGH, "refill_mode"),
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
DETAIL_NAMES = (
    "", "silent", "out_of_range", "air_in_line", "stuck", "jump", "falling",
    "rising", "exception", "unexpected_reset", "bad_config", "log_failure",
    "watchdog", "sparse", "sequential", "mean_60min",
)


def kind_of(cond):
    return TABLE[cond][0]


def priority_of(cond):
    return TABLE[cond][1]


# ---- annunciation rank ------------------------------------------------------
# Several alarms: the highest priority is annunciated first, and among equal
# priorities the lowest condition number. Bit order alone is not the rank any
# more: high-priority conditions are appended after medium ones (bits are
# never renumbered).
def top_condition(mask):
    """The condition annunciated first among mask (priority, then index), or -1."""
    m = mask & HIGH_MASK
    if not m:
        m = mask & MEDIUM_MASK
        if not m:
            m = mask
    i = 0
    while m:
        if m & 1:
            return i
        m >>= 1
        i += 1
    return -1
