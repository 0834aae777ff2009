# Monitor configuration: defaults, validation, and conversion to the integer
# units the engine works in (done once, so the hot path never sees a float).
#
# Units inside the firmware:
#   flow and rates: 0.1 uL/h  ("dul_h")   level and volumes: uL   time: s or ms
import math

from pumpmon import netconfig   # the carers' link settings (docs/carer.md)

# name: (default, minimum, maximum). Floats in user units; see docs/config.md.
# Every alarm threshold may move beyond its default only in the safe direction
# (an earlier alarm) and no range lets a value switch a check off (issue 12;
# docs/config.md, "Why each range", gives each bound's reason).
LIMITS = {
    # 0 only with "pump_stopped": true (a stopped pump, declared and shown)
    "rate_ul_h": (None, 0.0, 5000.0),
    "reservoir_capacity_ml": (20.0, 1.0, 100.0),
    # low reservoir (issue 17; docs/config.md gives each bound's reason):
    # none can be switched off
    "low_reservoir_ml": (4.0, 2.0, 50.0),
    "low_reservoir_days": (7.0, 2.0, 60.0),
    # refill_today_ml raises nothing since issue 22 (refill_today is judged by
    # the time to empty alone): still read and checked, so files that set it load
    "refill_today_ml": (1.0, 0.5, 2.0),
    # high priority only when at most a day is left (docs/alarm-policy.md)
    "refill_today_days": (1.0, 0.5, 1.0),
    "reminder_min": (60, 10, 60),
    "reservoir_empty_ml": (0.1, 0.1, 5.0),
    "no_flow_fraction": (0.25, 0.25, 0.5),
    "over_delivery_factor": (1.6, 1.1, 1.6),
    "over_delivery_margin_ul_h": (1.0, 0.0, 1.0),
    "flow_window_s": (600, 120, 600),
    "flow_fault_s": (10, 2, 10),
    "flow_stuck_s": (120, 10, 120),
    "flow_min_ul_h": (-50.0, -50.0, 0.0),
    "flow_max_ul_h": (50000.0, 10.0, 50000.0),
    "level_fault_s": (60, 5, 60),
    "level_jump_ml": (1.0, 0.1, 1.0),
    "mismatch_ml_h": (0.25, 0.05, 0.25),
    "mismatch_window_min": (60, 10, 60),
    "zero_offset_ul_h": (0.5, 0.0, 0.5),
    "stroke_max_s": (300, 0, 300),
    "partial_fraction": (0.6, 0.6, 0.9),
    "partial_escalate_min": (120, 10, 120),
    "over_hour_factor": (1.2, 1.1, 1.2),
    "over_hour_margin_ul_h": (0.35, 0.0, 0.35),
    "refill_timeout_min": (30, 5, 30),
    "level_stuck_ml": (0.4, 0.1, 0.4),
    "pause_s": (120, 10, 120),
    # an unacknowledged high-priority alarm escalates after this long
    # (manager.py): only sooner, never off (docs/alarm-policy.md)
    "escalation_min": (10, 5, 10),
    "long_press_ms": (2000, 2000, 10000),
}
# keys that are not numbers
OTHER_KEYS = ("schedule", "start", "board_id", "pump_stopped")
MAX_BOARD_ID = 64      # a label, not a store: the log and the screen show it
MAX_SCHEDULE = 48      # one entry every 30 minutes at most


class ConfigError(ValueError):
    pass


# A programmed rate of 0 would switch off the stop test; only a pump that a
# clinician stopped may have it, and then it is said in the configuration,
# logged and shown (docs/config.md, "Pump stopped by a clinician")
STOPPED_RULE = ("a rate of 0 stops delivery: only a pump stopped by a clinician may "
                "have it, declared with \"pump_stopped\": true and \"rate_ul_h\": 0")


# The stop test compares readings with half the programmed rate; a stop must
# sit below that by a margin even when the sensor's zero offset reads +offset
# (docs/engine.md, 'The rate floor'): rate / 2 >= offset + 0.25 uL/h.
FLOOR_MARGIN_UL_H = 0.25


def rate_floor_ul_h(zero_offset_ul_h):
    """Lowest programmed rate (uL/h, above 0) at which a stop can be judged."""
    return 2.0 * (zero_offset_ul_h + FLOOR_MARGIN_UL_H)


def parse_hhmm(text, what="time"):
    """'08:30' -> seconds since midnight."""
    parts = text.strip().split(":")
    if len(parts) != 2:
        raise ConfigError("%s %r is not HH:MM" % (what, text))
    try:
        h = int(parts[0])
        m = int(parts[1])
    except ValueError:
        raise ConfigError("%s %r is not HH:MM" % (what, text))
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ConfigError("%s %r is out of range" % (what, text))
    return h * 3600 + m * 60


