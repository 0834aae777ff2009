"""What `pumpmon carer` decides (docs/carer.md), from the monitors' messages
and a clock, with no I/O: feed it messages (on_message) and ask it what to
announce (check). One MonitorView per monitor id.

- a high-priority alarm rings, and rings again every RING_REPEAT_S until it
  ends at the bedside (the monitor's state says so);
- a monitor that goes `offline` (the broker's Last Will) or whose heartbeat
  is older than 1.5 keep-alive periods is itself an alarm: the carer no
  longer hears that bedside;
- an alarm escalates here when the monitor says it escalated at the bedside
  (the state's `escalated`: the monitor's one escalation timer,
  `escalation_min`, docs/alarm-policy.md); only a monitor whose state does not
  carry it (older firmware) is timed here: unacknowledged for ESCALATE_S by
  its own uptime.
Every alarm is shown the moment its state arrives (summary: every alarm on,
in the bedside view's words, acknowledged or not, who is coming); which
priorities ring is the policy of docs/carer.md: high rings at once and again
every RING_REPEAT_S; medium and low are shown and notified at once without
the bell (notes). A second contact (contact=2) rings only when the monitor
calls it: its escalation topic (an escalated alarm nobody answered).
Silencing stays at the bedside: nothing here changes the monitor.
"""
import json

from host_tools.view import words as W

RING_REPEAT_S = 15.0
ESCALATE_S = 600
STALE_FACTOR = 1.5
RESTART_S = 10      # the uptime went back by more: the monitor restarted


class MonitorView:
    def __init__(self, mid):
        self.id = mid
        self.status = None          # "online" / "offline" / None (not heard yet)
        self.state = None           # the last state message (dict)
        self.hb_at = None           # host time of the last heartbeat
        self.hb_up_s = None
        self.keepalive_s = None
        self.seen_at = None         # host time of any message
        self.up_s = None            # the monitor's uptime in its newest message
        self.boots = 0              # restarts seen (its uptime went back)
        self.escalation = None      # the last escalation message (dict): the second contact

    def _uptime(self, up):
        """The monitor's uptime from a message: the newest one counts, and
        an uptime that went back is a restart (never the older, larger one)."""
        if not isinstance(up, (int, float)):
            return
        if self.up_s is None or up < self.up_s - RESTART_S:
            if self.up_s is not None:
                self.boots += 1
            self.up_s = up
        else:                       # the same run (messages may cross by a second)
            self.up_s = max(self.up_s, up)

    def high_alarms(self):
        st = self.state or {}
        return sorted(k for k, a in st.get("alarms", {}).items()
                      if a.get("on") and a.get("priority") == "high")

    def unacked_for(self):
        """[(alarm, seconds shown unacknowledged)] by the monitor's uptime."""
        st = self.state or {}
        now_up = self.up_s if self.up_s is not None else (st.get("up_s") or 0)
        out = []
        for k, a in sorted(st.get("alarms", {}).items()):
            if a.get("on") and not a.get("acked") and "since_up_s" in a:
                # a state from before a restart may name a later uptime: 0
                out.append((k, max(0, now_up - a["since_up_s"])))
        return out

    def alarms_on(self):
        """[(alarm, its entry)] of every alarm shown at the bedside, high first."""
        st = self.state or {}
        rank = {"high": 0, "medium": 1, "low": 2}
        on = [(k, a) for k, a in st.get("alarms", {}).items() if a.get("on")]
        return sorted(on, key=lambda x: (rank.get(x[1].get("priority"), 0), x[0]))

    def stale(self, now):
        if self.hb_at is None or not self.keepalive_s:
            return False
        return now - self.hb_at > STALE_FACTOR * self.keepalive_s


