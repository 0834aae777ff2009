# Maxim (Analog Devices) DS3231: a temperature-compensated RTC with a coin
# cell (CR2032), so the date and time survive power cuts and resets that
# restart the microcontroller's own RTC (an RP2040 restarts at 2021-01-01).
# I2C address 0x68 (fixed). Registers used (datasheet, "Timekeeping
# Registers"): 0x00..0x06 seconds, minutes, hours, day of week (1..7), date,
# month (bit 7: century), year, all BCD; 0x0F status, bit 7 OSF ("oscillator
# stop flag": the clock stopped, e.g. a flat cell, so its time is not to be
# trusted until it is set again; writing the time clears it here).
#
# The bus is injected (machine.I2C or a fake); reads go into preallocated
# buffers. Never raises: a bus error reads as "not set" (0).
from wallclock import SET_FROM_YEAR, civil_seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from machine import I2C

try:
    from micropython import const
except ImportError:
    def const(x):  # type: ignore
        return x

ADDR = const(0x68)
REG_TIME = const(0x00)
REG_STATUS = const(0x0F)
OSF = const(0x80)


def _bcd(b: int) -> int:
    return (b >> 4) * 10 + (b & 15)


def _year(b: bytearray) -> int:
    return 2000 + _bcd(b[6]) + (100 if b[5] & 0x80 else 0)


def _hour(hb: int) -> int:
    if hb & 0x40:                    # 12-hour mode (never set by this driver)
        return _bcd(hb & 0x1F) % 12 + (12 if hb & 0x20 else 0)
    return _bcd(hb & 0x3F)


def _to_bcd(v: int) -> int:
    return ((v // 10) << 4) | (v % 10)


class DS3231:
    def __init__(self, i2c: "I2C", addr: int = ADDR) -> None:
        self.i2c = i2c
        self.addr = addr
        self.buf = bytearray(7)
        self.st = bytearray(1)
        self.errors = 0              # bus errors since boot

    def datetime(self) -> "tuple[int, int, int, int, int, int] | None":
        """(year, month, day, hour, minute, second), or None when the clock
        stopped (OSF) or the bus fails. Allocates the tuple."""
        if not self._read():
            return None
        b = self.buf
        return self._fields(b)

    def _fields(self, b: bytearray) -> "tuple[int, int, int, int, int, int]":
        return (_year(b), _bcd(b[5] & 0x1F), _bcd(b[4] & 0x3F), _hour(b[2]),
                _bcd(b[1] & 0x7F), _bcd(b[0] & 0x7F))

    def _read(self) -> bool:
        try:
            self.i2c.readfrom_mem_into(self.addr, REG_STATUS, self.st)
            if self.st[0] & OSF:
                return False
            self.i2c.readfrom_mem_into(self.addr, REG_TIME, self.buf)
            return True
        except OSError:
            self.errors += 1
            return False

    def wall_time(self) -> int:
        """Unix seconds of the date and time it shows (local time, as the
        boards' wall_time()), 0 when not set or not readable."""
        if not self._read():
            return 0
        b = self.buf
        y = _year(b)
        if y < SET_FROM_YEAR:
            return 0
        return civil_seconds(y, _bcd(b[5] & 0x1F), _bcd(b[4] & 0x3F), _hour(b[2]),
                             _bcd(b[1] & 0x7F), _bcd(b[0] & 0x7F))

    def set(self, y: int, mo: int, d: int, h: int, mi: int, s: int, wd: int) -> bool:
        """Set the clock (24-hour mode; wd 0..6 = Monday..Sunday, as
        time.localtime) and clear OSF. True when the bus took it."""
        b = self.buf
        b[0] = _to_bcd(s)
        b[1] = _to_bcd(mi)
        b[2] = _to_bcd(h)
        b[3] = wd % 7 + 1
        b[4] = _to_bcd(d)
        b[5] = _to_bcd(mo) | (0x80 if y >= 2100 else 0)
        b[6] = _to_bcd(y % 100)
        try:
            self.i2c.writeto_mem(self.addr, REG_TIME, b)
            self.i2c.readfrom_mem_into(self.addr, REG_STATUS, self.st)
            self.st[0] &= ~OSF & 0xFF
            self.i2c.writeto_mem(self.addr, REG_STATUS, self.st)
            return True
        except OSError:
            self.errors += 1
            return False


def sync(rtc: DS3231, internal: "Any") -> str:
    """At boot: bring the board's own RTC (machine.RTC) and the DS3231
    together, and say which way ("from_ds3231", "to_ds3231" or "none").
    A board RTC that is set survived the reset (a soft reset) or was just
    set by `pumpmon flash`: it is copied to the DS3231. One that is not set
    restarted with the power or the reset: it takes the DS3231's time. With
    the DS3231 absent or stopped the board's RTC stays the fallback."""
    try:
        import time
        now = time.localtime()
        if now[0] >= SET_FROM_YEAR:
            ok = rtc.set(now[0], now[1], now[2], now[3], now[4], now[5], now[6])
            return "to_ds3231" if ok else "none"
        t = rtc.datetime()
        if t is None or t[0] < SET_FROM_YEAR:
            return "none"
        y, mo, d, h, mi, s = t
        wd = (civil_seconds(y, mo, d, 0, 0, 0) // 86400 + 3) % 7   # 1970-01-01: a Thursday
        internal.datetime((y, mo, d, wd, h, mi, s, 0))
        return "from_ds3231"
    except Exception:  # a clock problem never stops the board from monitoring
        return "none"
