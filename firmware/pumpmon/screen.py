# What the bedside display shows (docs/display.md), drawn from the monitor's
# state: the words of screenwords.py, laid out in six rows. An output like the
# light: the runner calls update() after the sound and the light are driven,
# in its own try. A row is drawn again only when what it shows changes (a
# small integer key per row); drawing and sending allocate nothing (constant
# strings, digits drawn one by one), so the loop stays alloc-free under
# micropython.heap_lock(). The display driver (boards/drivers/oled.py) gives
# fb (a framebuf), scratch (a 128x8 framebuf), mark() and push()/flush().
from pumpmon import alarms as A
from pumpmon import screenwords as W
from pumpmon.clock import ticks_diff

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# rows: (first page, pages); big rows (2 pages) are drawn twice as tall
ROWS = ((0, 2), (2, 1), (3, 1), (4, 1), (5, 1), (6, 2))
N_ROWS = const(6)
DIGITS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")

# modes (row 0's key when no alarm is shown)
MONITORING = const(-1)
STARTING = const(-2)
SERVICE = const(-3)
STOPPED = const(-4)
_NONE = const(-999999)


def _words(cond):
    """(title, what, do1, do2) of a condition; a condition without words
    (added to the alarm table since) shows its names."""
    row = A.TABLE[cond]
    alarm = A.KIND_NAMES[row[0]]
    w = W.WORDS.get((alarm, row[2]))
    if w is None:
        w = (alarm.upper()[:16], row[2][:16], "", "")
    return w


def _digits(v):
    n = 1
    while v >= 10:
        v //= 10
        n += 1
    return n


