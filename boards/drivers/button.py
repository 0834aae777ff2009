# A push button (or switch) with time-based debouncing, polled: update(now)
# returns the debounced state (1 = pressed). A change counts only once the
# pin has read the same for `ms` milliseconds. Never sleeps, allocates nothing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from machine import Pin
    from _mpy_shed.time_mp import _TicksMs

try:
    from time import ticks_diff
except ImportError:  # CPython (host tests): the board's 30-bit wrap
    def ticks_diff(a, b):  # type: ignore
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000


class Debounced:
    def __init__(self, pin: "Pin", active_low: bool = True, ms: int = 20) -> None:
        self.pin = pin
        self._invert = 1 if active_low else 0
        self.ms = ms
        self.state = 0        # debounced: 1 pressed
        self._seen = 0        # last raw reading (1 pressed)
        self._since: "_TicksMs | int" = 0   # when _seen last changed

    def update(self, now: "_TicksMs | int") -> int:
        v = self.pin.value() ^ self._invert
        if v != self._seen:
            self._seen = v
            self._since = now
        elif v != self.state and ticks_diff(now, self._since) >= self.ms:
            self.state = v
        return self.state
