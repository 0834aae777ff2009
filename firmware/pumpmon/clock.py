# Wrapping millisecond ticks. On MicroPython these are the port's own
# time.ticks_* (2**30 period on boards); on CPython an exact emulation of the
# board's 30-bit counter, so host runs exercise the wrap too.
try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:
    import time as _time

    _PERIOD = 1 << 30
    _MASK = _PERIOD - 1
    _HALF = _PERIOD >> 1

    def ticks_ms():
        return int(_time.monotonic() * 1000) & _MASK

    def ticks_add(t, delta):
        return (t + delta) & _MASK

    def ticks_diff(a, b):
        return ((a - b + _HALF) & _MASK) - _HALF
