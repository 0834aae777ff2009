# Records that only say something flapped (the carers' link going up and
# down, a latched alarm's condition clearing again and again under a flapping
# sensor) must never push the evidence (alarms, acknowledgements,
# configuration, service, monitoring_*) out of the event log. Two rules
# (docs/log-format.md, "Chatter"):
#
# - rate: at most PER_MIN records of one kind a minute; the rest are held
#   back and counted, and one records_held record gives the count when it
#   settles (SETTLE_S without one), or every SUMMARY_S while it goes on;
# - retention: a log segment takes at most SEG_BUDGET such records (the last
#   SEG_RESERVE of them only for records_held; once those are used, one
#   records_held at most every LONG_S, 4 a day, so a count is never held for
#   long), so whatever the network or a sensor does, the flapping records take
#   at most SEG_BUDGET - SEG_RESERVE slots of a segment and their summaries
#   a few a day: the log's reach in evidence does not depend on the amount
#   of chatter. The log counts them per segment (EventLog.chat).
#
# Nothing is allocated while nothing is held (tick() is integer compares:
# the main loop's heap-lock tests run through it).
from pumpmon import eventlog as L

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

PER_MIN = const(4)        # records of one kind written in any minute
SEG_BUDGET = const(16)    # chatter records (of every kind) in one log segment
SEG_RESERVE = const(4)    # of those, kept for records_held
SETTLE_S = const(60)      # quiet this long: the held records are summarised
SUMMARY_S = const(3600)   # still going on: a summary at least this often
LONG_S = const(21600)     # a segment's share used up: a summary at most this often


class Chatter:
    """The limiter of one kind of chatter record (its event code)."""

    def __init__(self, store, code):
        self.s = store            # its log, append() and the runner's uptime (store.py)
        self.code = code
        self.win_s = -SETTLE_S    # start of the current minute window (uptime s)
        self.n_win = 0            # records written in it
        self.held = 0             # records held back since the last summary
        self.first_s = 0          # uptime of the first and the last held record
        self.last_s = 0
        self.cond = L.NO_COND     # the held records' condition (NO_COND when mixed)
        self.detail = 0           # the last held record's detail and v0
        self.v0 = 0
        self.summaries = 0        # records_held written (tests look)
        self.sum_s = -LONG_S      # uptime of the last one

    def write(self, cond, detail, v0, v1, v2, v3, sync=False):
        """Write the record now or hold it back (counted). True: handled."""
        s = self.s
        ring = s.log.ring
        now = s.r.up_s
        if now - self.win_s >= 60:
            self.win_s = now
            self.n_win = 0
        if not self.held and self.n_win < PER_MIN and ring.chat < SEG_BUDGET - SEG_RESERVE:
            self.n_win += 1
            ok = s.append(self.code, cond, detail, v0, v1, v2, v3, sync)
            if ok:
                ring.chat += 1
            return ok
        if not self.held:
            self.first_s = now
            self.cond = cond
        elif cond != self.cond:
            self.cond = L.NO_COND
        self.held += 1
        self.last_s = now
        self.detail = detail
        self.v0 = v0
        return True

    def tick(self):
        """Once a second: the summary when it has settled (or is due)."""
        if not self.held:
            return
        s = self.s
        now = s.r.up_s
        if now - self.last_s < SETTLE_S and now - self.first_s < SUMMARY_S:
            return
        ring = s.log.ring
        if ring.chat >= SEG_BUDGET and now - self.sum_s < LONG_S:
            # this segment has had its share: the count goes on, and is
            # written at most every LONG_S (a reset loses no more of it)
            return
        # records_held: detail the held records' code, v0 how many, v1 the
        # seconds from the first to the last, v2, v3 the last one's detail, v0
        if s.append(L.RECORDS_HELD, self.cond, self.code, self.held,
                    self.last_s - self.first_s, self.detail, self.v0):
            ring.chat += 1
            self.summaries += 1
            self.sum_s = now
            self.held = 0
            self.n_win = PER_MIN  # the summary starts a new minute window, full
            self.win_s = now


class Chatters:
    """The store's chatter limiters: the carers' link records, and an
    alarm's condition clearing again while it is still latched."""

    def __init__(self, store):
        self.link = Chatter(store, L.CARER_LINK)
        self.again = Chatter(store, L.CONDITION_CLEARED)
        self.cleared = 0          # latched alarms whose condition_cleared is logged

    def tick(self):
        self.link.tick()
        self.again.tick()

    def alarm(self, code, cond, detail, v0, v1, v2, v3):
        """An alarm event for the log: written (None), or held here (True)."""
        if cond < 0 or cond == L.NO_COND:
            return None
        bit = 1 << cond
        if code != L.CONDITION_CLEARED:
            self.cleared &= ~bit      # raised, acknowledged, cleared: a new episode
            return None
        if not self.cleared & bit:
            self.cleared |= bit       # the first time: evidence, written as usual
            return None
        return self.again.write(cond, detail, v0, v1, v2, v3)
