"""The virtual board's sensors and its board time: the trace played into the
VM and the faults applied, each exactly at its board time. The VM asks for
board time (an ADVANCE record: its firmware sleeps past the horizon it was
given); the host sends what falls due until then, in time order, then grants
it with the next horizon (the board time of the next row or fault). A reset
or power cut that falls due first ends the VM there instead. Nothing here
looks at the wall clock, so the same inputs give the same board. A part of
VirtualBoard."""
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
    def _start_trace(self, world):
        first = next(self.samples, None)
        if first is None:
            self.trace_done = True
            return
        self.t_first = first[0]
        self.trace_world0 = world
        self.trace_wall = [time.monotonic(), None]     # wall start, end: for figures only
        self.next_sample = first
        self.note("trace", world, what="start", path=str(self.trace.path))

    def _advance(self, vm, t, fires, fed_ago):
        """The VM asks for board time t (ms); fires: its watchdog's deadline is t."""
        vm.asked = time.monotonic()
        vm.cpu_mark = None
        vm.fed_ms = t - fed_ago if fed_ago >= 0 else None
        if not self._deliver_until(t, vm):
            return                      # a reset or power cut came first: this VM is gone
        self.board_ms = max(self.board_ms, t)
        self._check_log_changed()
        if fires and vm.wdt_ms:         # not fed for its timeout, in board time
            self.hard_reset("watchdog")
            return
        self._grant(vm, t)

    def _grant(self, vm, t):
        flags = W.GRANT_WDT_OFF if not vm.wdt_ms else 0
        self._send_raw(vm, Rec(W.GRANT, 0, 0, 0, self._horizon(t), flags, 0))

    def _horizon(self, t):
        """The board ms the VM may sleep up to (not including) on its own."""
        h = t + HORIZON_MS
        if self.trace_world0 is not None:
            if self.next_sample is not None:
                h = min(h, self.world_of(self.next_sample[0]))
            if self.scheduled:
                h = min(h, self.world_of(self.scheduled[0][0]))
            if self.trace_end_world is not None and not self.trace_done:
                h = min(h, self.trace_end_world)
        return max(h, t + 1)

    def _deliver_until(self, t, vm):
        """Everything due up to board ms t, in time order (a row before a
        fault of the same ms): rows and in-VM faults sent with their due
        time; a reset or power cut done at its time (False: the VM is gone)."""
        if self.trace_world0 is None:
            return True
        while True:
            ws = None if self.next_sample is None else self.world_of(self.next_sample[0])
            wf = self.world_of(self.scheduled[0][0]) if self.scheduled else None
            if ws is not None and ws <= t and (wf is None or ws <= wf):
                self._send_row(vm, ws)
            elif wf is not None and wf <= t:
                _t_ms, spec = self.scheduled.pop(0)
                name, _value = parse_fault(spec)
                if name in IN_VM:
                    self.apply_fault(spec, at_world=wf, vm=vm)
                elif vm is not None:        # a reset or power cut: this VM ends at wf
                    self.board_ms = max(self.board_ms, wf)
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
            if self.exit_at_end:
                self.stopping = True
        return True

    def _send_row(self, vm, w):
        t_ms, level, flow, flags, button, refill = self.next_sample
        rec = Rec(W.SAMPLE, flags & 255, button & 1, refill & 1, w,
                  NONE32 if level is None else max(NONE32 + 1, min(level, 2 ** 31 - 1)),
                  NONE32 if flow is None else max(NONE32 + 1, min(flow, 2 ** 31 - 1)), t_ms)
        self.current = Sample(t_ms, level, flow, rec.a, rec.b, rec.c)
        if vm is not None and vm.data is not None:
            self._send_raw(vm, rec)
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
        w = self.board_ms if at_world is None else at_world
        self.counts["fault"] += 1
        self.note("fault", max(w, 0), spec=spec)
        if vm is None:
            vm = self.vm
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
            self.hard_reset("hard")
        elif name == "power-cut":
            self.power_cut(value)

    def _queue_fault(self, vm, name, value, w, timed):
        if vm is None:
            return
        rec = Rec(W.FAULT, W.FAULT_KEYS[name], 0, 0, w, int(min(value, 2 ** 31 - 1)), 0)
        if timed:
            if vm.data is not None:
                self._send_raw(vm, rec)         # before the grant that passes w
        elif vm.urgent is not None:
            try:
                vm.urgent.sendall(W.pack_in(*rec[:7]))
            except OSError:
                pass
