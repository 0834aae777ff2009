# Analogue reservoir-level sensor on an ADC pin: read_u16() averaged over a
# few samples, open/short circuit detected at the rails, then a multi-point
# calibration table (raw -> uL) interpolated piecewise linearly with
# integers. Allocates nothing per reading.
#
# The table's raw values are read_u16() values (0..65535) as recorded during
# calibration; they are used at the ADCs' real 12-bit resolution inside, so
# that (dx * dy) stays a small int (< 2**30) on a 32-bit board.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from machine import ADC

    _Table = tuple[tuple[int, int], ...]

LEVEL_MAX_UL = 200000     # a level beyond 200 mL is a typo in the table


class AnalogLevel:
    def __init__(self, adc: "ADC", table: "_Table", lo: int = 1311, hi: int = 64224,
                 samples: int = 8) -> None:
        """table: ((raw_u16, level_ul), ...), raw strictly increasing.

        A mean raw value below lo (open circuit, wiper off, short to ground)
        or above hi (short to the supply) reads as None.
        """
        if len(table) < 2:
            raise ValueError("level calibration needs at least 2 points")
        xs: "list[int]" = []
        ys: "list[int]" = []
        for raw, ul in table:
            x = int(raw) >> 4
            ul = int(ul)
            if not lo <= raw <= hi:
                raise ValueError("calibration raw %d outside %d..%d" % (raw, lo, hi))
            if not 0 <= ul <= LEVEL_MAX_UL:
                raise ValueError("calibration level %d uL outside 0..%d" % (ul, LEVEL_MAX_UL))
            if xs and x <= xs[-1]:
                raise ValueError("calibration raw values must increase (by >= 16)")
            xs.append(x)
            ys.append(ul)
        self._xs = tuple(xs)
        self._ys = tuple(ys)
        self.adc = adc
        self.lo = lo
        self.hi = hi
        self.samples = samples
        self.raw = 0      # last mean read_u16()
        self.fault = 0    # 0 ok, 1 low rail (open/short to ground), 2 high rail

    def read(self) -> int | None:
        """Level in uL, or None when the input sits at a rail."""
        adc = self.adc
        n = self.samples
        total = 0
        i = 0
        while i < n:
            total += adc.read_u16()
            i += 1
        raw = total // n
        self.raw = raw
        if raw < self.lo:
            self.fault = 1
            return None
        if raw > self.hi:
            self.fault = 2
            return None
        self.fault = 0
        return self.interpolate(raw >> 4)

    def interpolate(self, x: int) -> int:
        """Level (uL) at a 12-bit raw value; extrapolates beyond the ends."""
        xs = self._xs
        ys = self._ys
        j = 1
        last = len(xs) - 1
        while j < last and x > xs[j]:
            j += 1
        x0 = xs[j - 1]
        y0 = ys[j - 1]
        dx = xs[j] - x0
        dy = ys[j] - y0
        # rounded to the nearest uL; |(x - x0) * dy| < 2**12 * 2**18
        d = (x - x0) * dy
        if d >= 0:
            return y0 + (d + dx // 2) // dx
        return y0 - (dx // 2 - d) // dx
