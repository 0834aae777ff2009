# Alarm management: turns the engine's condition mask and the button into
# alarm states and events (IEC 60601-1-8 behaviour):
# - a condition that starts raises its alarm; a high-priority alarm latches
#   until acknowledged even when its condition clears (the clearing is logged);
# - short press: audio paused for pause_s (the light keeps signalling); a
#   persisting alarm sounds again after it; a new alarm ends the pause, and so
#   does a short press while paused (the sound back on at once, audio_resumed);
# - long press: acknowledges every shown alarm. A latched alarm whose condition
#   has gone is cleared; a high-priority alarm whose condition persists is
#   only paused, never silenced for good; a medium one is silent (light on)
#   until its condition ends or reminder_ms (1 h) has passed: then it sounds
#   again (audio_resumed) for one burst and is quiet again for another
#   reminder_ms unless acknowledged meanwhile; so does the lost carers' link;
#   an acknowledged level sensor fault (high) reminds the same way but sounds
#   until acknowledged again (alarms.QUIET_MASK, docs/alarm-policy.md);
# - refill_today does not latch (alarms.LATCH_MASK): only a real refill ends it;
# - escalation: a high-priority alarm shown and not acknowledged for
#   escalation_ms (10 min, settable 5-10) sets `escalated` (event
#   `escalated`): the annunciator plays the faster escalated burst and the
#   board's second sounder joins in (docs/alarm-policy.md). It is the one
#   escalation timer: the carers' tools read it. A pause does not stop it (a
#   short press is not an acknowledgement); only acknowledging every high alarm
#   shown (or their clearing) ends it.
from pumpmon import alarms as A
from pumpmon.clock import ticks_add, ticks_diff

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# event codes (names in events.py)
EV_RAISED = const(1)
EV_CONDITION_CLEARED = const(2)   # condition ended, alarm still latched
EV_CLEARED = const(3)
EV_ACKNOWLEDGED = const(4)
EV_PAUSED = const(5)
EV_RESUMED = const(6)
EV_ESCALATED = const(7)   # a high alarm unacknowledged for escalation_ms

_MIN_PRESS_MS = const(30)
# the escalation timer in the state file: seconds it has run; ESC_DONE once
# the alarm escalated (statefile.py)
ESC_DONE = const(0xFFFF)
# a reminder of an acknowledged medium (or low technical) alarm sounds this
# long, one burst of the medium pattern (patterns.REPEAT_MEDIUM), then is quiet
# again for another reminder_ms unless acknowledged meanwhile: like the
# implanted pump's hourly tone, it needs no press (docs/alarm-policy.md). A
# high one (the level sensor fault) sounds until acknowledged again.
REMIND_SOUND_MS = const(15000)


