"""The carer's terminal (`pumpmon carer`): subscribes to monitors on an MQTT
broker (client.py), lets watch.py decide, and rings: the
terminal bell and, where `notify-send` exists, a desktop notification,
repeated until the alarm ends at the bedside. With --serve it first starts a
broker on this machine (broker.py). Plain lines, one per change, so it works
in any terminal, a log file or a pipe; --json gives JSON Lines.
"""
import json
import os
import queue
import shutil
import subprocess
import sys
import time

from host_tools.carer.client import Subscriber
from host_tools.carer.watch import CarerWatch


class Ringer:
    """The terminal bell and a desktop notification where one exists."""

    def __init__(self, out, notify=True):
        self.out = out
        self.notify = shutil.which("notify-send") if notify else None

    def ring(self, text, urgent):
        if self.out is not None:     # the terminal bell (not into JSON Lines)
            self.out.write("\a")
            self.out.flush()
        if self.notify:
            try:
                subprocess.Popen([self.notify, "-u", "critical" if urgent else "normal",
                                  "pumpmon", text], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            except OSError:
                self.notify = None

    def note(self, text):
        """A medium or low alarm: a notification without the bell."""
        if self.notify:
            try:
                subprocess.Popen([self.notify, "-u", "normal", "pumpmon", text],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError:
                self.notify = None


def run(host, port, monitors, user=None, password=None, tls=False, cafile=None,
        duration=None, as_json=False, out=sys.stdout, notify=True, contact=1):
    """Watch until Ctrl-C (or `duration` seconds). Returns 0. contact 2: the
    second contact, rung only when a monitor calls it (docs/carer.md)."""
    sub = Subscriber(host, port, user, password, tls, monitors or ("+",), cafile).start()
    watch = CarerWatch(monitors, contact)
    ringer = Ringer(None if as_json else out, notify)
    end = None if duration is None else time.monotonic() + duration
    shown = {}

    def say(kind, mid, text, **extra):
        if as_json:
            row = dict(kind=kind, monitor=mid, text=text, time=time.time(), **extra)
            out.write(json.dumps(row) + "\n")
        else:
            out.write("%s %s\n" % (time.strftime("%H:%M:%S"), text))
        out.flush()

    say("start", None, "pumpmon carer: watching %s on %s:%d%s%s" % (
        ", ".join(monitors) if monitors else "every monitor", host, port, " (TLS)" if tls else "",
        "" if contact == 1 else " as contact %d (rung when nobody answered)" % contact))
    try:
        while end is None or time.monotonic() < end:
            try:
                t, topic, payload = sub.messages.get(timeout=0.2)
            except queue.Empty:
                t = topic = None
            now = time.monotonic()
            if t is not None and topic is None:
                say("broker", None, "broker: %s (retrying)" % payload)
            elif topic is not None:
                v = watch.on_message(t, topic, payload)
                if v is not None:
                    line = watch.summary(v.id)
                    if shown.get(v.id) != line:
                        shown[v.id] = line
                        say("state", v.id, line, status=v.status, state=v.state)
            for mid, why, text in watch.check(now):
                say("ring", mid, "RING " + text, reason=why)
                ringer.ring(text, True)
            if contact == 1:
                for mid, alarm, text in watch.notes():
                    say("note", mid, "NOTE " + text, alarm=alarm)
                    ringer.note(text)
    except KeyboardInterrupt:
        pass
    finally:
        sub.stop()
    return 0


def password_from_env(name="PUMPMON_MQTT_PASSWORD"):
    return os.environ.get(name)
