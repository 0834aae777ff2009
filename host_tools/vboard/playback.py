"""The virtual board's sensors: the trace played into the VM at --speed,
sent ahead of time (the ROM keeps each record until it is due), and the
faults applied on time. A part of VirtualBoard."""
import collections

from host_tools import paths
from host_tools.vboard.faults import IN_VM, parse_fault

W = paths.rom_module("wire")
NONE32 = W.NONE
# one record for the VM, kept by the host until due (to resend after a reset)
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
        self.next_sample = first
        self.note("trace", world, what="start", path=str(self.trace.path))

    def _pump(self, now_world):
        """Send the VM what falls due within the lookahead; faults on time."""
        if self.trace_world0 is None:
            return
        vm = self.vm
        ahead = max(2000, int(0.3 * self.speed * 1000))
        while self.sent and self.sent[0].due <= now_world:
            rec = self.sent.popleft()
            if rec.kind == W.SAMPLE:
                self.current = Sample(rec.t_ms, None if rec.v0 == NONE32 else rec.v0,
                                      None if rec.v1 == NONE32 else rec.v1, rec.a, rec.b, rec.c)
        while self.scheduled and self.world_of(self.scheduled[0][0]) <= now_world + ahead:
            t_ms, spec = self.scheduled[0]
            w = self.world_of(t_ms)
            name, value = parse_fault(spec)
            if name in IN_VM:
                self.scheduled.pop(0)
                self.apply_fault(spec, at_world=w)
            elif w <= now_world:
                self.scheduled.pop(0)
                self.apply_fault(spec)
            else:
                break
        while self.next_sample is not None:
            s = self.next_sample
            w = self.world_of(s[0])     # s: (t_ms, level, flow, flags, button, refill)
            if w > now_world + ahead:
                break
            t_ms, level, flow, flags, button, refill = s
            rec = Rec(W.SAMPLE, flags & 255, button & 1, refill & 1, w,
                      NONE32 if level is None else max(NONE32 + 1, min(level, 2 ** 31 - 1)),
                      NONE32 if flow is None else max(NONE32 + 1, min(flow, 2 ** 31 - 1)),
                      t_ms)
            self.sent.append(rec)
            if vm is not None and vm.data is not None:
                self._send_raw(vm, rec)
            self.rows += 1
            try:
                self.next_sample = next(self.samples, None)
            except Exception as e:  # a bad row: the trace ends there, said once
                self.next_sample = None
                self.note("trace", what="error", error=str(e))
            if self.next_sample is None:
                self.trace_end_world = w + 1000
        if (self.next_sample is None and not self.trace_done and self.trace_end_world is not None
                and now_world >= self.trace_end_world):
            self.trace_done = True
            self.note("trace", what="end", rows=self.rows)
            if self.exit_at_end:
                self.stopping = True

    def apply_fault(self, spec, at_world=None):
        """Apply a fault now (or at a world time, for the in-VM ones)."""
        name, value = parse_fault(spec)
        w = self.world_ms() if at_world is None else at_world
        self.counts["fault"] += 1
        self.note("fault", max(w, 0) if at_world is not None else None, spec=spec)
        vm = self.vm
        if name in ("flow", "level", "flash", "buzzer"):
            if value:
                self.world_faults[name] = value
            else:
                self.world_faults.pop(name, None)
            self._queue_fault(vm, name, value, w)
        elif name == "cut-after":        # armed until it cuts, across resets
            self.world_faults[name] = value
            self._queue_fault(vm, name, value, w)
        elif name in ("hang", "button"):
            self._queue_fault(vm, name, value, w)
        elif name == "reset":
            self.hard_reset("hard")
        elif name == "power-cut":
            self.power_cut(value)

    def _queue_fault(self, vm, name, value, w):
        key = W.FAULT_KEYS[name]
        rec = Rec(W.FAULT, key, 0, 0, w, int(min(value, 2 ** 31 - 1)), 0)
        if self.trace_world0 is not None and w > self.world_ms():
            self.sent.append(rec)
            self.sent = collections.deque(sorted(self.sent, key=lambda r: r.due))
        elif vm is not None and vm.urgent is not None:
            try:
                vm.urgent.sendall(W.pack_in(*rec[:7]))
            except OSError:
                pass
            return
        if vm is not None and vm.data is not None:
            self._send_raw(vm, rec)
