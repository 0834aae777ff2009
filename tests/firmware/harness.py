# Drives the firmware's Monitor with a generated Scenario, as the board would,
# and collects its events. Runs on CPython and on the MicroPython unix port.
from pumpmon import alarms as A
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.events import NAMES
from pumpmon.monitor import Monitor


class Run:
    def __init__(self, scenario, cfg=None, t0=None):
        values = dict(cfg or {})
        values.setdefault("reservoir_capacity_ml", scenario.capacity_ml)
        if "rate_ul_h" not in values and "schedule" not in values:
            if scenario.schedule is None:
                values["rate_ul_h"] = scenario.rate
            else:
                values["schedule"] = [("%02d:%02d" % (s // 3600, s // 60 % 60), r)
                                      for s, r in scenario.schedule]
        self.cfg = Config(values)
        self.scenario = scenario
        # start a little before the ticks counter wraps, so every run crosses it
        self.t0 = ticks_add(0, -90000) if t0 is None else t0
        self.events = []   # (t_s, event name, alarm kind name, cause, detail)
        self._t = 0
        self.monitor = Monitor(self.cfg, self.t0, self._on_event, scenario.start_s)

    def _on_event(self, code, cond, detail):
        if cond >= 0:
            kind, prio, cause = A.TABLE[cond]
            self.events.append((self._t, NAMES[code], A.KIND_NAMES[kind], cause,
                                A.DETAIL_NAMES[detail], A.PRIORITY_NAMES[prio]))
        else:
            self.events.append((self._t, NAMES[code], None, None, None, None))

    def go(self):
        m = self.monitor
        now = self.t0
        last = 0
        for t_ms, level, flow, flags, button, refill in self.scenario.samples():
            self._t = t_ms // 1000
            # step the clock by the interval (a 32-bit port's ticks_add takes
            # no delta beyond 2**29 ms: a soak runs for months)
            now = ticks_add(now, t_ms - last)
            last = t_ms
            m.step(now, level, flow, flags, button, refill)
        return self

    def raised(self, kind=None, cause=None, high_only=False):
        out = []
        for e in self.events:
            if e[1] != "alarm_raised":
                continue
            if kind is not None and e[2] != kind:
                continue
            if cause is not None and e[3] != cause:
                continue
            if high_only and e[2] == "low_reservoir":
                continue
            out.append(e)
        return out

    def first(self, kind, cause=None):
        r = self.raised(kind, cause)
        return r[0][0] if r else None

    def event_dicts(self):
        """The events as `pumpmon replay` writes them (the fields the one
        expectation checker, host_tools/formats/expectations.py, reads)."""
        return [{"t_ms": e[0] * 1000, "event": e[1], "alarm": e[2], "cause": e[3],
                 "priority": e[5]} for e in self.events]

    def check(self, expectation):
        """Assert the events meet an expectation (check_events' form)."""
        from host_tools.formats.expectations import check_events
        problems = check_events(self.event_dicts(), expectation)
        assert not problems, "\n".join(problems) + "\nevents %r" % (self.events,)


def go(r, b, ms):
    """Step a runner r on its board b for ms milliseconds, 10 ms a step (no
    allocation: the heap-locked tests use it too)."""
    n = ms // 10
    while n > 0:
        r.step()
        b.sleep_ms(10)
        n -= 1
