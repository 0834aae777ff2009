# Sensirion SF06-LF liquid flow sensors (LD20-0600L, SLF3S-...) on I2C 0x08.
# Continuous measurement for water (0x3608), then 9-byte reads: flow int16,
# temperature int16, flags uint16, each word followed by its CRC-8 (poly
# 0x31, init 0xFF). Non-blocking: read(now) never sleeps; the warm-up after
# a start is waited out by comparing the clock. A reading allocates nothing
# (preallocated buffer, readfrom_into, small-int arithmetic). A failed read
# returns None; the loop goes on, and persistent silence is the engine's
# malfunction/flow_sensor. After an I/O error the measurement is restarted;
# after a bus timeout or repeated errors the bus is cleared (recover()).
# Facts: docs/alarm-signals.md, the flow sensor (Sensirion's public drivers).
try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(x):  # type: ignore
        return x

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from machine import I2C
    from _mpy_shed.time_mp import _TicksMs

try:
    from time import ticks_diff
except ImportError:  # CPython (host tests): the board's 30-bit wrap
    def ticks_diff(a, b):  # type: ignore
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

ADDR = const(0x08)
START_WATER = b"\x36\x08"   # start continuous measurement, water
STOP = b"\x3f\xf9"          # stop continuous measurement
FLAG_AIR = const(1)         # flags bit 0: air in line
FLAG_HIGH_FLOW = const(2)   # flags bit 1: flow above the range
_ETIMEDOUT = const(110)
# states
OFF = const(0)      # measurement not running: (re)start on the next read
WARMUP = const(1)   # started, results not trusted yet
RUN = const(2)


def crc8(buf: "bytes | bytearray | memoryview", start: int = 0, end: int = 2) -> int:
    """Sensirion CRC-8 (poly 0x31, init 0xFF) of buf[start:end]."""
    crc = 0xFF
    i = start
    while i < end:
        crc ^= buf[i]
        for _ in range(8):
            if crc & 0x80:
                crc = ((crc << 1) ^ 0x31) & 0xFF
            else:
                crc = (crc << 1) & 0xFF
        i += 1
    return crc


class SF06LF:
    """One SF06-LF sensor. Flow in 0.1 uL/h = raw * num / den (rounded).

    LD20-0600L: raw / 1200 = mL/h, so 0.1 uL/h = raw * 10000 / 1200 =
    raw * 25 / 3 (the defaults). SLF3S-0600F: raw / 10 = uL/min: num=60, den=1.
    recover(): optional callable that clears a hung bus and returns a fresh
    I2C object (see i2c_clear.py).
    """

    def __init__(self, i2c: "I2C", addr: int = ADDR, num: int = 25, den: int = 3,
                 warmup_ms: int = 120,
                 recover: "Callable[[], I2C] | None" = None, retries: int = 2) -> None:
        self.i2c = i2c
        self.addr = addr
        self._num2 = 2 * num
        self._den = den
        self._den2 = 2 * den
        self.warmup_ms = warmup_ms
        self._recover = recover
        self._retries = retries
        self._buf = bytearray(9)
        self.state = OFF
        self._t_start: "_TicksMs | int" = 0
        self.raw = 0            # last good raw flow
        self.temp_raw = 0       # last good raw temperature (raw / 200 = degC)
        self.flags = 0          # last good flags word
        self.io_errors = 0      # counts, for diagnostics
        self.crc_errors = 0
        self.recoveries = 0
        self._failed = 0        # consecutive I/O failures

    def _io_error(self, e: OSError) -> None:
        self.io_errors += 1
        self._failed += 1
        self.state = OFF
        # a hung bus (clock stretching timeout) or repeated NACKs: clear it
        if self._recover is not None and (
                (e.args and e.args[0] == _ETIMEDOUT) or self._failed >= self._retries):
            self.recoveries += 1
            self._failed = 0
            try:
                self.i2c = self._recover()
            except OSError:
                pass

    def start(self, now: "_TicksMs | int") -> bool:
        try:
            self.i2c.writeto(self.addr, START_WATER)
        except OSError as e:
            self._io_error(e)
            return False
        self.state = WARMUP
        self._t_start = now
        return True

    def stop(self) -> None:
        try:
            self.i2c.writeto(self.addr, STOP)
        except OSError as e:
            self._io_error(e)
        self.state = OFF

    def read(self, now: "_TicksMs | int") -> int | None:
        """Flow in 0.1 uL/h, or None (starting, warming up, bus or CRC error)."""
        state = self.state
        if state == OFF:
            self.start(now)
            return None
        if state == WARMUP:
            if ticks_diff(now, self._t_start) < self.warmup_ms:
                return None
            self.state = RUN
        b = self._buf
        try:
            self.i2c.readfrom_into(self.addr, b)
        except OSError as e:
            self._io_error(e)
            return None
        if crc8(b, 0, 2) != b[2] or crc8(b, 3, 5) != b[5] or crc8(b, 6, 8) != b[8]:
            self.crc_errors += 1
            return None
        self._failed = 0
        raw = (b[0] << 8) | b[1]
        if raw & 0x8000:
            raw -= 0x10000
        t = (b[3] << 8) | b[4]
        if t & 0x8000:
            t -= 0x10000
        self.raw = raw
        self.temp_raw = t
        self.flags = (b[6] << 8) | b[7]
        # round half up: floor((2 * raw * num + den) / (2 * den))
        return (raw * self._num2 + self._den) // self._den2
