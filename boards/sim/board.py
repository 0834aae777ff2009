# The virtual board's board layer (copied to the flash as /board.py): the
# Board interface of boards/README.md on the virtual board that
# `pumpmon board serve` runs (host_tools/vboard/, docs/virtual-board.md).
# The peripherals are the host's: `simhw` is put in place by the board's ROM
# (boards/sim/rom/bios.py, not on the flash); the sensors play a trace file, the
# button is the trace's or typed keys, the buzzer, the LEDs and the watchdog
# report to the host, which draws them and writes the timeline. Reads are
# non-blocking and allocate nothing; time runs at the board's --speed. The
# buzzer is driven by the real boards' driver (drivers/buzzer.py) on the ROM's
# PWM, which reports frequency and duty (simmachine.py).
# Its calendar clocks are a Pico's: a DS3231 on I2C (coin cell: survives
# every reset and power cut) and the board's own RTC, which restarts at
# 2021-01-01 at each power-on or hard reset (boards/sim/rom/simclocks.py);
# the same driver and sync as the real boards bring them together. Its
# SSD1306 display too, on that bus (docs/display.md).
import time

import simhw
from buzzer import Buzzer
from ds3231 import DS3231, sync
from machine import I2C, PWM, RTC
from oled import attach
from wallclock import wall_time

WDT_MS = 8000
I2C_FREQ = 100000    # as the Pico's and the ESP32's bus


class Board:
    def __init__(self, watchdog=True):
        self.hw = simhw.link
        self._cause = self.hw.reset_cause()
        self.flow_flags = 0
        self._hb = 0
        # as on the Pico and the ESP32: the time of day from the DS3231 after
        # a power cut, the board's RTC (set by pumpmon flash) the fallback
        self.rtc = DS3231(I2C(0))
        self.clock = sync(self.rtc, RTC())
        # the bedside display on the same bus (the ROM's simoled.py; None
        # when the board is served without one)
        self.display = attach(I2C(0, freq=I2C_FREQ), I2C_FREQ)
        # the real boards' buzzer driver (its 25 % pulse wave) on the ROM's PWM
        self.buzzer = Buzzer(PWM(None))
        if watchdog:
            self.hw.arm_watchdog(WDT_MS)

    def ticks_ms(self):
        return time.ticks_ms()

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    def read_flow(self):
        hw = self.hw
        v = hw.read_flow()
        self.flow_flags = 0 if v is None else hw.flow_flags()
        return v

    def read_level(self):
        return self.hw.read_level()

    def button(self):
        return self.hw.button()

    def refill(self):
        return self.hw.refill_mode()

    def set_tone(self, hz):
        self.buzzer.tone(hz)

    def set_led(self, colour):
        self.hw.set_led(colour)

    def wall_time(self):
        # the RTC's local date and time as Unix seconds; 0 while not set
        return wall_time(time.localtime())

    def heartbeat(self):
        # the pin the independent sounder watches: on the timeline
        self._hb ^= 1
        self.hw.heartbeat(self._hb)

    def net_up(self, ssid, password):
        # the VM is the unix port on the host's network: always up, no Wi-Fi
        return True

    def feed_watchdog(self):
        self.hw.feed_watchdog()

    def reset_cause(self):
        return self._cause