class Screen:
    def __init__(self, disp):
        self.d = disp
        self.fb = disp.fb
        self.words = tuple(_words(i) for i in range(A.N_CONDITIONS))
        self.keys = [_NONE] * N_ROWS
        self.mode = MONITORING     # SERVICE / STOPPED once the loop has ended

    # ---- drawing ----------------------------------------------------------------
    def _clear(self, row):
        p, n = ROWS[row]
        self.fb.fill_rect(0, p * 8, 128, n * 8, 0)
        self.d.mark(p, n)

    def _line(self, row, s):
        self._clear(row)
        self.fb.text(s, 0, ROWS[row][0] * 8, 1)

    def _num(self, x, y, v, dec):
        """Draw v (>= 0) with dec decimals (0 or 1) from cell x; returns the
        next free cell."""
        fb = self.fb
        n = _digits(v)
        if dec and n < 2:
            n = 2
        cells = n + dec
        i = x + cells - 1
        k = 0
        while k < n:
            if dec and k == 1:
                fb.text(".", i * 8, y, 1)
                i -= 1
            fb.text(DIGITS[v % 10], i * 8, y, 1)
            v //= 10
            i -= 1
            k += 1
        return x + cells

    def _big(self, row, s, secs=-1):
        """Row `row` (two pages) shows s, twice as wide when up to 8
        characters, and the seconds secs after it when >= 0 ("|| 45 s")."""
        self._clear(row)
        sc = self.d.scratch
        sc.fill(0)
        sc.text(s, 0, 0, 1)
        n = len(s)
        if secs >= 0:
            n = self._num_scratch(sc, n + 1, secs)
            sc.text(W.SECONDS, (n + 1) * 8, 0, 1)
            n += 2
        wide = 2 if n <= 8 else 1
        x0 = ((16 // wide - n) // 2) * 8 * wide
        y0 = ROWS[row][0] * 8
        fb = self.fb
        for x in range(n * 8):
            for y in range(8):
                if sc.pixel(x, y):
                    fb.fill_rect(x0 + x * wide, y0 + y * 2, wide, 2, 1)

    def _num_scratch(self, sc, x, v):
        n = _digits(v)
        i = x + n - 1
        while i >= x:
            sc.text(DIGITS[v % 10], i * 8, 0, 1)
            v //= 10
            i -= 1
        return x + n

    # ---- what to show -----------------------------------------------------------
    def update(self, now, m, demo=-1):
        """Once a loop pass: draw the rows whose content changed, then send
        at most one piece of the frame (oled.Oled.push). demo: the condition
        the alarm demonstration plays (demo.py), or -1."""
        mg = m.manager
        c = A.top_condition(mg.shown)
        mode = self.mode
        if mode == MONITORING and c < 0 and m.ann.light == A.KIND_STARTING:
            mode = STARTING
        if mode != MONITORING and mode != STARTING:
            self._not_monitoring(mode)
        elif c < 0 and demo >= 0:
            self._demo(demo)
        elif c >= 0:
            self._alarm(now, mg, c)
        elif mode == STARTING:
            self._not_monitoring(mode)
        else:
            self._monitoring(m.engine)
        self.d.push()

    def _set(self, row, key):
        """1 when row's key changed (the row must be drawn again). A new
        row 0 (another alarm, or mode) draws every row again."""
        keys = self.keys
        if keys[row] == key:
            return 0
        if row == 0:
            for i in range(1, N_ROWS):
                keys[i] = _NONE
        keys[row] = key
        return 1

    def _alarm(self, now, mg, c):
        w = self.words[c]
        k = c + 1
        if self._set(0, k):
            self._big(0, w[0])
        if self._set(1, k):
            self._line(1, w[1])
        acked = 1 if mg.acked & (1 << c) else 0
        if self._set(2, k * 2 + acked):
            p = A.TABLE[c][1]
            self._line(2, W.PRIORITY_ACKED[p] if acked else W.PRIORITY[p])
        if self._set(3, k):
            self._line(3, w[2])
        if self._set(4, k):
            self._line(4, w[3])
        # the one place that reads the escalation (manager.escalated, issue 22)
        esc = mg.escalated
        if mg.paused:
            secs = (ticks_diff(mg._pause_end, now) + 999) // 1000
            if secs < 0:
                secs = 0
            if self._set(5, 1000 + secs):
                self._big(5, W.PAUSED, secs)
        elif esc:
            if self._set(5, 2):
                self._big(5, W.ESCALATED)
        elif self._set(5, 0):
            self._clear(5)

    def _demo(self, c):
        """An alarm of the demonstration: its words, and DEMO below."""
        w = self.words[c]
        k = 1000 + c
        if self._set(0, k):
            self._big(0, w[0])
            self._line(1, w[1])
            self._line(2, W.PRIORITY[A.TABLE[c][1]])
            self._line(3, w[2])
            self._line(4, w[3])
            self._big(5, W.DEMO)

    def _monitoring(self, e):
        if self._set(0, MONITORING):
            self._big(0, W.MONITORING)
            self._clear(1)
            self._clear(5)
        rate = e.rate
        if rate < 0:
            rate = 0
        if self._set(2, rate):
            self._line(2, W.RATE)
            y = ROWS[2][0] * 8
            x = self._num(5, y, rate, 1)
            self.fb.text(W.RATE_UNIT, (x + 1) * 8, y, 1)
        lt = e.level
        level = lt.ul // 100 if lt.ref else -1          # 0.1 mL
        if self._set(3, level):
            self._line(3, W.LEFT)
            y = ROWS[3][0] * 8
            if level < 0:
                self.fb.text(W.UNKNOWN, 5 * 8, y, 1)
            else:
                x = self._num(5, y, level, 1)
                self.fb.text(W.ML, (x + 1) * 8, y, 1)
        mins = e.reservoir.minutes
        days = mins // 1440 if mins >= 0 and level >= 0 else -1
        if self._set(4, days):
            self._clear(4)
            y = ROWS[4][0] * 8
            if days < 0:
                self.fb.text(W.UNKNOWN, 0, y, 1)
                x = 1
            else:
                x = self._num(0, y, days, 0)
            self.fb.text(W.DAYS, (x + 1) * 8, y, 1)

    def _not_monitoring(self, mode):
        if not self._set(0, mode):
            return
        why = W.STARTING if mode == STARTING else (
            W.SERVICE if mode == SERVICE else W.STOPPED)
        self._big(0, W.NOT_MONITORING)
        self._clear(1)
        self._line(2, why[0])
        self._line(3, why[1])
        self._clear(4)
        self._clear(5)
        for i in range(1, N_ROWS):
            self.keys[i] = mode

    def stopped(self, service):
        """The loop has ended (service: 1 a service request, 0 Ctrl-C): NOT
        MONITORING, sent whole at once (no loop pass shares the bus any more)."""
        mode = SERVICE if service else STOPPED
        self.mode = mode
        self._not_monitoring(mode)
        self.d.flush()
