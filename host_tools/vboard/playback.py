"""The virtual board's sensors and its board time: the trace played into the
VM and the faults applied, each exactly at its board time. The VM asks for
board time (an ADVANCE record: its firmware sleeps past the horizon it was
given); the host sends what falls due until then, in time order, then grants
it with the next horizon (the board time of the next row or fault). A reset
or power cut that falls due first ends the VM there instead. Nothing here
looks at the wall clock, so the same inputs give the same board. And the
faults: applied now (keys, the control socket) or at their board time
(--fault), the sensor and flash faults kept in force across resets."""
import collections
import time

from host_tools import paths
from host_tools.vboard.faults import IN_VM, parse_fault

W = paths.rom_module("wire")
NONE32 = W.NONE
HORIZON_MS = 1000       # the most board time granted ahead (keeps the host's clock current)
# one record for the VM
Rec = collections.namedtuple("Rec", "kind a b c due v0 v1 t_ms", defaults=(None,))
# the sample in force, for the view and `status`
Sample = collections.namedtuple("Sample", "t_ms level flow flags button refill")


class Playback:
    """The trace (None: no sensors played) and the scheduled faults
    ([(trace ms, spec)], sorted), played on `clock` into the VM that power
    runs; `on_end` is called when the trace has played (or None)."""

    def __init__(self, clock, power, timeline, counts, trace, scheduled, speed, on_end=None):
        self.clock = clock
        self.power = power
        self.timeline = timeline
        self.note = timeline.note
        self.counts = counts
        self.trace = trace
        self.samples = trace.samples() if trace is not None else None
        self.scheduled = scheduled
        self.speed = speed           # the ceiling (None: none): a power cut's pace
        self.on_end = on_end
        self.next_sample = None
        self.current = None          # the sample in force (t, level, flow, flags, button, refill)
        self.trace_done = False
        self.trace_end_world = None
        self.trace_wall = (None, None)   # wall start, end (monotonic): for figures only
        self.rows = 0
        self.world_faults = {}       # flow/level/flash modes: persist across resets

    def begin(self, world):
        """The firmware reads its sensors for the first time (after
        flashing): the trace starts then, once."""
        if self.trace is None or self.clock.trace_world0 is not None:
            return
        first = next(self.samples, None)
        if first is None:
            self.trace_done = True
            return
        self.clock.start_trace(world, first[0])
        self.trace_wall = [time.monotonic(), None]
        self.next_sample = first
        self.note("trace", world, what="start", path=str(self.trace.path))

    def resume(self, vm):
        """A new VM (it waits for this): the sensors' state, the faults in
        force, what falls due at its first instant, then its first grant."""
        self.timeline.check_log(vm)
        for name, value in self.world_faults.items():
            if vm.data is not None:
                vm.send(Rec(W.FAULT, W.FAULT_KEYS[name], 0, 0, 0,
                            int(min(value, 2 ** 31 - 1)), 0))
        cur = self.current
        if cur is not None:
            vm.send(Rec(W.SAMPLE, cur.flags, cur.button, cur.refill, 0,
                        W.NONE if cur.level is None else cur.level,
                        W.NONE if cur.flow is None else cur.flow))
        if self.deliver_until(self.clock.board_ms, vm):
            self._grant(vm, self.clock.board_ms)

    def cut_fired(self):
        """The flash's cut-after fault cut the power: it is spent."""
        self.world_faults.pop("cut-after", None)

    def advance(self, vm, t, fires, fed_ago):
        """The VM asks for board time t (ms); fires: its watchdog's deadline is t."""
        vm.asked = time.monotonic()
        vm.cpu_mark = None
        vm.fed_ms = t - fed_ago if fed_ago >= 0 else None
        if not self.deliver_until(t, vm):
            return                      # a reset or power cut came first: this VM is gone
        self.clock.reach(t)
        self.timeline.check_log_changed(vm)
        if fires and vm.wdt_ms:         # not fed for its timeout, in board time
            self.power.hard_reset("watchdog")
            return
        self._grant(vm, t)

    def _grant(self, vm, t):
        flags = W.GRANT_WDT_OFF if not vm.wdt_ms else 0
        vm.send(Rec(W.GRANT, 0, 0, 0, self._horizon(t), flags, 0))

    def _horizon(self, t):
        """The board ms the VM may sleep up to (not including) on its own."""
        h = t + HORIZON_MS
        if self.clock.trace_world0 is not None:
            world_of = self.clock.world_of
            if self.next_sample is not None:
                h = min(h, world_of(self.next_sample[0]))
            if self.scheduled:
                h = min(h, world_of(self.scheduled[0][0]))
            if self.trace_end_world is not None and not self.trace_done:
                h = min(h, self.trace_end_world)
        return max(h, t + 1)

    def deliver_until(self, t, vm):
        """Everything due up to board ms t, in time order (a row before a
        fault of the same ms): rows and in-VM faults sent with their due
        time; a reset or power cut done at its time (False: the VM is gone)."""
        if self.clock.trace_world0 is None:
            return True
        world_of = self.clock.world_of
        while True:
            ws = None if self.next_sample is None else world_of(self.next_sample[0])
            wf = world_of(self.scheduled[0][0]) if self.scheduled else None
            if ws is not None and ws <= t and (wf is None or ws <= wf):
                self._send_row(vm, ws)
            elif wf is not None and wf <= t:
                _t_ms, spec = self.scheduled.pop(0)
                name, _value = parse_fault(spec)
                if name in IN_VM:
                    self.apply_fault(spec, at_world=wf, vm=vm)
                elif vm is not None:        # a reset or power cut: this VM ends at wf
                    self.clock.reach(wf)
                    self.apply_fault(spec, at_world=wf, vm=vm)
                    return False
                else:                       # (the power is off then)
                    self.note("fault", wf, spec=spec, ignored="power off")
            else:
                break
        if (self.next_sample is None and not self.trace_done and self.trace_end_world is not None
                and t >= self.trace_end_world):
            self.trace_done = True
            self.trace_wall[1] = time.monotonic()
            self.note("trace", self.trace_end_world, what="end", rows=self.rows)
            if self.on_end is not None:
                self.on_end()
        return True

    def _send_row(self, vm, w):
        t_ms, level, flow, flags, button, refill = self.next_sample
        rec = Rec(W.SAMPLE, flags & 255, button & 1, refill & 1, w,
                  NONE32 if level is None else max(NONE32 + 1, min(level, 2 ** 31 - 1)),
                  NONE32 if flow is None else max(NONE32 + 1, min(flow, 2 ** 31 - 1)), t_ms)
        self.current = Sample(t_ms, level, flow, rec.a, rec.b, rec.c)
        if vm is not None and vm.data is not None:
            vm.send(rec)
        self.rows += 1
        try:
            self.next_sample = next(self.samples, None)
        except Exception as e:  # a bad row: the trace ends there, said once
            self.next_sample = None
            self.note("trace", w, what="error", error=str(e))
        if self.next_sample is None:
            self.trace_end_world = w + 1000

    def apply_fault(self, spec, at_world=None, vm=None):
        """Apply a fault now (the control socket, keys: the VM takes it at its
        next board call) or, scheduled, at its board time at_world (sent to
        the VM before the grant that passes it)."""
        name, value = parse_fault(spec)
        w = self.clock.board_ms if at_world is None else at_world
        self.counts["fault"] += 1
        self.note("fault", max(w, 0), spec=spec)
        if vm is None:
            vm = self.power.vm
        if name in ("flow", "level", "flash", "buzzer"):
            if value:
                self.world_faults[name] = value
            else:
                self.world_faults.pop(name, None)
            self._queue_fault(vm, name, value, w, at_world is not None)
        elif name == "cut-after":        # armed until it cuts, across resets
            self.world_faults[name] = value
            self._queue_fault(vm, name, value, w, at_world is not None)
        elif name in ("hang", "button"):
            self._queue_fault(vm, name, value, w, at_world is not None)
        elif name == "reset":
            self.power.hard_reset("hard")
        elif name == "power-cut":
            self.power.power_cut(value, self.speed)

    def _queue_fault(self, vm, name, value, w, timed):
        if vm is None:
            return
        rec = Rec(W.FAULT, W.FAULT_KEYS[name], 0, 0, w, int(min(value, 2 ** 31 - 1)), 0)
        if timed:
            if vm.data is not None:
                vm.send(rec)            # before the grant that passes w
        else:
            vm.send_now(rec)