class AlarmManager:
    def __init__(self, cfg, emit):
        """emit(code, condition) is called for every event (-1: no condition)."""
        self._emit = emit
        self._pause_ms = cfg.pause_ms
        self._long_ms = cfg.long_press_ms
        self.cond = 0        # condition mask last seen
        self.shown = 0       # alarms active: condition present or latched
        self.acked = 0       # acknowledged among shown
        self.paused = 0
        self._pause_end = 0
        self._btn = 0
        self._press_t = 0
        self._long_done = 0
        self._remind_ms = cfg.reminder_ms
        self._remind = 0     # 1 while the reminder of acknowledged medium alarms runs
        self._remind_end = 0
        self._burst = 0      # reminded alarms that go quiet again after REMIND_SOUND_MS
        self._burst_end = 0
        self._esc_ms = cfg.escalation_ms
        self._esc_on = 0     # 1 while an unacknowledged high alarm is shown
        self._esc_t = 0      # ... since then
        self.escalated = 0   # 1: unacknowledged for escalation_ms (the escalated signal)
        self.idle = 0        # 1: an update with the same conditions, no button, does nothing

    def update(self, now, cond, button):
        changed = cond ^ self.cond
        if changed:
            self._conditions(cond, changed)
        if button != self._btn:
            self._btn = button
            if button:
                self._press_t = now
                self._long_done = 0
            elif not self._long_done and ticks_diff(now, self._press_t) >= _MIN_PRESS_MS:
                if self.paused:
                    self.resume()
                else:
                    self.pause(now)
        elif button and not self._long_done and ticks_diff(now, self._press_t) >= self._long_ms:
            self._long_done = 1
            self.acknowledge(now)
        if self.paused and ticks_diff(now, self._pause_end) >= 0:
            self.paused = 0
            if self.shown:
                self._emit(EV_RESUMED, -1)
        # the two timers only when one can act (the call itself costs a tick
        # more than the test: replay and the board's loop run this every step)
        busy = button or self.paused
        if self._burst or self._remind or self.acked & A.REMIND_MASK:
            self._reminder(now)
            busy = 1
        if self._esc_on or self.escalated or self.shown & ~self.acked & A.HIGH_MASK:
            self._escalation(now)
            busy = 1
        # idle: another update with the same conditions and no button does
        # nothing (no press, no pause, no timer): Monitor.poll may skip it
        self.idle = 0 if busy else 1

    def _escalation(self, now):
        """The one escalation timer: from the moment a high-priority alarm is
        shown unacknowledged (or restored so at boot) until no unacknowledged
        high alarm is left."""
        un = self.shown & ~self.acked & A.HIGH_MASK
        if not un:
            self._esc_on = 0
            self.escalated = 0
        elif not self._esc_on:
            self._esc_on = 1
            self._esc_t = now
        elif not self.escalated and ticks_diff(now, self._esc_t) >= self._esc_ms:
            self.escalated = 1
            self._emit(EV_ESCALATED, A.top_condition(un))

    def _reminder(self, now):
        """An acknowledged medium alarm sounds again reminder_ms after the
        first acknowledgement still standing (a later one never delays it; a
        restored one counts from boot): never silent for more than an hour."""
        b = self._burst
        if b and ticks_diff(now, self._burst_end) >= 0:
            self._burst = 0
            self.acked |= b & self.shown   # unanswered: quiet again, the next one in reminder_ms
        am = self.acked & A.REMIND_MASK
        if not am:
            self._remind = 0
        elif not self._remind:
            self._remind = 1
            self._remind_end = ticks_add(now, self._remind_ms)
        elif ticks_diff(now, self._remind_end) >= 0:
            self._remind = 0
            self.acked &= ~am
            self._burst = am & ~A.HIGH_MASK
            self._burst_end = ticks_add(now, REMIND_SOUND_MS)
            if not self.paused:
                self._emit(EV_RESUMED, -1)

    def _conditions(self, cond, changed):
        self.cond = cond
        emit = self._emit
        i = 0
        while changed:
            if changed & 1:
                bit = 1 << i
                if cond & bit:
                    if not self.shown & bit:
                        self.shown |= bit
                        self.acked &= ~bit
                        emit(EV_RAISED, i)
                        if self.paused:  # a new alarm must be heard
                            self.paused = 0
                            emit(EV_RESUMED, -1)
                elif self.shown & bit:
                    if bit & A.LATCH_MASK and not self.acked & bit:
                        emit(EV_CONDITION_CLEARED, i)
                    else:
                        self._clear(bit, i)
            changed >>= 1
            i += 1

    def _clear(self, bit, i):
        self.shown &= ~bit
        self.acked &= ~bit
        self._emit(EV_CLEARED, i)

    def pause(self, now):
        """Short press: pause the sound (only while an alarm is shown)."""
        if not self.shown:
            return
        self.paused = 1
        self._pause_end = ticks_add(now, self._pause_ms)
        self._emit(EV_PAUSED, -1)

    def resume(self):
        """Short press while paused: the sound back on at once."""
        self.paused = 0
        if self.shown:
            self._emit(EV_RESUMED, -1)

    def acknowledge(self, now):
        """Long press: acknowledge every shown alarm."""
        todo = self.shown & ~self.acked
        if not todo:
            return
        i = 0
        while todo:
            if todo & 1:
                bit = 1 << i
                self.acked |= bit
                self._emit(EV_ACKNOWLEDGED, i)
                if not self.cond & bit:  # latched, condition gone: clear
                    self._clear(bit, i)
            todo >>= 1
            i += 1
        if self.shown & A.HIGH_MASK:
            self.pause(now)

    def restore(self, shown, acked, esc_s=0, now=0):
        """Alarm state from before a reset (conditions re-evaluated later).
        esc_s: how long the escalation timer had run (escalation_s()): a
        reset never starts it again from zero, or a board that resets every
        few minutes would never escalate; it runs on from where it stood
        (the time off not counted), and an alarm escalated before escalates
        again at the first poll."""
        self.shown = shown
        self.acked = acked & shown
        if esc_s and shown & ~self.acked & A.HIGH_MASK:
            self._esc_on = 1
            self._esc_t = ticks_add(now, -(self._esc_ms if esc_s == ESC_DONE else esc_s * 1000))

    def escalation_s(self, now):
        """How long the escalation timer has run, in s, for the state file:
        0 when it does not run, ESC_DONE once escalated."""
        if self.escalated:
            return ESC_DONE
        if not self._esc_on:
            return 0
        s = ticks_diff(now, self._esc_t) // 1000
        return s if s < ESC_DONE else ESC_DONE - 1

    def sound_kind(self):
        """Alarm kind to sound now, or KIND_NONE."""
        if self.paused:
            return A.KIND_NONE
        audible = self.shown & ~(self.acked & A.QUIET_MASK)
        c = A.top_condition(audible)
        return A.KIND_NONE if c < 0 else A.TABLE[c][0]

    def light_kind(self):
        c = A.top_condition(self.shown)
        return A.KIND_NONE if c < 0 else A.TABLE[c][0]

