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
            for leaf in ("status", "state", "heartbeat"):
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
        from amqtt.client import MQTTClient
        while not self._stop.is_set():
            cfg = {"auto_reconnect": False}
            if self.tls and not self.cafile:      # a broker with a self-signed certificate
                cfg.update(check_hostname=False, verify_cert=False)
            c = MQTTClient(config=cfg)
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
