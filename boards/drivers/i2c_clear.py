# I2C bus clear (UM10204 3.1.16): when a slave holds SDA low (a read cut
# off mid-byte, a reset master), clock SCL until it lets go (at most 9
# pulses), send a STOP, then build a fresh I2C object on the same pins.
# Takes ~100 us: called from the flow driver's error path, never blocks the
# loop. Allocates (new Pin and I2C objects), but only on that fault path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from machine import I2C, Pin

try:
    from time import sleep_us
except ImportError:  # CPython (host tests)
    def sleep_us(us):  # type: ignore
        pass


class BusClear:
    """make_i2c() builds the bus; pin_cls(id, mode, ...) is machine.Pin."""

    def __init__(self, pin_cls: "type[Pin]", scl: int, sda: int, make_i2c: "Callable[[], I2C]",
                 half_us: int = 5) -> None:
        self.pin_cls = pin_cls
        self.scl = scl
        self.sda = sda
        self.make_i2c = make_i2c
        self.half_us = half_us
        self.pulses = 0        # clock pulses the last clear needed
        self.stuck = False     # SDA still low after the clear

    def __call__(self) -> "I2C":
        P = self.pin_cls
        h = self.half_us
        sda = P(self.sda, P.IN, P.PULL_UP)
        scl = P(self.scl, P.OPEN_DRAIN, value=1)
        n = 0
        while n < 9 and sda.value() == 0:
            scl.value(0)
            sleep_us(h)
            scl.value(1)
            sleep_us(h)
            n += 1
        self.pulses = n
        # STOP: SDA low -> high while SCL is high
        scl.value(0)
        sda.init(P.OPEN_DRAIN, value=0)
        sleep_us(h)
        scl.value(1)
        sleep_us(h)
        sda.value(1)
        sleep_us(h)
        self.stuck = sda.value() == 0
        return self.make_i2c()
