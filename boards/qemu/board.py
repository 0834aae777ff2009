# The emulated microcontroller's board layer (copied to the flash as
# /board.py): the Board interface of boards/README.md on MicroPython's qemu
# port, a Cortex-M3 under QEMU (`make mcu`, `pumpmon board serve --mcu`,
# docs/mcu.md). No sensor is attached: both read None, as a real board's
# drivers do with their sensors unplugged, so the monitor raises
# malfunction/flow_sensor and level_sensor within their fault times. Nobody
# can press a button; the buzzer and the light are kept here (the host reads
# them with `pumpmon status`, which asks the monitor). The port has no
# machine.WDT and no RTC: no watchdog, no wall clock (optional, 0 = not set).
# Never decides anything.
import time

import machine
from micropython import const

# a word of the board's PSRAM past its flash (mcuflash.c): zero at power-on,
# kept across machine.reset() and Ctrl-D, so the first boot is a power-on
# and every later one a reset (the port's machine.reset_cause() says nothing)
_BOOTED = const(0x21FFFFF0)
_MAGIC = const(0x706D6F6E)      # "pmon"


class Board:
    def __init__(self, watchdog=True):
        # the cause first: nothing below may change it
        if machine.mem32[_BOOTED] == _MAGIC:
            self._cause = "soft"
        else:
            self._cause = "power_on"
            machine.mem32[_BOOTED] = _MAGIC
        self.flow_flags = 0
        self.tone = 0
        self.led = 0

    def ticks_ms(self):
        return time.ticks_ms()

    def sleep_ms(self, ms):
        time.sleep_ms(ms)         # the CPU waits for interrupts (mcu/mphalport.c)

    def read_flow(self):
        return None               # no flow sensor on the bus

    def read_level(self):
        return None               # no level sensor on the ADC

    def button(self):
        return 0

    def refill(self):
        return 0

    def set_tone(self, hz):
        self.tone = hz

    def set_led(self, colour):
        self.led = colour

    def feed_watchdog(self):
        pass                      # the port has no watchdog

    def reset_cause(self):
        return self._cause
