# The board's calendar clock (its RTC) as the firmware's wall_time(): Unix
# seconds of the date and time the clock shows. A MicroPython board has no
# time zone: `pumpmon flash` (like `mpremote rtc --set`) sets it to the host's
# local time, so the count is local time's and `% 86400` is the time of day
# that a daily dose schedule runs on. Integer arithmetic only, the same on
# every port (time.mktime is local-to-UTC on the unix port, not on a board).
try:
    from micropython import const
except ImportError:
    def const(x):  # type: ignore
        return x

# A clock that shows a year before this was never set: after power-up the
# rp2 port starts at 2021-01-01, the esp32 port at 2000-01-01.
SET_FROM_YEAR = const(2025)


def civil_seconds(y: int, mo: int, d: int, h: int, mi: int, s: int) -> int:
    """Seconds from 1970-01-01 00:00:00 to the given calendar date and time
    (proleptic Gregorian; H. Hinnant's days_from_civil)."""
    if mo <= 2:
        y -= 1
        mo += 9
    else:
        mo -= 3
    era = y // 400
    yoe = y - era * 400
    doy = (153 * mo + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return (era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60 + s


def wall_time(t: "tuple[int, ...]") -> int:
    """wall_time() from a time.localtime() tuple: 0 while the clock is not set."""
    if t[0] < SET_FROM_YEAR:
        return 0
    return civil_seconds(t[0], t[1], t[2], t[3], t[4], t[5])
