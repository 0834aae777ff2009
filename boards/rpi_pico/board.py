# The Raspberry Pi Pico (RP2040) board layer: the Board interface of
# boards/README.md on real hardware. Wiring and parts: README.md here; the
# pin map and calibration: pins.py. Drivers (boards/drivers/) go to lib/
# (pumpmon flash).
# Never decides anything: it reads sensors and drives outputs.
import time

import machine
from machine import ADC, I2C, PWM, RTC, WDT, Pin

import pins as P
from adc_level import AnalogLevel
from board_base import BoardBase
from button import Debounced
from buzzer import Buzzer
from ds3231 import DS3231, sync
from i2c_clear import BusClear
from leds import Leds
from oled import attach
from sf06 import SF06LF

_CAUSES = {
    machine.PWRON_RESET: "power_on",
    machine.WDT_RESET: "watchdog",
}


def make_i2c() -> I2C:
    return I2C(P.I2C_ID, scl=Pin(P.I2C_SCL), sda=Pin(P.I2C_SDA), freq=P.I2C_FREQ)


class Board(BoardBase):
    def __init__(self, watchdog: bool = True) -> None:
        # the cause first: nothing below may change it
        self._cause = machine.reset_cause()
        self._causes = _CAUSES
        self.flow_flags = 0
        clear = BusClear(Pin, P.I2C_SCL, P.I2C_SDA, make_i2c)
        self.flow = SF06LF(make_i2c(), num=P.FLOW_NUM, den=P.FLOW_DEN,
                           warmup_ms=P.FLOW_WARMUP_MS, recover=clear)
        self.level = AnalogLevel(ADC(Pin(P.LEVEL_ADC)), P.LEVEL_CAL, P.LEVEL_RAIL_LO,
                                 P.LEVEL_RAIL_HI, P.LEVEL_SAMPLES)
        self.buzzer = Buzzer(PWM(Pin(P.BUZZER)))
        self.light = Leds((None, Pin(P.LED_GREEN, Pin.OUT), Pin(P.LED_YELLOW, Pin.OUT),
                           Pin(P.LED_RED, Pin.OUT)))
        self._button = Debounced(Pin(P.BUTTON, Pin.IN, Pin.PULL_UP), True,
                                 P.BUTTON_DEBOUNCE_MS)
        self._refill = Debounced(Pin(P.REFILL, Pin.IN, Pin.PULL_UP), True,
                                 P.REFILL_DEBOUNCE_MS)
        # the battery-backed clock (same I2C bus): the time of day survives
        # power cuts; the board's own RTC is set from it (or it from the
        # board's RTC that pumpmon flash just set), and stays the fallback
        self.rtc = DS3231(make_i2c())
        self.clock = sync(self.rtc, RTC())
        # the bedside display (same bus, docs/display.md), None when none answers
        self.display = attach(make_i2c(), P.I2C_FREQ)
        self._hb = Pin(P.HEARTBEAT, Pin.OUT, value=0)
        self._hb_level = 0
        self._siren = Pin(P.SIREN, Pin.OUT, value=0)
        self.wdt = WDT(timeout=P.WDT_MS) if watchdog else None
        self.flow.start(time.ticks_ms())
