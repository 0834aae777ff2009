# The replay's sample-driving loop: the one code path that feeds a trace's
# samples through the firmware's Monitor (engine + alarm management +
# annunciator, exactly as on the board) with a simulated clock, and writes the
# events as JSON Lines. `pumpmon replay` runs it on CPython directly, and with
# `--runtime micropython` inside the MicroPython unix port, where main() reads
# the samples from stdin (prepared and validated by the CPython side).
# MicroPython-compatible: no CPython-only features.
#
# Simulated time: now = ticks_add(t0, t_ms), t0 a little before the ticks
# counter wraps (so every replay crosses the wrap). The Monitor is created at
# the first row's time. Where consecutive rows are more than a second apart
# (a gap: missing rows) the Monitor is stepped every simulated second through
# the gap with no readings (sensor silence); button and refill keep the
# previous row's state. Every event's t_ms is the trace time of the step that
# produced it.
import sys

from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.events import to_json
from pumpmon.monitor import Monitor

STEP_MS = 1000      # the Monitor must be stepped at least once a simulated second
T0_BEFORE_WRAP = 90000
# the ticks period - 1, the runtime's own: ticks_add(t, d) is (t + d) & _MASK
# for the small steps below (no call a row; the port checks only |d|)
_MASK = ticks_add(0, -1)


class Replay:
    def __init__(self, cfg, write):
        """cfg: a pumpmon.config.Config; write(text) receives each JSON line."""
        self.cfg = cfg
        self.write = write
        self.t0 = ticks_add(0, -T0_BEFORE_WRAP)
        self.t_ms = 0          # trace time of the step being made
        self.monitor = None
        self.now = 0           # the ticks value of the last step
        self.rows = 0          # samples fed
        self.steps = 0         # Monitor steps made (rows + gap seconds)
        self.events = 0

    def _on_event(self, code, cond, detail):
        self.events += 1
        self.write(to_json(self.t_ms, code, cond, detail,
                           self.monitor.engine.reservoir.minutes) + "\n")

    def run(self, samples):
        """Feed every (t_ms, level_ul, flow_dul, flags, button, refill)."""
        t0 = self.t0
        m = self.monitor
        last = -1
        button = 0
        refill = 0
        rows = 0
        steps = 0
        now = self.now
        samples = iter(samples)
        if m is None:
            for s in samples:
                # the Monitor is created at the first row's time
                t = s[0]
                tod = (self.cfg.start_s + t // 1000) % 86400
                now = ticks_add(t0, t)
                m = self.monitor = Monitor(self.cfg, now, self._on_event, tod)
                self.t_ms = t
                button = s[4]
                refill = s[5]
                m.step(now, s[1], s[2], s[3], button, refill)
                last = t
                rows = 1
                break
        step = m.step if m is not None else None
        mask = _MASK
        for t, level, flow, flags, b, r in samples:
            # the clock moves by the interval, never by the trace time: a
            # 32-bit port's ticks_add takes no delta beyond 2**29 ms (6.2 days)
            g = last + STEP_MS
            if g < t:
                while g < t:        # a gap: sensor silence, once a second
                    self.t_ms = g
                    now = (now + STEP_MS) & mask
                    step(now, None, None, 0, button, refill)
                    steps += 1
                    g += STEP_MS
                now = (now + t - (g - STEP_MS)) & mask
            else:
                now = (now + t - last) & mask
            self.t_ms = t
            button = b
            refill = r
            step(now, level, flow, flags, b, r)
            last = t
            rows += 1
        self.now = now
        self.rows += rows
        self.steps += steps + rows
        return self


def replay(cfg, samples, write):
    """Replay samples with a Config; returns the Replay (rows, steps, events)."""
    return Replay(cfg, write).run(samples)


# ---- the MicroPython side of `pumpmon replay --runtime micropython` ---------
# stdin: line 1 is the settings as a JSON object; then one sample a line,
#   t_ms,level_ul,flow_dul[,flags,button,refill]
# (an empty field: no reading; the last three only when one is not 0).
# stdout: the events, JSON Lines; stderr at the end: "rows steps events".

def encode_sample(s):
    """(t, level, flow, flags, button, refill) -> one stdin line (CPython side)."""
    lv = s[1]
    fl = s[2]
    lv = "" if lv is None else lv
    fl = "" if fl is None else fl
    if s[3] or s[4] or s[5]:
        return "%d,%s,%s,%d,%d,%d\n" % (s[0], lv, fl, s[3], s[4], s[5])
    return "%d,%s,%s\n" % (s[0], lv, fl)


def read_lines(stream, size=65536):
    """Lines of a binary stream read in large blocks (the unix port's own
    line reading makes a system call per byte)."""
    rest = ""
    while True:
        block = stream.read(size)
        if not block:
            break
        lines = (rest + block.decode()).split("\n")
        rest = lines.pop()
        for line in lines:
            yield line
    if rest:
        yield rest


def decode_lines(lines):
    """Samples from lines in encode_sample's form."""
    for line in lines:
        p = line.split(",")
        n = len(p)
        lv = p[1] if n > 1 else ""
        fl = p[2] if n > 2 else ""
        lv = int(lv) if lv else None
        fl = int(fl) if fl else None
        if n == 3:
            yield (int(p[0]), lv, fl, 0, 0, 0)
        elif n == 6:
            yield (int(p[0]), lv, fl, int(p[3]), int(p[4]), int(p[5]))
        elif line.strip():
            raise ValueError("bad sample line %r" % line)


def main():
    import json
    stdin = sys.stdin.buffer
    lines = read_lines(stdin)
    values = json.loads(next(lines))
    r = replay(Config(values), decode_lines(lines), sys.stdout.write)
    sys.stderr.write("%d %d %d\n" % (r.rows, r.steps, r.events))


if __name__ == "__main__":
    main()
