# A microsecond clock for the benchmarks that run on CPython and on the
# MicroPython unix port alike (tick.py, log.py). MicroPython-compatible.
import time

try:
    from time import ticks_diff as us_diff
    from time import ticks_us
except ImportError:   # CPython
    def ticks_us():
        return time.perf_counter_ns() // 1000

    def us_diff(a, b):
        return a - b
