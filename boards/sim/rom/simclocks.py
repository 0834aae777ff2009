# The virtual board's two calendar clocks, inside the VM (docs/virtual-board.md):
#   - a DS3231 on the I2C bus (machine.I2C, address 0x68): registers as in
#     the Maxim datasheet ("Timekeeping Registers"): 0x00-0x06 seconds,
#     minutes, hours (bit 6: 12-hour mode, bit 5: PM), day of week 1-7, date,
#     month (bit 7: century), year, all BCD; 0x07-0x0D the two alarms, 0x0E
#     control, 0x0F status (bit 7 OSF, the oscillator-stop flag: set at the
#     first power-up, cleared only by writing 0 to it; bit 3 EN32kHz), 0x10
#     aging, 0x11-0x12 temperature (read only). The register pointer
#     increments after each byte and wraps after 0x12. It keeps time on its
#     coin cell: across every reset and power cut of the session;
#   - the microcontroller's own RTC (machine.RTC), as a Pico's: it restarts
#     at 2021-01-01 00:00:00 at every power-on, hard or watchdog reset, and
#     only a soft reset keeps it. `time.time()`/`localtime()`/`gmtime()`/
#     `mktime()` read it, as on a board.
# Both run on the board's world clock: `world_ms`, the one call to it. What
# must outlive a VM (each reset is a new unix-port process) is kept in a file
# of the session's run folder (next to the host's sockets, removed with it).
# PUMPMON_VBOARD_NO_DS3231=1 in `pumpmon board serve`'s environment leaves
# the DS3231 off the bus (a board without one). The same bus carries the
# SSD1306 display (simoled.py; PUMPMON_VBOARD_NO_SSD1306=1: none).
import os

_ADDR = 0x68
_NREG = 0x13                 # 0x00-0x12
_ENODEV = 19                 # nothing answered at that address
_RTC_EPOCH = (2021, 1, 1, 0, 0, 0)   # an RP2040's RTC after power-up
_DS_EPOCH = (2000, 1, 1, 0, 0, 0)    # a DS3231's first power-up (OSF set)


def _days(y, mo, d):
    """Days from 1970-01-01 (H. Hinnant's days_from_civil, as wallclock.py)."""
    if mo <= 2:
        y -= 1
        mo += 9
    else:
        mo -= 3
    era = y // 400
    yoe = y - era * 400
    doe = yoe * 365 + yoe // 4 - yoe // 100 + (153 * mo + 2) // 5 + d - 1
    return era * 146097 + doe - 719468


