# Wi-Fi station for the carers' link (firmware/carerlink/, docs/carer.md),
# never blocking the alarm loop: connect() only starts the association (the
# radio's own task carries it on), and up() answers at once whether the
# station has an address. A failed or lost association is started again
# every RETRY_MS. Only the first call (the radio switched on) takes a
# moment, once, at the link's first attempt.
import time

import network

TYPE_CHECKING = False
if TYPE_CHECKING:
    from _mpy_shed.time_mp import _TicksMs

RETRY_MS = 20000


class Station:
    def __init__(self) -> None:
        self.wlan: "network.WLAN | None" = None
        self._t: "_TicksMs | None" = None

    def up(self, ssid: "str | None", password: "str | None") -> bool:
        if ssid is None:          # no Wi-Fi configured: the link stays down (shown)
            return False
        w = self.wlan
        if w is None:
            w = network.WLAN(network.STA_IF)
            w.active(True)
            self.wlan = w
        if w.isconnected():
            return True
        now = time.ticks_ms()
        if self._t is None or time.ticks_diff(now, self._t) >= RETRY_MS:
            self._t = now
            try:
                w.disconnect()
            except OSError:
                pass
            w.connect(ssid, password or "")
        return False
