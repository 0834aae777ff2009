"""The carer's MQTT subscription: amqtt's client (pinned in requirements.txt)
in a thread of its own, handing every message to a queue as
(monotonic time, topic, payload text). It reconnects by itself when the
broker goes away and comes back.
"""
import asyncio
import queue
import threading
import time

from carerlink import topics as T


class Subscriber:
    def __init__(self, host="127.0.0.1", port=1883, user=None, password=None, tls=False,
                 monitors=("+",), cafile=None):
        self.url = "%s://%s%s:%d/" % ("mqtts" if tls else "mqtt",
                                      ("%s:%s@" % (user, password)) if user else "", host, port)
        self.tls = tls
        self.cafile = cafile
        self.topics = []
        for m in monitors:
            for leaf in ("status", "state", "heartbeat", "escalation"):
                self.topics.append(T.topic(m, leaf))
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.error = None
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="carer-mqtt", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self):
        asyncio.run(self._main())

    async def _main(self):
        while not self._stop.is_set():
            c = _client(self.tls, self.cafile)
            try:
                await asyncio.wait_for(c.connect(self.url, cafile=self.cafile), 10)
                await c.subscribe([(t, 0) for t in self.topics])
                self.connected.set()
                self.error = None
                while not self._stop.is_set():
                    try:
                        m = await c.deliver_message(timeout_duration=0.2)
                    except asyncio.TimeoutError:
                        continue
                    if m is None:
                        continue
                    self.messages.put((time.monotonic(), m.topic,
                                       bytes(m.data).decode("utf-8", "replace")))
            except Exception as e:  # noqa: BLE001 - the broker went: say so, try again
                self.connected.clear()
                self.error = "%s: %s" % (type(e).__name__, e)
                self.messages.put((time.monotonic(), None, self.error))
                await asyncio.sleep(1.0)
            finally:
                try:
                    await c.disconnect()
                except Exception:  # noqa: BLE001
                    pass


def _client(tls, cafile):
    from amqtt.client import MQTTClient
    cfg = {"auto_reconnect": False}
    if tls and not cafile:      # a broker with a self-signed certificate
        cfg.update(check_hostname=False, verify_cert=False)
    return MQTTClient(config=cfg)


def send_coming(host, port, monitor, contact=1, user=None, password=None, tls=False,
                cafile=None, timeout=10.0):
    """Publish "I am coming" to a monitor (QoS 1, not retained: an old answer
    must never be replayed to a later alarm); returns once the broker has it.
    The monitor logs it, shows it at the bedside and in its state; it never
    silences the bedside nor stops its escalation."""
    import json
    url = "%s://%s%s:%d/" % ("mqtts" if tls else "mqtt",
                             ("%s:%s@" % (user, password)) if user else "", host, port)

    async def go():
        c = _client(tls, cafile)
        await asyncio.wait_for(c.connect(url, cafile=cafile), timeout)
        try:
            await asyncio.wait_for(c.publish(T.topic(monitor, "coming"), json.dumps(
                {"contact": contact}).encode(), qos=1, retain=False), timeout)
        finally:
            await c.disconnect()
    asyncio.run(go())
