"""What the bedside shows now, rebuilt on the host from the board's event log
(the firmware's alarm-manager events, docs/log-format.md) with the firmware's
own rules (firmware/pumpmon/manager.py): which alarms are shown, latched or
acknowledged, whether the sound is paused and for how long, and each button
press. The light and the sound are then read from the pattern table
(view/words.py), not sampled from a blinking LED.
"""
import collections

from pumpmon.manager import REMIND_SOUND_MS

from pumpmon import alarms as A

from host_tools.view import words as W


class Alarm:
    __slots__ = ("alarm", "cause", "detail", "since_ms", "present", "acked", "remind_until")

    def __init__(self, alarm, cause, detail, since_ms):
        self.alarm, self.cause, self.detail, self.since_ms = alarm, cause, detail, since_ms
        self.present = True         # its condition holds (False: latched)
        self.acked = False
        self.remind_until = None    # a reminder's burst ends then (board ms)

    @property
    def priority(self):
        return W.priority(self.alarm, self.cause)

    @property
    def index(self):
        return W.condition_index(self.alarm, self.cause)

    @property
    def quiet(self):
        """Acknowledged, silent until the reminder (alarms.QUIET_MASK)."""
        i = self.index
        return i >= 0 and bool(A.QUIET_MASK & (1 << i))


