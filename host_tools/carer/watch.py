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
Silencing stays at the bedside: nothing here changes the monitor.
"""
import json

RING_REPEAT_S = 15.0
ESCALATE_S = 600
STALE_FACTOR = 1.5


class MonitorView:
    def __init__(self, mid):
        self.id = mid
        self.status = None          # "online" / "offline" / None (not heard yet)
        self.state = None           # the last state message (dict)
        self.hb_at = None           # host time of the last heartbeat
        self.hb_up_s = None
        self.keepalive_s = None
        self.seen_at = None         # host time of any message

    def high_alarms(self):
        st = self.state or {}
        return sorted(k for k, a in st.get("alarms", {}).items()
                      if a.get("on") and a.get("priority") == "high")

    def unacked_for(self):
        """[(alarm, seconds shown unacknowledged)] by the monitor's uptime."""
        st = self.state or {}
        now_up = max(self.hb_up_s or 0, st.get("up_s") or 0)
        out = []
        for k, a in sorted(st.get("alarms", {}).items()):
            if a.get("on") and not a.get("acked") and "since_up_s" in a:
                out.append((k, now_up - a["since_up_s"]))
        return out

    def stale(self, now):
        if self.hb_at is None or not self.keepalive_s:
            return False
        return now - self.hb_at > STALE_FACTOR * self.keepalive_s


class CarerWatch:
    def __init__(self, monitors=None):
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
        elif leaf == "heartbeat":
            try:
                hb = json.loads(payload)
            except ValueError:
                return None
            v.hb_at = now
            v.hb_up_s = hb.get("up_s")
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
            for a in v.high_alarms():
                st = v.state["alarms"][a]
                out.append((mid, "alarm:" + a, "monitor %s: %s (%s, high priority)"
                            % (mid, a.upper(), st.get("cause"))))
            esc = (v.state or {}).get("escalated")
            high = v.high_alarms()
            for a, age in v.unacked_for():
                if (esc and a in high) if esc is not None else age >= ESCALATE_S:
                    out.append((mid, "escalate:" + a, "monitor %s: %s unacknowledged at the "
                                "bedside for %d min: ESCALATED" % (mid, a.upper(), age // 60)))
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
        v = self.views[mid]
        st = v.state or {}
        alarm = st.get("alarm", "not known yet")
        if alarm not in (None, "none", "not known yet"):
            alarm = "%s (%s, %s)" % (alarm, st.get("priority"), st.get("cause"))
        return "%s: %s, alarm %s" % (mid, v.status or "not heard yet", alarm)
