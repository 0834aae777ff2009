# What the carers' link says and hears once connected (docs/carer.md): the
# messages it publishes (alarm state and its clearing, the second contact's
# call: QoS 1 and retained; status, discovery, heartbeat: QoS 0), the QoS 1
# acknowledgements (PUBACK) and retransmissions, all without waiting, and
# the carers' "I am coming" (a PUBLISH on pumpmon/<id>/coming), which is
# logged (eventlog.CARER_COMING), shown at the bedside and published back in
# the state; it never silences the bedside nor stops the bedside escalation.
# link.py owns the connection; this owns the messages. Polled from the loop.
import json

from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon.clock import ticks_add, ticks_diff

from carerlink import packets as P
from carerlink import topics as T
from carerlink.wire import LinkError

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MAX_PUBLISH = const(1)       # messages handed to the wire per loop pass
MAX_TRIES = const(4)         # sends of one QoS 1 message on one connection
MAX_CONTACT = const(9)


def escalation_state(runner):
    """The bedside's escalation (the one timer: manager.escalated, set when a
    high-priority alarm stays unacknowledged for escalation_min): 0 or 1.
    The one place the link reads it."""
    return 1 if runner.monitor.manager.escalated else 0


class Channel:
    def __init__(self, runner, nid, keep_ms):
        self.r = runner
        self.nid = nid
        self.keep_ms = keep_ms
        self.ack_ms = max(keep_ms // 2, 2000)   # a QoS 1 message unanswered: sent again
        # (topic, payload, retain, qos) to publish; a discovery message is
        # queued as (its index, None, True, 0) and built when its turn comes
        self.queue = []
        self.inflight = {}           # topic -> [pid, payload, retain, sent ms, sends]
        self.pid = 0
        self.dirty = 1               # the alarm state changed: publish it
        self.hb = 0
        self.coming = None           # (contact, board uptime s): a carer is coming
        self.call = -1               # the second contact's call last published (-1: none yet)
        self.subscribed = 0
        self.published = 0           # messages handed to the broker (bench, tests)
        self.acked = 0               # QoS 1 messages the broker acknowledged
        # the broker has acknowledged (PUBACK) on this connection, and none of
        # ours has waited for it longer than ack_ms since: only then is the
        # link up for the bedside and for the back-off (link.py); a broker
        # that takes the connection but never answers is a lost link
        self.confirmed = 0
        self.resent = 0

    # ---- a new connection -----------------------------------------------------
    def online(self, now, wire):
        self.queue = [(T.topic(self.nid, "status"), T.ONLINE, True, 0)]
        for i in range(T.N_DISCOVERY):
            self.queue.append((i, None, True, 0))
        self.inflight = {}           # a clean session: the state is sent afresh
        self.confirmed = 0
        self.dirty = 1
        self.call = -1
        self.subscribed = 0
        self.hb = ticks_add(now, -self.keep_ms)     # a heartbeat at once
        wire.write(P.subscribe(self._next_pid(), T.topic(self.nid, "coming").encode(), 1))

    def _next_pid(self):
        self.pid = self.pid % 65535 + 1
        return self.pid

    # ---- each pass while connected ---------------------------------------------
    def step(self, now, wire, client):
        mg = self.r.monitor.manager
        if not mg.shown:
            self.coming = None       # the alarm is over: the next one is unanswered
        if self.dirty:
            self.dirty = 0
            self.queue.append((T.topic(self.nid, "state"), self.state_msg(), True, 1))
        call = self.second_call()
        if call != self.call:
            self.call = call
            self.queue.append((T.topic(self.nid, "escalation"), self.escalation_msg(call),
                               True, 1))
        if ticks_diff(now, self.hb) >= self.keep_ms // 2:
            self.hb = now
            self.queue.append((T.topic(self.nid, "heartbeat"),
                               T.heartbeat(self.r.up_s, self.keep_ms // 1000), False, 0))
            client.ping()
        for t in self.inflight:
            e = self.inflight[t]
            if ticks_diff(now, e[3]) > self.ack_ms:
                if e[4] >= MAX_TRIES:
                    raise LinkError("no PUBACK from the broker", 110)
                self.confirmed = 0   # unanswered: not up until it answers
                P.write_publish(wire, t.encode(), e[1], e[2], 1, e[0], 1)
                e[3] = now
                e[4] += 1
                self.resent += 1
                return               # one send per pass
        n = 0
        while self.queue and n < MAX_PUBLISH:
            t, p, retain, qos = self.queue.pop(0)
            if p is None:
                t, p = T.discovery_one(self.nid, t)
            pb = p.encode()
            pid = 0
            if qos:
                # a newer message on the topic replaces one still unanswered
                pid = self._next_pid()
                self.inflight[t] = [pid, pb, retain, now, 1]
            P.write_publish(wire, t.encode(), pb, retain, qos, pid)
            self.published += 1
            n += 1

    def second_call(self):
        """1 while the second contact is called: the bedside has escalated and
        no carer has answered "I am coming"."""
        return 1 if escalation_state(self.r) and self.coming is None else 0

    # ---- what the broker sends ---------------------------------------------------
    def packet(self, buf, i, end, wire, now):
        op = buf[0] & 0xF0
        if op == P.PUBACK:
            pid = P.pid_of(buf, i)
            for t in self.inflight:
                if self.inflight[t][0] == pid:
                    del self.inflight[t]
                    self.acked += 1
                    self.confirmed = 1
                    break
        elif op == P.SUBACK:
            self.subscribed = 1 if end > i + 2 and buf[i + 2] != 0x80 else 0
        elif op == P.PUBLISH:
            topic, payload, qos, pid, retained = P.incoming(buf, i, end)
            if qos:
                wire.write(P.puback(pid))
            if not retained and topic == T.topic(self.nid, "coming"):
                self.on_coming(payload)

    def on_coming(self, payload):
        """A carer answered "I am coming" (JSON {"contact": n, ...}, or
        anything: contact 1). Logged, shown at the bedside, published back;
        the bedside's sound, light and escalation go on unchanged."""
        contact = 1
        try:
            v = json.loads(payload)
            c = v.get("contact", 1) if isinstance(v, dict) else 1
            if isinstance(c, int) and 0 < c <= MAX_CONTACT:
                contact = c
        except (ValueError, TypeError):
            pass
        r = self.r
        shown = r.monitor.manager.shown
        top = A.top_condition(shown) if shown else -1
        if shown:
            self.coming = (contact, r.up_s)
        self.dirty = 1
        print("pumpmon: carer link: contact %d is coming%s" % (
            contact, "" if shown else " (no alarm shown)"))
        try:
            r.write(L.CARER_COMING, top if top >= 0 else L.NO_COND, contact,
                    escalation_state(r))
        except Exception:
            pass

    # ---- the messages ----------------------------------------------------------------
    def state_msg(self):
        r = self.r
        mg = r.monitor.manager
        lk = r.carer
        return T.state(mg.shown, mg.acked, mg.paused, lk.since, r.up_s, r.wall_now(),
                       lk.detail, escalation_state(r), self.coming)

    def escalation_msg(self, call):
        mg = self.r.monitor.manager
        top = A.top_condition(mg.shown) if mg.shown else -1
        return T.escalation(call, top, self.r.up_s, self.coming)
