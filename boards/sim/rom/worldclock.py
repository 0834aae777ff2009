# The virtual board's clock: board time is virtual. It is a counter (us since
# the board was started) that moves only when the firmware sleeps, and only as
# far as the host allows: the host (host_tools/vboard/) is the one authority
# on board time. A grant from the host carries a horizon, the board time of
# the next thing the host has to deliver (a trace row, a fault); the board may
# sleep up to just before it on its own, and asks the host (link.advance) to
# go further, or past its watchdog's deadline. Computing takes no board time,
# so a slow or loaded host changes nothing the firmware sees: the same inputs
# give the same board, byte for byte.
#
# --speed is a ceiling, not a promise: each sleep also waits, in real time,
# until board time is no more than `speed` times ahead of the wall clock
# (speed_m 0: no wait, as fast as the machine goes).
#
# The world time offered to other parts of the ROM (the DS3231 emulation, an
# RTC): WorldClock.world_ms() (ms since the board started) and
# WorldClock.epoch_ms() (the wall clock now, Unix ms: the --epoch the host
# gave for board time 0, plus board time).
import time as _utime

_rticks = _utime.ticks_us      # the real clock: pacing only, never board time
_rdiff = _utime.ticks_diff
_radd = _utime.ticks_add
_FAR = 1 << 60


class WorldClock:
    def __init__(self, world_ms0, speed_m, epoch_s):
        self.us = world_ms0 * 1000  # board time now (us since the board started)
        self.horizon = self.us      # may run on alone while below this (us)
        self.deadline = _FAR        # the watchdog's (us): link.advance past it
        self.speed_m = speed_m      # the speed ceiling x 1000; 0: none
        self.epoch_s = epoch_s      # Unix seconds at board time 0
        self.link = None            # link.Link: asks the host for more time
        self._w0 = _rticks()        # pacing: real us at board us _b0
        self._b0 = self.us

    # ---- what other parts of the ROM call -------------------------------------
    def world_ms(self):
        return self.us // 1000

    def world_us(self):
        return self.us

    def epoch_ms(self):
        """The wall clock now, Unix ms (the board's RTC time)."""
        return self.epoch_s * 1000 + self.us // 1000

    # ---- sleeping: the only way board time moves -------------------------------
    def sleep_us(self, n):
        if n <= 0:
            return
        t = self.us + n
        if t >= self.horizon or t > self.deadline:
            self.link.advance(t)     # returns once the host granted t (or never: a reset)
        self.us = t
        if self.speed_m:
            self._pace()

    def _pace(self):
        # wait until the wall clock has caught up with board time / speed
        e = (self.us - self._b0) * 1000 // self.speed_m     # real us board time is ahead
        if e > 100000000:           # keep real-tick differences small (they wrap)
            self._w0 = _radd(self._w0, e)
            self._b0 = self.us
            e = 0
        d = _rdiff(_radd(self._w0, e), _rticks())
        if d > 0:
            _utime.sleep_us(d)
        elif d < -200000:           # far behind (a busy host, the REPL): no burst
            self._w0 = _rticks()
            self._b0 = self.us


class _Time:
    pass


def time_module(clock):
    """A copy of the unix port's `time` whose clock is the board's."""
    T = _Time()
    for name in dir(_utime):
        if not name.startswith("__"):
            setattr(T, name, getattr(_utime, name))
    sleep_us = clock.sleep_us

    def t_ticks_ms():
        return clock.us // 1000

    def t_ticks_us():
        return clock.us

    def t_sleep_ms(ms):
        sleep_us(ms * 1000)

    def t_sleep(s):
        sleep_us(int(s * 1000000))

    def t_time():
        return clock.epoch_s + clock.us // 1000000

    def t_time_ns():
        return clock.epoch_ms() * 1000000

    def t_localtime(secs=None):
        return _utime.localtime(t_time() if secs is None else secs)

    def t_gmtime(secs=None):
        return _utime.gmtime(t_time() if secs is None else secs)

    T.ticks_ms = t_ticks_ms
    T.ticks_us = t_ticks_us
    T.ticks_cpu = t_ticks_us
    T.sleep_ms = t_sleep_ms
    T.sleep_us = sleep_us
    T.sleep = t_sleep
    T.time = t_time
    T.time_ns = t_time_ns
    T.localtime = t_localtime
    T.gmtime = t_gmtime
    return T