class BedsideState:
    def __init__(self, cfg, recent=6):
        self.pause_ms = cfg.pause_ms
        self.long_ms = cfg.long_press_ms
        self.reminder_min = cfg.reminder_ms // 60000
        self.alarms = {}            # (alarm, cause) -> Alarm, in raise order
        self.paused_until = None    # board ms when the pause ends
        self.escalated = False      # manager.escalated: a high alarm unanswered too long
        # a carer answered "I am coming" over the link (log event carer_coming):
        # (board ms, contact) until every alarm has ended. The hook for a
        # display (firmware side: CarerLink.coming): show it beside the alarm;
        # it never changes the sound, the light or the escalation
        self.coming = None
        self.service = False
        self.refilling = False      # refill mode on (the board's refill input)
        self.recent = collections.deque(maxlen=recent)   # (when ms, text)

    # ---- input ----------------------------------------------------------------
    def event(self, e, when_ms):
        """One event of the board's log (a dict: event, alarm, cause, detail)."""
        ev = e.get("event")
        key = (e.get("alarm"), e.get("cause"))
        a = self.alarms.get(key)
        text = None
        if ev == "alarm_raised":
            self.alarms[key] = Alarm(key[0], key[1], e.get("detail", ""), when_ms)
            text = "ALARM %s: %s" % (key[0].replace("_", " "),
                                     W.describe(key[0], key[1], e.get("detail")))
        elif ev == "alarm_condition_cleared" and a:
            a.present = False
            text = "%s: the cause is gone; stays until acknowledged" % _name(key)
        elif ev == "alarm_cleared":
            self.alarms.pop(key, None)
            text = "%s ended" % _name(key)
            if e.get("detail") == "bad_config":
                text += " (the configuration is valid now)"
        elif ev == "alarm_acknowledged" and a:
            a.acked = True
            a.remind_until = None
            text = "%s acknowledged" % _name(key)
        elif ev == "escalated":
            self.escalated = True
            text = "ESCALATED: %s unanswered; faster and louder" % _name(key)
        elif ev == "audio_paused":
            self.paused_until = when_ms + self.pause_ms
            text = "sound paused for %s" % _mmss(self.pause_ms)
        elif ev == "audio_resumed":
            if self.paused_until is None:       # an hour's reminder: those that wait sound again
                for x in self.alarms.values():
                    if x.quiet and x.acked:
                        x.acked = False
                        # medium and low: one burst, then quiet again (manager.py)
                        x.remind_until = None if x.priority == "high" else \
                            when_ms + REMIND_SOUND_MS
            self.paused_until = None
            text = "sound on again"
        elif ev == "boot":
            self.paused_until = None            # a pause does not survive a reset
            self.escalated = False
            self.coming = None
            self.service = False
            text = "the monitor (re)started (%s)" % e.get("reset_cause", "?")
        elif ev == "monitoring_stopped":
            self.service = True
            text = "the monitor stopped for service"
        elif ev == "refill_start":
            self.refilling = True
            text = "REFILL: refill mode on, the reservoir is being refilled"
        elif ev == "refill_end":
            self.refilling = False
            text = "refill done: refill mode off, the new level is watched"
        elif ev == "carer_coming":
            contact = e.get("contact", 1)
            if self.alarms:
                self.coming = (when_ms, contact)
            text = "a carer is coming (contact %s, answered over the carers' link); the " \
                "alarm sounds until someone is here" % contact
        if not self.alarms:
            self.coming = None
        if self.escalated and not any(x.priority == "high" and not x.acked
                                      for x in self.alarms.values()):
            self.escalated = False              # manager.py: every high one answered
        if text:
            self.recent.append((when_ms, text))
        return text

    def press(self, when_ms, duration_ms):
        """A button press seen on the board's input (trace or fault)."""
        kind = "long press (acknowledge)" if duration_ms >= self.long_ms else \
            "short press (sound back on)" if self.paused_left(when_ms) else \
            "short press (pause)"
        text = "button: %s" % kind
        self.recent.append((when_ms, text))
        return text

    # ---- what to show -------------------------------------------------------------
    def shown(self):
        """The alarms shown, the annunciated one first (priority, then index)."""
        rank = {"high": 0, "medium": 1, "low": 2}
        return sorted(self.alarms.values(), key=lambda a: (rank[a.priority], a.index))

    def paused_left(self, now_ms):
        if self.paused_until is None or now_ms >= self.paused_until:
            return 0
        return self.paused_until - now_ms

    def light(self, led=None):
        """(colour, words, what it means). `led`: the colour the board shows
        now, only to tell a steady yellow without alarm (starting / service)."""
        shown = self.shown()
        if self.service:
            return "yellow", "yellow, steady", W.YELLOW_STATES["service"]
        if shown:
            top = shown[0]
            colour, words = W.light_words(W.kind_of(top.alarm, top.cause))
            meaning = W.PRIORITY_WORDS[top.priority]
            if words.endswith("steady") or top.priority == "low":   # the yellows: say which
                meaning = "%s alarm: %s" % (meaning, top.alarm.replace("_", " "))
            return colour, words, meaning
        if led in ("yellow", None):
            colour, words = W.light_words(A.KIND_STARTING)
            return colour, words, W.YELLOW_STATES["starting"]
        colour, words = W.light_words(A.KIND_NONE)
        return colour, words, "monitoring: all well"

    def sound(self, now_ms):
        """'sounding ...' / 'paused (1:42 left)' / 'silent ...'."""
        if self.service:
            return "steady service tone (not an alarm)"
        left = self.paused_left(now_ms)
        if left:
            return "paused (%s left)" % _mmss(left)
        for a in self.shown():              # a reminder's burst is over: quiet again
            if a.remind_until is not None and now_ms >= a.remind_until:
                a.acked, a.remind_until = True, None
        audible = [a for a in self.shown() if not (a.acked and a.quiet)]
        if audible:
            a = audible[0]
            return "sounding: %s melody, %s%s" % (
                a.alarm.replace("_", " "), W.PRIORITY_WORDS[a.priority],
                ", ESCALATED (faster, second sounder)" if self.escalated else "")
        if self.alarms:
            return "silent (acknowledged: sounds again within %d min if the cause stays)" \
                % self.reminder_min
        return "silent"

    def actions(self):
        """What the button does now, in words (manager.py's rules)."""
        shown = self.shown()
        if not shown:
            return ["No alarm: nothing to press."]
        pause = _mmss(self.pause_ms)
        if self.paused_until is not None:
            out = ["Short press: the sound back on now (it is paused)."]
        else:
            out = ["Short press: pauses the sound %s; the light stays; a new alarm sounds."
                   % pause]
        todo = [a for a in shown if not a.acked]
        if not todo:
            out.append("Every alarm is acknowledged: deal with its cause.")
            return out
        clear = [_name((a.alarm, a.cause)) for a in todo if not a.present]
        pauses = [_name((a.alarm, a.cause)) for a in todo
                  if a.present and a.priority == "high" and not a.quiet]
        quiet = [_name((a.alarm, a.cause)) for a in todo
                 if a.present and (a.priority != "high" or a.quiet)]
        parts = []
        if clear:
            parts.append("ends %s (cause gone)" % _few(clear))
        if pauses:
            parts.append("only pauses %s %s (still a danger)" % (_few(pauses), pause))
        if quiet:
            parts.append("quiets %s for up to %d min" % (_few(quiet), self.reminder_min))
        out.append("Long press (hold %.0f s): acknowledges: %s." % (
            self.long_ms / 1000.0, "; ".join(parts)))
        return out


def _few(names):
    return ", ".join(names) if len(names) <= 2 else "%d alarms" % len(names)


def _name(key):
    return W.short(*key)


def _mmss(ms):
    s = (ms + 999) // 1000
    return "%d:%02d" % (s // 60, s % 60)


def presses(samples):
    """[(t_ms at release, duration ms)] of the button presses in trace samples
    ((t_ms, level, flow, flags, button, refill) tuples)."""
    out = []
    down = None
    for s in samples:
        t, btn = s[0], s[4]
        if btn and down is None:
            down = t
        elif not btn and down is not None:
            out.append((t, t - down))
            down = None
    return out