class CarerWatch:
    def __init__(self, monitors=None, contact=1):
        self.contact = contact      # 1: the first carer; 2: the second contact
        self._noted = set()
        self.views = {}
        for m in monitors or ():
            if m != "+":
                self.views[m] = MonitorView(m)
        self._rung = {}             # (monitor, reason) -> host time last rung

    def on_message(self, now, topic, payload):
        """A message from the broker; returns the MonitorView it changed."""
        parts = topic.split("/")
        if len(parts) != 3 or parts[0] != "pumpmon":
            return None
        mid, leaf = parts[1], parts[2]
        v = self.views.setdefault(mid, MonitorView(mid))
        v.seen_at = now
        if leaf == "status":
            v.status = payload.strip()
            if v.status == "online" and v.hb_at is None:
                v.hb_at = now       # the heartbeat clock starts at online
        elif leaf == "state":
            try:
                v.state = json.loads(payload)
            except ValueError:
                return None
            v._uptime(v.state.get("up_s"))
        elif leaf == "escalation":
            try:
                v.escalation = json.loads(payload)
            except ValueError:
                return None
        elif leaf == "heartbeat":
            try:
                hb = json.loads(payload)
            except ValueError:
                return None
            v.hb_at = now
            v.hb_up_s = hb.get("up_s")
            v._uptime(v.hb_up_s)
            v.keepalive_s = hb.get("keepalive_s")
            if v.status is None:
                v.status = "online"
        return v

    def reasons(self, now):
        """[(monitor, reason, text)] standing now."""
        out = []
        for mid in sorted(self.views):
            v = self.views[mid]
            if v.status == "offline":
                out.append((mid, "offline", "monitor %s is OFFLINE: its alarms are not heard "
                            "here; go to the bedside" % mid))
            elif v.stale(now):
                out.append((mid, "stale", "monitor %s: no heartbeat for %.0f s (keep-alive "
                            "%s s): go to the bedside" % (mid, now - v.hb_at, v.keepalive_s)))
            if self.contact != 1:
                e = v.escalation or {}
                if e.get("call") and v.status != "offline":
                    out.append((mid, "second:" + str(e.get("alarm")), "monitor %s: %s "
                                "escalated and NO carer answered: you are the second contact, "
                                "go to the bedside" % (mid, alarm_words(e.get("alarm"),
                                                                        e.get("cause")))))
                continue
            for a in v.high_alarms():
                out.append((mid, "alarm:" + a, "monitor %s: %s" % (
                    mid, alarm_line(a, v.state["alarms"][a]))))
            esc = (v.state or {}).get("escalated")
            high = v.high_alarms()
            for a, age in v.unacked_for():
                if (esc and a in high) if esc is not None else age >= ESCALATE_S:
                    out.append((mid, "escalate:" + a, "monitor %s: %s unacknowledged at the "
                                "bedside for %d min: ESCALATED" % (
                                    mid, alarm_words(a, v.state["alarms"][a].get("cause")),
                                    age // 60)))
        return out

    def notes(self):
        """[(monitor, alarm, text)] of medium and low alarms newly on: shown and
        notified once, without the bell (docs/carer.md: what rings)."""
        out = []
        now_on = set()
        for mid in sorted(self.views):
            for a, e in self.views[mid].alarms_on():
                if e.get("priority") == "high":
                    continue
                key = (mid, a, e.get("since_up_s"))
                now_on.add(key)
                if key not in self._noted:
                    out.append((mid, a, "monitor %s: %s" % (mid, alarm_line(a, e))))
        self._noted = now_on
        return out

    def check(self, now):
        """The reasons to ring now: each new one at once, each standing one
        again every RING_REPEAT_S; an ended one is forgotten."""
        ring = []
        standing = set()
        for mid, why, text in self.reasons(now):
            key = (mid, why)
            standing.add(key)
            last = self._rung.get(key)
            if last is None or now - last >= RING_REPEAT_S:
                self._rung[key] = now
                ring.append((mid, why, text))
        for key in list(self._rung):
            if key not in standing:
                del self._rung[key]
        return ring

    def summary(self, mid):
        """One line: the monitor, and every alarm it shows in the bedside
        view's words (acknowledged at the bedside or not), who is coming."""
        v = self.views[mid]
        st = v.state
        head = "%s: %s" % (mid, v.status or "not heard yet")
        if st is None:
            return head + ", alarms not known yet"
        on = v.alarms_on()
        if not on:
            return head + ", no alarm"
        parts = [alarm_line(a, e) for a, e in on]
        tail = ""
        if st.get("escalated"):
            tail += "; ESCALATED at the bedside"
        c = st.get("coming")
        if isinstance(c, dict):
            tail += "; carer %s is coming" % c.get("contact")
        return "%s, %s%s" % (head, " | ".join(parts), tail)


def alarm_words(alarm, cause, detail=None):
    """An alarm as the bedside view says it (host_tools/view/words.py)."""
    if not alarm or alarm == "none":
        return "no alarm"
    return "%s: %s" % (alarm.replace("_", " ").upper(), W.describe(alarm, cause, detail))


def alarm_line(alarm, entry):
    """An alarm of the state message: words, priority, acknowledged, action."""
    prio = entry.get("priority") or W.priority(alarm, entry.get("cause"))
    acked = " (acknowledged at the bedside)" if entry.get("acked") else ""
    return "%s [%s]%s: %s" % (alarm_words(alarm, entry.get("cause"), entry.get("detail")),
                              W.PRIORITY_WORDS.get(prio, prio), acked,
                              W.CARER_ACTION.get(prio, ""))
