"""`pumpmon run` (unless --no-carer): the carer's side of the demo. A broker on this
machine (broker.py), the monitor's configuration pointed at it, and the same
decisions as `pumpmon carer` (watch.py) read in-process, as lines the run's
panel prints above itself: a carer in another room learns of the demo's
occlusion, and of the board being killed (`c` in the panel: a power cut)."""
import time

from host_tools.carer.broker import Broker
from host_tools.carer.client import Subscriber
from host_tools.carer.watch import CarerWatch

MONITOR = "demo"
# the demo runs board time at 100x and more: a keep-alive of 600 board
# seconds is a few real seconds, which the broker and the VM both keep up with
KEEPALIVE_S = 600


class CarerDemo:
    def __init__(self, values):
        self.broker = Broker().start()
        values.update(board_id=MONITOR, mqtt_host="127.0.0.1", mqtt_port=self.broker.port,
                      mqtt_keepalive_s=KEEPALIVE_S)
        self.sub = Subscriber("127.0.0.1", self.broker.port, monitors=(MONITOR,)).start()
        # the start-up race (issue 28): the board starts only once the broker
        # answers MQTT (its CONNACK to this subscriber), not just TCP
        if not self.sub.connected.wait(20):
            self.close()
            raise RuntimeError("the local broker does not answer MQTT (%s)" % self.sub.error)
        self.watch = CarerWatch([MONITOR])
        self._shown = None

    def lines(self):
        """What the carer would see and hear since the last call."""
        out = []
        while not self.sub.messages.empty():
            t, topic, payload = self.sub.messages.get()
            if topic is None or self.watch.on_message(t, topic, payload) is None:
                continue
            s = self.watch.summary(MONITOR)
            if s != self._shown:
                self._shown = s
                out.append("carer sees  " + s)
        for _m, _why, text in self.watch.check(time.monotonic()):
            out.append("carer RINGS " + text)
        return out

    def close(self):
        self.sub.stop()
        self.broker.stop()