def _civil(days):
    """(year, month, day) of a day count from 1970-01-01 (civil_from_days)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    mo = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if mo <= 2 else 0), mo, d


def _secs(t):
    return _days(t[0], t[1], t[2]) * 86400 + t[3] * 3600 + t[4] * 60 + t[5]


def _bcd(v):
    return ((v // 10) << 4) | (v % 10)


def _unbcd(b):
    return (b >> 4) * 10 + (b & 15)


class _Clock:
    """Calendar time that runs on the world clock: base_ms of calendar
    time (ms since 1970) at world time at_ms."""

    def __init__(self, world_ms, base_s):
        self.world_ms = world_ms
        self.base_ms = base_s * 1000
        self.at_ms = world_ms()

    def now_ms(self):
        return self.base_ms + self.world_ms() - self.at_ms

    def set_ms(self, ms):
        self.base_ms = ms
        self.at_ms = self.world_ms()


class DS3231:
    """The chip as the bus sees it."""

    def __init__(self, clock):
        self.clock = clock
        self.regs = bytearray(_NREG)
        self.regs[0x0E] = 0x1C           # control at power-up: INTCN, RS2, RS1
        self.regs[0x0F] = 0x88           # OSF and EN32kHz at the first power-up
        self.regs[0x11] = 25             # 25.00 C
        self.dow = 1                     # day-of-week register at day dow_day
        self.dow_day = 0
        self.h12 = 0
        self.ptr = 0
        self.dirty = None                # called after a write (saves the state)

    def _time_regs(self):
        ms = self.clock.now_ms()
        s = ms // 1000
        days = s // 86400
        y, mo, d = _civil(days)
        r = bytearray(7)
        r[0] = _bcd(s % 60)
        r[1] = _bcd(s // 60 % 60)
        h = s // 3600 % 24
        if self.h12:
            r[2] = 0x40 | (0x20 if h >= 12 else 0) | _bcd(h % 12 or 12)
        else:
            r[2] = _bcd(h)
        r[3] = (self.dow - 1 + days - self.dow_day) % 7 + 1
        r[4] = _bcd(d)
        r[5] = _bcd(mo) | (0x80 if y >= 2100 else 0)
        r[6] = _bcd(y % 100)
        return r

    def read(self, buf, reg=None):
        if reg is not None:
            self.ptr = reg % _NREG
        t = self._time_regs()
        for i in range(len(buf)):
            p = self.ptr
            buf[i] = t[p] if p < 7 else self.regs[p]
            self.ptr = (p + 1) % _NREG

    def write(self, reg, data):
        self.ptr = reg % _NREG
        t = self._time_regs()
        sub = self.clock.now_ms() % 1000
        timed = 0
        for b in data:
            p = self.ptr
            if p < 7:
                t[p] = b
                timed |= 1 << p
            elif p == 0x0F:              # OSF, A2F, A1F: only cleared; EN32kHz: as written
                self.regs[p] = (self.regs[p] & b & 0x83) | (b & 0x08)
            elif p < 0x11:               # alarms, control, aging
                self.regs[p] = b
            self.ptr = (p + 1) % _NREG
        if timed:
            hb = t[2]
            self.h12 = 1 if hb & 0x40 else 0
            h = (_unbcd(hb & 0x1F) % 12 + (12 if hb & 0x20 else 0)) if self.h12 \
                else _unbcd(hb & 0x3F)
            y = 2000 + _unbcd(t[6]) + (100 if t[5] & 0x80 else 0)
            s = _secs((y, _unbcd(t[5] & 0x1F), _unbcd(t[4] & 0x3F), h,
                       _unbcd(t[1] & 0x7F), _unbcd(t[0] & 0x7F)))
            # writing the seconds restarts the countdown chain (datasheet)
            self.clock.set_ms(s * 1000 + (0 if timed & 1 else sub))
            self.dow = t[3] & 7 or 1
            self.dow_day = s // 86400
        if self.dirty is not None:
            self.dirty()


def _i2c_class(devices, sleep_us=None, timed=()):
    class I2C:
        """machine.I2C of the virtual board: the devices on its bus. A write
        to a device of `timed` (the display) takes its bus time in board
        time (nine clocks a byte with the address, plus start and stop), as
        on a real bus, so the loop pass that sends it is that much longer."""

        def __init__(self, id=0, scl=None, sda=None, freq=400000, timeout=50000):
            self.id = id
            self.freq = freq

        def _busy(self, addr, n):
            if sleep_us is not None and addr in timed:
                sleep_us(((n + 1) * 9 + 2) * 1000000 // self.freq)

        def _dev(self, addr):
            d = devices.get(addr)
            if d is None:
                raise OSError(_ENODEV)
            return d

        def scan(self):
            return sorted(devices)

        def readfrom_mem_into(self, addr, reg, buf, addrsize=8):
            self._dev(addr).read(buf, reg)

        def readfrom_mem(self, addr, reg, n, addrsize=8):
            buf = bytearray(n)
            self._dev(addr).read(buf, reg)
            return bytes(buf)

        def writeto_mem(self, addr, reg, buf, addrsize=8):
            self._dev(addr).write(reg, buf)

        def readfrom_into(self, addr, buf, stop=True):
            self._dev(addr).read(buf)

        def readfrom(self, addr, n, stop=True):
            buf = bytearray(n)
            self._dev(addr).read(buf)
            return bytes(buf)

        def writeto(self, addr, buf, stop=True):
            d = self._dev(addr)
            if len(buf):
                d.write(buf[0], memoryview(buf)[1:])
            self._busy(addr, len(buf))
            return len(buf)

        def writevto(self, addr, vector, stop=True):
            buf = bytearray()
            for v in vector:
                buf.extend(v)
            return self.writeto(addr, buf, stop)
    return I2C


def _rtc_class(clock, dirty):
    class RTC:
        """machine.RTC of the virtual board (a Pico's)."""

        def __init__(self, id=0):
            pass

        def datetime(self, t=None):
            if t is None:
                s = clock.now_ms() // 1000
                y, mo, d = _civil(s // 86400)
                return (y, mo, d, (s // 86400 + 3) % 7, s // 3600 % 24, s // 60 % 60,
                        s % 60, 0)
            clock.set_ms(_secs((t[0], t[1], t[2], t[4], t[5], t[6])) * 1000)
            dirty()
    return RTC


def _localtime(s):
    days = s // 86400
    y, mo, d = _civil(days)
    return (y, mo, d, s // 3600 % 24, s // 60 % 60, s % 60, (days + 3) % 7,
            days - _days(y, 1, 1) + 1)


class Clocks:
    """The board's DS3231 (or none) and its own RTC, with their state file."""

    def __init__(self, world_ms, cause, path, ds3231=True, epoch_ms=None):
        self.path = path
        saved = self._load()
        self.rtc = _Clock(world_ms, _secs(_RTC_EPOCH))
        if saved is None and epoch_ms is not None:
            # the session's first power-up: the board's RTC was set before it
            # (the world's time, --epoch plus board time), so that a run is a
            # function of its inputs; later power cuts lose it as a Pico does
            self.rtc.set_ms(epoch_ms())
        self.ds = None
        if ds3231:
            self.ds = DS3231(_Clock(world_ms, _secs(_DS_EPOCH)))
            self.ds.dow_day = _secs(_DS_EPOCH) // 86400
            self.ds.dirty = self.save
        if saved is not None:
            now = world_ms()
            if cause == "soft":          # only a soft reset keeps the board's RTC
                self.rtc.set_ms(saved[0] + now - saved[1])
            if self.ds is not None and len(saved) > 7:
                ds = self.ds
                ds.clock.set_ms(saved[2] + now - saved[3])
                ds.dow, ds.dow_day, ds.h12 = saved[4], saved[5], saved[6]
                ds.regs[7:] = bytes.fromhex(saved[7])[7:]
        self.save()

    def _load(self):
        try:
            with open(self.path) as f:
                parts = f.read().split()
            return [int(p) for p in parts[:7]] + parts[7:8]
        except (OSError, ValueError):
            return None

    def save(self):
        r, d = self.rtc, self.ds
        w = r.world_ms()
        line = "%d %d" % (r.now_ms(), w)
        if d is not None:
            line += " %d %d %d %d %d %s" % (d.clock.now_ms(), w, d.dow, d.dow_day, d.h12,
                                            "".join("%02x" % b for b in d.regs))
        try:
            import vfs               # the host's files, also once the flash is "/"
            with vfs.VfsPosix().open(self.path, "w") as f:
                f.write(line + "\n")
        except OSError:
            pass


def fit(machine, time, world_ms, cause, sock_path, ds3231=None, epoch_ms=None):
    """Give the board's `machine` an I2C bus (with the DS3231) and an RTC,
    and make `time`'s calendar functions read that RTC, as on a Pico.
    ds3231: fitted or not (None: unless PUMPMON_VBOARD_NO_DS3231=1)."""
    path = sock_path.rsplit("/", 1)[0] + "/clocks"
    if ds3231 is None:
        ds3231 = os.getenv("PUMPMON_VBOARD_NO_DS3231") != "1"
    c = Clocks(world_ms, cause, path, ds3231, epoch_ms)
    devices = {} if c.ds is None else {_ADDR: c.ds}
    if os.getenv("PUMPMON_VBOARD_NO_SSD1306") != "1":
        import simoled
        devices[simoled.ADDR] = simoled.SSD1306(sock_path.rsplit("/", 1)[0] + "/oled",
                                                world_ms)
    machine.I2C = _i2c_class(devices, getattr(time, "sleep_us", None), (0x3C,))
    machine.RTC = _rtc_class(c.rtc, c.save)

    def t_time():
        return c.rtc.now_ms() // 1000

    def t_localtime(secs=None):
        return _localtime(t_time() if secs is None else int(secs))

    def t_mktime(t):
        return _secs(t)

    time.time = t_time
    time.localtime = t_localtime
    time.gmtime = t_localtime
    time.mktime = t_mktime
    return c
