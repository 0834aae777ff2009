# The virtual board's "ROM": run by the MicroPython unix port (as its main
# script, with -i) before the REPL, on every power-on, hard and soft reset of
# the virtual board (host_tools/vboard.py starts one unix-port process per
# reset). It does what a board's firmware does before the user's code runs:
#   - mounts the board's flash (a host folder, see FlashFS) as "/", with the
#     size limit of a real flash: OSError(ENOSPC) past it;
#   - connects the peripherals: two unix sockets to the host, one for samples,
#     faults, LED/buzzer/watchdog traffic (non-blocking, fixed 24/16-byte
#     records, nothing allocated per sample), one for rare synchronous
#     requests (hello, reset, "the REPL starts now", power cut);
#   - replaces `machine` (reset, soft_reset, reset_cause, WDT, ...) and `time`
#     (ticks_ms/ticks_us/sleep*/time run at the board's --speed, so firmware
#     sees trace time);
#   - runs boot.py, then main.py (not after a soft reset in raw REPL mode, as
#     a real board), printing tracebacks like pyexec does;
#   - returns, leaving the unix port's own REPL (friendly and raw REPL).
# Nothing here is on the flash: `import simhw` gives board.py the link.
import sys
import os


def _bios():
    import vfs
    import socket
    import struct
    import io
    import time as _utime
    _EIO = 5
    _ENOSPC = 28
    _NONE = -2147483648
    args = {}
    for a in sys.argv[1:]:
        kv = a.split("=", 1)
        if len(kv) == 2:
            args[kv[0]] = kv[1]
    sock_path = args["sock"]
    flash_dir = args["flash"]
    flash_size = int(args.get("size", "1048576"))
    block = int(args.get("block", "4096"))
    mono0 = int(args["mono0"])          # CLOCK_MONOTONIC us at world time 0
    speed_m = int(args.get("speed", "1000"))   # speed x 1000
    mode = args.get("mode", "normal")   # normal | raw (soft reset in raw REPL)
    cause = args.get("cause", "power_on")
    token = args.get("token", "")
    ticks_us = _utime.ticks_us
    ticks_diff = _utime.ticks_diff

    # world time = (CLOCK_MONOTONIC - mono0) x speed: the unix port's ticks_us
    # is CLOCK_MONOTONIC in us, the clock the host uses too, so both agree on
    # trace time without talking
    def world_us():
        return (ticks_us() - mono0) * speed_m // 1000

    def world_ms():
        return (ticks_us() - mono0) * speed_m // 1000000

    def _addr(path):
        return struct.pack("H", socket.AF_UNIX) + path.encode() + b"\0"

    class Link:
        """The board's peripherals, as seen from inside the VM."""

        def __init__(self):
            self.interrupted = 0
            d = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            d.connect(_addr(sock_path))
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(_addr(sock_path))
            self.ctl = c
            # faults and key presses "now": applied as soon as read, never
            # queued behind samples sent ahead of their time
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            u.connect(_addr(sock_path))
            self.u = u
            self.urx = bytearray(24)
            self.urxmv = memoryview(self.urx)
            self.urxn = 0
            self.ctl_rx = bytearray(256)
            self.rx = bytearray(24)
            self.rxmv = memoryview(self.rx)
            self.rxn = 0
            self.tx = bytearray(16)
            self.d = d
            self.cause = cause
            self.started = 0      # the trace is playing
            self.begun = 0        # 'B' (first sensor read) sent
            self.level = None
            self.flow = None
            self.flags = 0
            self.btn = 0
            self.refill = 0
            self.btn_until = 0
            self.flow_mode = 0    # 0 ok, 1 silent, 2 stuck, 3 out of range, 4 air
            self.level_mode = 0   # 0 ok, 1 silent, 2 stuck, 3 out of range
            self.flow_frozen = None
            self.level_frozen = None
            self.flash_mode = 0   # 0 ok, 1 write fails (EIO), 2 full (ENOSPC)
            self.cut_bytes = -1   # power cut after this many more flash bytes
            self.hang = 0
            self.wdt_ms = 0       # armed watchdog timeout (board ms), 0: off
            self.fed_us = 0
            self.dead = 0
            self.send(104, int(token))  # 'h': the data link of...
            tx = self.tx
            tx[0] = 117                 # 'u': the urgent link of...
            u.write(tx)
            self.hello = self.request("hello " + token)   # ...the VM with this token
            d.setblocking(False)
            u.setblocking(False)

        # -- synchronous requests (rare) ---------------------------------
        def request(self, line):
            c = self.ctl
            c.write((line + "\n").encode())
            got = b""
            while True:
                try:
                    chunk = c.recv(256)
                except KeyboardInterrupt:
                    self.interrupted = 1
                    continue
                if not chunk:
                    raise SystemExit(0)        # the host is gone
                got += chunk
                if got.endswith(b"\n"):
                    return got.decode().strip()

        # -- outputs ------------------------------------------------------
        def send(self, kind, value, small=0):
            tx = self.tx
            t = world_ms()
            tx[0] = kind
            tx[1] = small & 255
            i = 4
            while i < 12:
                tx[i] = t & 255
                t >>= 8
                i += 1
            v = value & 0xFFFFFFFF
            tx[12] = v & 255
            tx[13] = (v >> 8) & 255
            tx[14] = (v >> 16) & 255
            tx[15] = (v >> 24) & 255
            try:
                self.d.write(tx)
            except OSError:
                pass          # host busy or gone: a dropped update, never a stop

        # -- inputs -------------------------------------------------------
        def poll(self):
            """Take every record that is due from the host; never blocks."""
            if self.dead:
                raise SystemExit(0)
            now = world_ms()
            urx = self.urx
            while True:                 # urgent records first, all of them
                try:
                    if self.urxn == 0:
                        n = self.u.readinto(urx)
                    else:
                        n = self.u.readinto(self.urxmv[self.urxn:])
                except OSError:
                    n = None
                if not n:
                    break
                self.urxn += n
                if self.urxn == 24:
                    self.urxn = 0
                    self._apply(urx[0], urx[1], urx[2], urx[3], self._i32(urx, 12),
                                self._i32(urx, 16), now)
            rx = self.rx
            while True:
                if self.rxn < 24:
                    try:
                        if self.rxn == 0:
                            n = self.d.readinto(rx)
                        else:
                            n = self.d.readinto(self.rxmv[self.rxn:])
                    except OSError:
                        n = None
                    if n is None:
                        break
                    if n == 0:          # host gone: stop this VM
                        self.dead = 1
                        raise SystemExit(0)
                    self.rxn += n
                    if self.rxn < 24:
                        continue
                due = 0
                i = 11
                while i >= 4:
                    due = (due << 8) | rx[i]
                    i -= 1
                if due > now:
                    break               # keep it until its time comes
                self.rxn = 0
                self._apply(rx[0], rx[1], rx[2], rx[3], self._i32(rx, 12), self._i32(rx, 16),
                            now)
            if self.hang:
                self.hang = 0
                while True:             # a hung firmware: nothing fed, Ctrl-C still works
                    pass

        def _i32(self, rx, at):
            v = rx[at] | (rx[at + 1] << 8) | (rx[at + 2] << 16) | (rx[at + 3] << 24)
            if v & 0x80000000:
                v -= 0x100000000
            return v

        def _apply(self, kind, a, b, c, v0, v1, now):
            if kind == 83:      # 'S' sample: a flags, b button, c refill, v0 level, v1 flow
                self.started = 1
                self.flags = a
                self.btn = b
                self.refill = c
                self.level = None if v0 == _NONE else v0
                self.flow = None if v1 == _NONE else v1
            elif kind == 70:    # 'F' fault: a key, v0 value
                if a == 1:
                    self.flow_mode = v0
                    self.flow_frozen = self.flow
                elif a == 2:
                    self.level_mode = v0
                    self.level_frozen = self.level
                elif a == 3:
                    self.flash_mode = v0
                elif a == 4:
                    self.hang = 1
                elif a == 5:
                    self.btn_until = now + v0
                elif a == 6:
                    self.cut_bytes = v0

        # -- the readings board.py uses ------------------------------------
        def read_flow(self):
            self.poll()
            if not self.begun:
                self.begun = 1
                self.send(66, 0)        # 'B': the firmware reads its sensors (trace start)
            m = self.flow_mode
            if m == 0:
                return self.flow
            if m == 1:
                return None
            if m == 2:
                return self.flow_frozen
            if m == 3:
                return 999990
            return self.flow

        def flow_flags(self):
            if self.flow_mode == 4:
                return 1
            return self.flags

        def read_level(self):
            # no poll here: the sample was taken by read_flow (the main loop
            # reads flow first), so level, flow, flags and refill of one tick
            # all come from the same trace row, as one instant
            m = self.level_mode
            if m == 0:
                return self.level
            if m == 1:
                return None
            if m == 2:
                return self.level_frozen
            return 250000

        def button(self):
            self.poll()
            if self.btn:
                return 1
            return 1 if self.btn_until and world_ms() < self.btn_until else 0

        def refill_mode(self):
            return self.refill

        def set_tone(self, hz):
            self.send(90, hz)           # 'Z'

        def set_led(self, colour):
            self.send(76, colour)       # 'L'

        def arm_watchdog(self, timeout_ms):
            self.wdt_ms = timeout_ms
            self.fed_us = ticks_us()
            self.send(75, timeout_ms)   # 'K'

        def feed_watchdog(self):
            if not self.wdt_ms:
                self.arm_watchdog(8000)
            now = ticks_us()
            if ticks_diff(now, self.fed_us) >= 50000:   # at most 20 reports/s
                self.fed_us = now
                self.send(87, 0)        # 'W'

        def reset_cause(self):
            return self.cause

        def hard_reset(self):
            self.request("reset")
            while True:
                _utime.sleep_ms(100)    # the host ends this VM

        def power_cut(self):
            self.request("cut")
            while True:
                _utime.sleep_ms(100)

    link = Link()

    # ---- the flash --------------------------------------------------------
    class FlashFile(io.IOBase):
        """A file open for writing on the flash: every write is checked
        against the free space (and the faults) first."""

        def __init__(self, fs, f, path, size):
            self.fs = fs
            self.f = f
            self.path = path
            self.size = size

        def write(self, buf):
            fs = self.fs
            n = len(buf)
            if n == 0:
                return 0
            link.poll()
            if link.flash_mode == 1:
                raise OSError(_EIO)
            pos = self.f.tell()
            end = pos + n
            if end > self.size:
                need = fs.blocks(end) - fs.blocks(self.size)
                if link.flash_mode == 2 or (need > 0 and fs.used + need > fs.total):
                    raise OSError(_ENOSPC)
            else:
                need = 0
            if link.cut_bytes >= 0:
                if n >= link.cut_bytes:     # the power goes mid-write
                    k = link.cut_bytes
                    if k:
                        self.f.write(memoryview(buf)[:k])
                    self.f.flush()
                    link.power_cut()
                link.cut_bytes -= n
            r = self.f.write(buf)
            if end > self.size:
                fs.used += need
                self.size = end
            return r

        def readinto(self, buf):
            return self.f.readinto(buf)

        def read(self, n=-1):
            return self.f.read(n)

        def readline(self):
            return self.f.readline()

        def seek(self, off, whence=0):
            return self.f.seek(off, whence)

        def tell(self):
            return self.f.tell()

        def flush(self):
            return self.f.flush()

        def close(self):
            return self.f.close()

        def fileno(self):
            return self.f.fileno()

        def ioctl(self, req, arg):
            if req == 4:
                self.f.close()
            return 0

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

        def __iter__(self):
            return self

        def __next__(self):
            line = self.f.readline()
            if not line:
                raise StopIteration
            return line

    class FlashFS:
        """The board's flash: a host folder seen through VfsPosix, with a size
        limit counted in blocks as littlefs does (a file takes ceil(size /
        block) blocks, a folder one block, the root two)."""

        def __init__(self, root, size, bs):
            self.v = vfs.VfsPosix(root)
            self.hostfs = vfs.VfsPosix()
            self.root = root.rstrip("/")
            self.bs = bs
            self.total = size // bs
            self.used = 2 + self._walk("/")

        def blocks(self, nbytes):
            return (nbytes + self.bs - 1) // self.bs

        def _walk(self, path):
            n = 0
            for e in self.v.ilistdir(path):
                p = path + e[0]
                if e[1] == 0x4000:
                    n += 1 + self._walk(p + "/")
                else:
                    n += self.blocks(self.v.stat(p)[6])
            return n

        def _fsize(self, path):
            try:
                st = self.v.stat(path)
            except OSError:
                return -1
            if st[0] & 0x4000:
                return -2
            return st[6]

        def mount(self, readonly, mkfs):
            pass

        def umount(self):
            pass

        def ilistdir(self, path):
            # (name, type, inode, size) as littlefs gives
            v = self.v
            base = path if path.endswith("/") else path + "/"
            for e in v.ilistdir(path):
                if e[1] == 0x4000:
                    yield (e[0], 0x4000, 0, 0)
                else:
                    try:
                        size = v.stat(base + e[0])[6]
                    except OSError:
                        size = 0
                    yield (e[0], e[1], 0, size)

        def chdir(self, path):
            return self.v.chdir(path)

        def getcwd(self):
            return self.v.getcwd()

        def stat(self, path):
            return self.v.stat(path)

        def statvfs(self, path):
            free = self.total - self.used
            if free < 0:
                free = 0
            return (self.bs, self.bs, self.total, free, free, 0, 0, 0, 0, 255)

        def mkdir(self, path):
            if self.used + 1 > self.total:
                raise OSError(_ENOSPC)
            if link.flash_mode == 1:
                raise OSError(_EIO)
            self.v.mkdir(path)
            self.used += 1

        def rmdir(self, path):
            self.v.rmdir(path)
            self.used -= 1

        def remove(self, path):
            s = self._fsize(path)
            self.v.remove(path)
            if s > 0:
                self.used -= self.blocks(s)

        def _host(self, path):
            if not path.startswith("/"):
                cwd = self.v.getcwd()
                path = cwd + ("" if cwd.endswith("/") else "/") + path
            return self.root + path

        def rename(self, a, b):
            # VfsPosix(root).rename loses the first path (it shares one path
            # buffer): rename the host paths with a root-less VfsPosix instead
            s = self._fsize(b)
            if self._fsize(a) == -1:
                raise OSError(2)
            self.hostfs.rename(self._host(a), self._host(b))
            if s > 0:
                self.used -= self.blocks(s)

        def open(self, path, mode):
            if "w" in mode or "a" in mode or "+" in mode or "x" in mode:
                if link.flash_mode == 1:
                    raise OSError(_EIO)
                s = self._fsize(path)
                f = self.v.open(path, mode)
                if s > 0 and "w" in mode:
                    self.used -= self.blocks(s)     # truncated
                    s = 0
                if s < 0:
                    s = 0
                return FlashFile(self, f, path, s)
            return self.v.open(path, mode)

    flash = FlashFS(flash_dir, flash_size, block)

    # ---- machine and time, at the board's speed --------------------------------
    class Time:
        pass

    T = Time()
    for name in dir(_utime):
        if not name.startswith("__"):
            setattr(T, name, getattr(_utime, name))
    wall0 = _utime.time() - world_ms() // 1000

    def t_ticks_ms():
        return world_ms()

    def t_ticks_us():
        return world_us()

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

    T.ticks_ms = t_ticks_ms
    T.ticks_us = t_ticks_us
    T.ticks_cpu = t_ticks_us
    T.sleep_ms = t_sleep_ms
    T.sleep_us = t_sleep_us
    T.sleep = t_sleep
    T.time = t_time
    T.time_ns = t_time_ns
    T.localtime = t_localtime
    T.gmtime = t_gmtime

    import machine as _m

    class Machine:
        PWRON_RESET = 1
        HARD_RESET = 2
        WDT_RESET = 3
        DEEPSLEEP_RESET = 4
        SOFT_RESET = 5

    M = Machine()
    for name in dir(_m):
        if not name.startswith("__"):
            setattr(M, name, getattr(_m, name))
    codes = {"power_on": 1, "hard": 2, "watchdog": 3, "soft": 5}

    def m_reset():
        link.hard_reset()

    def m_soft_reset():
        raise SystemExit(0)

    def m_reset_cause():
        return codes.get(link.cause, 2)

    def m_freq(*a):
        return 125000000

    def m_unique_id():
        return b"vboard01"

    def m_bootloader(*a):
        link.hard_reset()

    class WDT:
        def __init__(self, id=0, timeout=5000):
            link.arm_watchdog(timeout)

        def feed(self):
            link.feed_watchdog()

    M.reset = m_reset
    M.soft_reset = m_soft_reset
    M.reset_cause = m_reset_cause
    M.freq = m_freq
    M.unique_id = m_unique_id
    M.bootloader = m_bootloader
    M.WDT = WDT

    class SimHW:
        pass

    hw = SimHW()
    hw.link = link
    hw.world_ms = world_ms
    hw.flash = flash
    sys.modules["simhw"] = hw
    sys.modules["machine"] = M
    sys.modules["time"] = T

    # ---- the flash becomes "/" --------------------------------------------------
    os.umount("/")
    os.mount(flash, "/")
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]
    return link, mode


def _run(name, g):
    try:
        os.stat(name)
    except OSError:
        return 0
    try:
        execfile(name, g)
    except KeyboardInterrupt as e:
        sys.print_exception(e)
        return 1
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - like pyexec: print and go on
        sys.print_exception(e)
    return 0


def _start():
    link = None
    g = globals()
    try:
        link, mode = _bios()
        skip = "skip_main=1" in link.hello
        stop = _run("boot.py", g)
        if mode != "raw" and not skip and not stop and not link.interrupted:
            _run("main.py", g)
    except KeyboardInterrupt as e:
        sys.print_exception(e)
    finally:
        if link is not None:     # always: the host waits for it in raw mode
            link.request("repl")


_start()
del _start, _run, _bios, sys, os
