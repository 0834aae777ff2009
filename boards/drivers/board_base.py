# What every real board's layer does the same way once its parts are built:
# the Board interface of boards/README.md over the drivers. A board's
# board.py builds its parts (pins, buses, which light) and maps its reset
# causes; this class reads and drives them. Never decides anything.
import time

from adc_level import AnalogLevel
from button import Debounced
from buzzer import Buzzer
from sf06 import SF06LF
from wallclock import wall_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from _mpy_shed.time_mp import _TicksMs


class BoardBase:
    flow: SF06LF
    level: AnalogLevel
    buzzer: Buzzer
    light: "Any"            # leds.Leds or leds.Pixel: show(colour)
    _button: Debounced
    _refill: Debounced
    display: "Any"          # oled.Oled or None (screen.py draws it)
    wdt: "Any"              # machine.WDT or None
    _hb: "Any"              # the heartbeat Pin (machine.Pin), watched by the independent sounder
    _hb_level: int
    _siren: "Any"           # the second sounder's Pin (machine.Pin): escalated alarms
    _cause: int
    _causes: "dict[int, str]"

    def ticks_ms(self) -> "_TicksMs":
        return time.ticks_ms()

    def sleep_ms(self, ms: int) -> None:
        time.sleep_ms(ms)

    def read_flow(self) -> "int | None":
        f = self.flow
        v = f.read(time.ticks_ms())
        self.flow_flags = 0 if v is None else f.flags & 1
        return v

    def read_level(self) -> "int | None":
        return self.level.read()

    def button(self) -> int:
        return self._button.update(time.ticks_ms())

    def refill(self) -> int:
        return self._refill.update(time.ticks_ms())

    def set_tone(self, hz: int) -> None:
        self.buzzer.tone(hz)

    def set_led(self, colour: int) -> None:
        self.light.show(colour)

    def wall_time(self) -> int:
        # the RTC's local date and time as Unix seconds; 0 while not set
        return wall_time(time.localtime())

    def heartbeat(self) -> None:
        # toggled by the main loop once a second: the independent sounder
        # (README.md) sounds when the edges stop
        self._hb_level ^= 1
        self._hb.value(self._hb_level)

    def set_siren(self, on: int) -> None:
        # the second, louder sounder (an active piezo on a transistor,
        # README.md), switched with the escalated alarm's pulses
        self._siren.value(1 if on else 0)

    def feed_watchdog(self) -> None:
        if self.wdt is not None:
            self.wdt.feed()

    def reset_cause(self) -> str:
        return self._causes.get(self._cause, "unknown")
