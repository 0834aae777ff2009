# The virtual board's clock: world time = (CLOCK_MONOTONIC - mono0) x speed.
# The unix port's ticks_us is CLOCK_MONOTONIC in us, the clock the host uses
# too, so both agree on trace time without talking. time_module() is the
# `time` the firmware imports: ticks_ms/ticks_us/sleep*/time run at the
# board's --speed, so the firmware sees trace time.
import time as _utime

ticks_us = _utime.ticks_us


class WorldClock:
    def __init__(self, mono0, speed_m):
        self.mono0 = mono0          # CLOCK_MONOTONIC us at world time 0
        self.speed_m = speed_m      # speed x 1000

    def world_us(self):
        return (ticks_us() - self.mono0) * self.speed_m // 1000

    def world_ms(self):
        return (ticks_us() - self.mono0) * self.speed_m // 1000000


class _Time:
    pass


def time_module(clock):
    """A copy of the unix port's `time` whose clock is the world clock."""
    T = _Time()
    for name in dir(_utime):
        if not name.startswith("__"):
            setattr(T, name, getattr(_utime, name))
    world_ms = clock.world_ms
    speed_m = clock.speed_m
    wall0 = _utime.time() - world_ms() // 1000

    def t_sleep_ms(ms):
        if ms > 0:
            _utime.sleep_us(ms * 1000000 // speed_m)

    def t_sleep_us(us):
        if us > 0:
            _utime.sleep_us(us * 1000 // speed_m)

    def t_sleep(s):
        if s > 0:
            _utime.sleep_us(int(s * 1000000000 // speed_m))

    def t_time():
        return wall0 + world_ms() // 1000

    def t_time_ns():
        return (wall0 * 1000 + world_ms()) * 1000000

    def t_localtime(secs=None):
        return _utime.localtime(t_time() if secs is None else secs)

    def t_gmtime(secs=None):
        return _utime.gmtime(t_time() if secs is None else secs)

    T.ticks_ms = world_ms
    T.ticks_us = clock.world_us
    T.ticks_cpu = clock.world_us
    T.sleep_ms = t_sleep_ms
    T.sleep_us = t_sleep_us
    T.sleep = t_sleep
    T.time = t_time
    T.time_ns = t_time_ns
    T.localtime = t_localtime
    T.gmtime = t_gmtime
    return T