def _number(key, value):
    lo_hi = LIMITS[key]
    if isinstance(value, bool):   # JSON true is not 1 (issue 12)
        raise ConfigError("%s: %r is not a number" % (key, value))
    if not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ConfigError("%s: %r is not a number" % (key, value))
    try:
        finite = math.isfinite(value)
    except OverflowError:         # an integer too big for a float
        finite = False
    if not finite:
        raise ConfigError("%s: %r is not a finite number" % (key, value))
    if value < lo_hi[1] or value > lo_hi[2]:
        raise ConfigError("%s: %s is outside %s..%s" % (key, value, lo_hi[1], lo_hi[2]))
    return value


def parse_schedule(spec):
    """'00:00/30.0;08:00/45' or [["00:00", 30.0], ...] -> [(start_s, rate_ul_h)]."""
    if isinstance(spec, str):
        items = []
        for part in spec.split(";"):
            part = part.strip()
            if not part:
                continue
            if "/" not in part:
                raise ConfigError("schedule entry %r is not HH:MM/RATE" % part)
            hhmm, rate = part.split("/", 1)
            items.append((hhmm, rate))
    else:
        try:
            items = [(e[0], e[1]) for e in spec]
        except (TypeError, IndexError, KeyError):
            raise ConfigError("schedule must be 'HH:MM/RATE;...' or a list of [HH:MM, RATE]")
    if len(items) > MAX_SCHEDULE:
        raise ConfigError("schedule: more than %d entries" % MAX_SCHEDULE)
    out = []
    for hhmm, rate in items:
        start = parse_hhmm(str(hhmm), "schedule time")
        out.append((start, _number("rate_ul_h", rate)))
    if not out:
        raise ConfigError("schedule is empty")
    out.sort()
    for i in range(1, len(out)):
        if out[i][0] == out[i - 1][0]:
            raise ConfigError("schedule has two entries at the same time")
    return out


