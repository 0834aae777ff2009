# The monitor's pure core: engine + alarm management + annunciation, stepped
# with a wrapping ms clock and plain numbers. The board shell (main.py) and
# the host replay both drive this same object; neither adds logic of its own.
from pumpmon import alarms as A
from pumpmon.annunciator import Annunciator
from pumpmon.engine import Engine
from pumpmon.manager import EV_RAISED, AlarmManager

_NO_FLOW_BIT = 1 << A.NO_FLOW


class Monitor:
    def __init__(self, cfg, now, on_event, tod_s=None):
        """on_event(code, condition, detail) receives every event."""
        self._on_event = on_event
        self.engine = Engine(cfg, now, tod_s)
        self.manager = AlarmManager(cfg, self._emit)
        self.ann = Annunciator(now)
        self.internal = 0           # condition mask bit of INTERNAL when set
        self.internal_detail = 0
        self.restored = 0           # restored high alarms not yet judged again
        self.interrupted = 0        # condition bit of INTERRUPTED until acknowledged
        self.carer_link = 0         # condition bit of CARER_LINK while the link is down
        # a pump stopped by a clinician: its own indication for as long as the
        # configuration says so (rate 0: the engine judges no stop; it still
        # judges the sensors, over-delivery and the level)
        self.stopped = (1 << A.PUMP_STOPPED) if cfg.pump_stopped else 0
        # the sound and light kinds, pure functions of the manager's shown,
        # acked and paused: worked out again only when one of them changes
        self._k_shown = -1
        self._k_acked = 0
        self._k_paused = 0
        self._sound = A.KIND_NONE
        self._light = A.KIND_NONE
        # what poll() saw when nothing could change (the manager idle, the
        # annunciator still): the same again with no button skips the pass
        self._idle_key = -1

    def _emit(self, code, cond):
        detail = 0
        if code == EV_RAISED:
            detail = self.internal_detail if cond == A.INTERNAL else self.engine.detail[cond]
        self._on_event(code, cond, detail)

    def fault(self, detail):
        """A firmware fault: raise malfunction/internal (it latches)."""
        self.internal_detail = detail
        self.internal = 1 << A.INTERNAL

    def clear_fault(self):
        self.internal = 0

    def interrupt(self):
        """Monitoring was off (a reset, a power cut): the low-priority
        monitoring_interrupted alarm, present until acknowledged."""
        self.interrupted = 1 << A.INTERRUPTED

    def link_lost(self, lost):
        """Set by the carers' link (firmware/carerlink/, outside the tick
        path): the low-priority carer_link indication while it is down."""
        self.carer_link = (1 << A.CARER_LINK) if lost else 0

    def restore(self, shown, acked, esc_s=0, now=0):
        """Alarms shown before a reset (esc_s: the escalation timer's, see
        manager.restore). A restored high-priority alarm counts
        as present until the engine has judged its condition again (the flow
        window takes 10 minutes to fill), so an acknowledgement meanwhile
        pauses it like any persisting danger instead of clearing it."""
        # pump_stopped is the configuration's, never restored: it is raised
        # (and logged) afresh at every boot while the configuration says so
        keep = ~(1 << A.PUMP_STOPPED)
        shown &= keep
        self.manager.restore(shown, acked & keep, esc_s, now)
        self._idle_key = -1         # the manager changed: poll afresh
        self.restored = shown & A.HIGH_MASK & ~(1 << A.INTERNAL)

    def step(self, now, level_ul, flow, flags, button, refill):
        try:
            self.engine.tick(now, level_ul, flow, flags, refill)
        except Exception:
            # never silence: an engine fault is itself an alarm
            if not self.internal:
                self.fault(A.D_EXCEPTION)
        self.poll(now, button)

    def poll(self, now, button):
        """Between sensor samples: the button, pause timing, sound and light."""
        m = self.manager
        e = self.engine
        cond = e.conditions | self.internal | self.interrupted | self.carer_link | self.stopped
        r = self.restored
        if r:
            r &= ~e.judged
            self.restored = r
            cond |= r
        # (the light below also depends on whether the flow was judged)
        key = cond | (e.judged & _NO_FLOW_BIT) << 24
        if key == self._idle_key and not button and m.shown == self._k_shown \
                and m.acked == self._k_acked and m.paused == self._k_paused:
            # as the last pass, which changed nothing; the manager's state is
            # compared too, so that a change made from outside a pass (boot's
            # restore, a fixed configuration's cleared latch) is never skipped
            return
        m.update(now, cond, button)
        if self.interrupted & m.acked:
            self.interrupted = 0    # acknowledged: it clears at the next pass
        if m.shown != self._k_shown or m.acked != self._k_acked or m.paused != self._k_paused:
            self._k_shown = m.shown
            self._k_acked = m.acked
            self._k_paused = m.paused
            self._sound = m.sound_kind()
            self._light = m.light_kind()
        light = self._light
        if light == A.KIND_NONE and not e.judged & _NO_FLOW_BIT:
            light = A.KIND_STARTING   # flow not judged yet: not green
        self.ann.update(now, self._sound, light, m.escalated)
        self._idle_key = key if m.idle and self.ann.still else -1