class Config:
    """Validated configuration in user units plus derived integer fields."""

    def __init__(self, values=None, fallback=False):
        """fallback: the monitor's own configuration when config.json cannot
        be used (rate 0 while malfunction/internal sounds: runner.py)."""
        values = dict(values or {})
        for key in values:
            if key not in LIMITS and key not in OTHER_KEYS and key not in netconfig.KEYS:
                raise ConfigError("unknown setting %r" % key)
        try:
            self.net = netconfig.parse(values)   # None: no network
        except ValueError as e:
            raise ConfigError(str(e))
        for key in LIMITS:
            default = LIMITS[key][0]
            v = values.get(key, default)
            if v is not None:
                v = _number(key, v)
            setattr(self, key, v)
        stopped = values.get("pump_stopped", False)
        if stopped is not True and stopped is not False:   # JSON true or false only
            raise ConfigError("pump_stopped: %r is not true or false" % (stopped,))
        self.pump_stopped = stopped
        self.board_id = str(values.get("board_id", ""))
        if len(self.board_id) > MAX_BOARD_ID:
            raise ConfigError("board_id: longer than %d characters" % MAX_BOARD_ID)
        sched = values.get("schedule")
        if sched is not None and self.rate_ul_h is not None:
            raise ConfigError("give rate_ul_h or schedule, not both")
        if sched is None:
            if self.rate_ul_h is None:
                raise ConfigError("no programmed delivery: set rate_ul_h or schedule")
            self.schedule = [(0, self.rate_ul_h)]
        else:
            self.schedule = parse_schedule(sched)
        if stopped and (sched is not None or self.rate_ul_h != 0):
            raise ConfigError("pump_stopped: true needs \"rate_ul_h\": 0 (and no schedule)")
        for start, rate in self.schedule:
            if rate == 0 and not (stopped or fallback):
                raise ConfigError("rate_ul_h 0%s: %s" % (
                    "" if sched is None else " (schedule at %02d:%02d)"
                    % (start // 3600, start // 60 % 60), STOPPED_RULE))
        start = values.get("start", "00:00")
        self.start_s = parse_hhmm(str(start), "start")
        if self.low_reservoir_ml >= self.reservoir_capacity_ml:
            raise ConfigError("low_reservoir_ml must be below reservoir_capacity_ml")
        if self.refill_today_ml >= self.low_reservoir_ml:
            raise ConfigError("refill_today_ml must be below low_reservoir_ml")
        if self.reservoir_empty_ml >= self.refill_today_ml:
            raise ConfigError("reservoir_empty_ml must be below refill_today_ml")
        if self.refill_today_days >= self.low_reservoir_days:
            raise ConfigError("refill_today_days must be below low_reservoir_days")
        top = 0.0
        for _s, rate in self.schedule:
            top = rate if rate > top else top
        if self.flow_max_ul_h < top * self.over_delivery_factor + self.over_delivery_margin_ul_h:
            # an over-delivery would read as out of range: the wrong alarm
            raise ConfigError("flow_max_ul_h must be above over_delivery_factor x the "
                              "highest rate + over_delivery_margin_ul_h")
        self._derive()
        floor = rate_floor_ul_h(self.zero_offset_ul_h)
        for start, rate in self.schedule:
            if 0 < rate < floor:
                raise ConfigError(
                    "rate %s uL/h (at %02d:%02d) is below the floor %s uL/h: with the flow "
                    "sensor's zero offset of up to +-%s uL/h a stop could not be told from "
                    "delivery (docs/engine.md, 'The rate floor')"
                    % (rate, start // 3600, start // 60 % 60, floor, self.zero_offset_ul_h))

    def _derive(self):
        # schedule: parallel integer lists, start second and rate in 0.1 uL/h
        self.sched_start = [s for s, _ in self.schedule]
        self.sched_rate = [int(round(r * 10)) for _, r in self.schedule]
        # programmed volume over one day, uL
        total = 0
        n = len(self.schedule)
        for i in range(n):
            end = self.sched_start[i + 1] if i + 1 < n else 86400
            total += self.sched_rate[i] * (end - self.sched_start[i])
        if self.sched_start[0] > 0:  # the last entry wraps to midnight
            total += self.sched_rate[-1] * self.sched_start[0]
        self.daily_ul = total // 36000
        self.capacity_ul = int(round(self.reservoir_capacity_ml * 1000))
        self.low_ul = int(round(self.low_reservoir_ml * 1000))
        self.low_days_x10 = int(round(self.low_reservoir_days * 10))
        self.refill_today_ul = int(round(self.refill_today_ml * 1000))
        self.refill_today_days_x10 = int(round(self.refill_today_days * 10))
        self.reminder_ms = int(self.reminder_min) * 60000
        self.empty_ul = int(round(self.reservoir_empty_ml * 1000))
        self.no_flow_pct = int(round(self.no_flow_fraction * 100))
        self.over_pct = int(round(self.over_delivery_factor * 100))
        self.over_margin = int(round(self.over_delivery_margin_ul_h * 10))
        self.flow_window_s = int(self.flow_window_s)
        self.flow_fault_s = int(self.flow_fault_s)
        self.flow_stuck_s = int(self.flow_stuck_s)
        self.flow_min = int(round(self.flow_min_ul_h * 10))
        self.flow_max = int(round(self.flow_max_ul_h * 10))
        self.level_fault_s = int(self.level_fault_s)
        self.level_jump_ul = int(round(self.level_jump_ml * 1000))
        # a level reading is in range between -0.5 mL and 125% of capacity + 1 mL
        self.level_min_ul = -500
        self.level_max_ul = self.capacity_ul * 5 // 4 + 1000
        self.mismatch_ul = int(round(self.mismatch_ml_h * 1000 * self.mismatch_window_min / 60))
        self.mismatch_window_min = int(self.mismatch_window_min)
        self.zero_offset = int(round(self.zero_offset_ul_h * 10))
        self.stroke_max_s = int(self.stroke_max_s)
        self.partial_pct = int(round(self.partial_fraction * 100))
        self.partial_escalate_s = int(self.partial_escalate_min) * 60
        self.over_hour_pct = int(round(self.over_hour_factor * 100))
        self.over_hour_margin = int(round(self.over_hour_margin_ul_h * 100))  # 0.01 uL/h
        self.refill_timeout_s = int(self.refill_timeout_min) * 60
        self.level_stuck_ul = int(round(self.level_stuck_ml * 1000))
        self.pause_ms = int(self.pause_s) * 1000
        self.escalation_ms = int(round(self.escalation_min * 60000))
        self.long_press_ms = int(self.long_press_ms)

    def rate_at(self, tod_s):
        """Programmed rate (0.1 uL/h) at a second of the day."""
        starts = self.sched_start
        i = len(starts) - 1
        while i > 0 and starts[i] > tod_s:
            i -= 1
        if starts[i] > tod_s:  # before the first entry: the last one still runs
            i = len(starts) - 1
        return self.sched_rate[i]

    def as_dict(self):
        d = {}
        for key in LIMITS:
            v = getattr(self, key)
            if v is not None and key != "rate_ul_h":
                d[key] = v
        if self.pump_stopped:
            d["pump_stopped"] = True
        if len(self.schedule) == 1 and self.schedule[0][0] == 0:
            d["rate_ul_h"] = self.schedule[0][1]
        else:
            d["schedule"] = ";".join(
                "%02d:%02d/%s" % (s // 3600, s // 60 % 60, r) for s, r in self.schedule)
        return d
