# The virtual board's peripherals as the firmware sees them, inside the VM:
# three unix sockets to the host (host_tools/vboard/). The data link carries
# LED, buzzer, watchdog and "time wanted" (ADVANCE) out, and the host's
# answer in: the samples and faults due until then, then a GRANT (board time
# is the host's: worldclock.py); the urgent link carries faults "now"; the
# control link the rare synchronous requests (hello, reset, "the REPL starts
# now", power cut). The records are boards/sim/rom/wire.py's. The sensor
# reads board.py makes on every tick never block.
import gc
import socket
import struct
import time         # the unix port's own (real time): imported before the ROM replaces it

import wire as W

_FAR = 1 << 60


def _connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(struct.pack("H", socket.AF_UNIX) + path.encode() + b"\0")
    return s


class HeapWatch:
    """The VM's heap as the host sees it (wire.HEAP records): at boot its
    size and what the ROM holds (a Pico has no ROM in its heap: the host
    subtracts it); then each new high-water of gc.mem_alloc() at the
    firmware's sleeps, a gc.collect() every HEAP_COLLECT_MS of board time.
    Nothing allocated (ints)."""

    def __init__(self, send):
        self.send = send
        self.peak = 0
        self.next = 0           # board us of the next gc.collect() before a reading

    def boot(self):
        gc.collect()
        a = gc.mem_alloc()
        self.send(W.HEAP, a + gc.mem_free(), 1)
        self.send(W.HEAP, a, 2)

    def sample(self, t):
        if t >= self.next:
            self.next = t + W.HEAP_COLLECT_MS * 1000
            gc.collect()
        a = gc.mem_alloc()
        if a > self.peak:
            self.peak = a
            self.send(W.HEAP, a)


class Link:
    """The board's peripherals, as seen from inside the VM."""

    def __init__(self, sock_path, token, cause, clock):
        self.clock = clock
        clock.link = self
        self.world_ms = clock.world_ms
        self.interrupted = 0
        d = _connect(sock_path)
        self.ctl = _connect(sock_path)
        # faults and key presses "now" (the control socket, keys): applied
        # at the next board call, whenever that is
        u = _connect(sock_path)
        self.u = u
        self.urx = bytearray(W.IN_SIZE)
        self.urxmv = memoryview(self.urx)
        self.urxn = 0
        self.rx = bytearray(W.IN_SIZE)
        self.rxmv = memoryview(self.rx)
        self.rxn = 0
        self.tx = bytearray(W.OUT_SIZE)
        self.d = d              # blocking: the board waits for the host (time stands still)
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
        self.buzzer_mode = 0  # 1: set_tone raises (a broken buzzer driver)
        self.wdt_ms = 0       # armed watchdog timeout (board ms), 0: off
        self.fed_ms = 0       # board ms of the last feed
        self.fed_real = time.ticks_ms() - 1000    # real ms of the last feed reported
        self.dead = 0
        self.heap = HeapWatch(self.send)
        self.send(W.LINK_DATA, int(token))    # the data link of...
        tx = self.tx
        tx[0] = W.LINK_URGENT                 # the urgent link of...
        u.write(tx)
        self.hello = self.request(W.HELLO + " " + token)   # ...the VM with this token
        u.setblocking(False)
        # the world's state (sensors, faults) and the first horizon; a Ctrl-C
        # meanwhile only keeps main.py from starting (as during hello)
        self._wait_grant(0)

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

    def request_at(self, what, arg=None):
        """A request that carries the board's time ("reset 12345"), and arg."""
        line = "%s %d" % (what, self.clock.us // 1000)
        return self.request(line if arg is None else line + " " + arg)

    # -- board time: asked of the host ---------------------------------
    def advance(self, t):
        """Board time t (us) is wanted: past the horizon or the watchdog's
        deadline. Returns when the host granted it, having taken what falls
        due until then; the host ends this VM instead when the watchdog
        fires or a reset, a power cut falls due first."""
        clock = self.clock
        self.heap.sample(t)
        while t >= clock.horizon or t > clock.deadline:
            fires = t > clock.deadline
            target = clock.deadline if fires else t
            ms = target // 1000
            self.send_at(W.ADVANCE, ms - self.fed_ms if self.wdt_ms else -1, ms, 1 if fires else 0)
            self._wait_grant()
            if target > clock.us:
                clock.us = target
            if fires:                   # still here: the host stopped the watchdog
                self.wdt_ms = 0
                clock.deadline = _FAR

    def _wait_grant(self, raise_intr=1):
        """Take the host's records up to its GRANT (blocking: board time
        stands still meanwhile). A Ctrl-C while waiting is raised after it."""
        rx = self.rx
        intr = 0
        while True:
            try:
                if self.rxn == 0:
                    n = self.d.readinto(rx)
                else:
                    n = self.d.readinto(self.rxmv[self.rxn:])
            except KeyboardInterrupt:
                intr = 1
                continue
            if not n:               # the host is gone: stop this VM
                self.dead = 1
                raise SystemExit(0)
            self.rxn += n
            if self.rxn < W.IN_SIZE:
                continue
            self.rxn = 0
            if rx[0] == W.GRANT:
                self.clock.horizon = W.get_due(rx) * 1000
                if W.get_i32(rx, W.IN_V0) & W.GRANT_WDT_OFF:
                    self.wdt_ms = 0
                    self.clock.deadline = _FAR
                break
            self._apply(rx[0], rx[1], rx[2], rx[3], W.get_i32(rx, W.IN_V0),
                        W.get_i32(rx, W.IN_V1), W.get_due(rx))
        if intr:
            if not raise_intr:
                self.interrupted = 1
                return
            raise KeyboardInterrupt

    # -- outputs ------------------------------------------------------
    def send(self, kind, value, small=0):
        self.send_at(kind, value, self.clock.us // 1000, small)

    def send_at(self, kind, value, world, small=0):
        tx = self.tx
        W.put_out(tx, kind, small, world, value)
        try:
            self.d.write(tx)        # blocking: never a dropped update
        except OSError:
            pass                    # the host is gone

    # -- inputs -------------------------------------------------------
    def poll(self):
        """Take the faults sent "now" (urgent link); never blocks. The
        samples and timed faults come with the host's grants."""
        if self.dead:
            raise SystemExit(0)
        urx = self.urx
        while True:
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
            if self.urxn == W.IN_SIZE:
                self.urxn = 0
                self._apply(urx[0], urx[1], urx[2], urx[3], W.get_i32(urx, W.IN_V0),
                            W.get_i32(urx, W.IN_V1), self.clock.us // 1000)
        if self.hang:
            self.hang = 0
            sleep = self.clock.sleep_us
            while True:             # a hung firmware: nothing fed; Ctrl-C still works
                sleep(100000)

    def _apply(self, kind, a, b, c, v0, v1, now):
        if kind == W.SAMPLE:    # a flags, b button, c refill, v0 level, v1 flow
            self.started = 1
            self.flags = a
            self.btn = b
            self.refill = c
            self.level = None if v0 == W.NONE else v0
            self.flow = None if v1 == W.NONE else v1
        elif kind == W.FAULT:   # a key, v0 value
            if a == W.FAULT_FLOW:
                self.flow_mode = v0
                self.flow_frozen = self.flow
            elif a == W.FAULT_LEVEL:
                self.level_mode = v0
                self.level_frozen = self.level
            elif a == W.FAULT_FLASH:
                self.flash_mode = v0
            elif a == W.FAULT_HANG:
                self.hang = 1
            elif a == W.FAULT_BUTTON:
                self.btn_until = now + v0
            elif a == W.FAULT_CUT:
                self.cut_bytes = v0
            elif a == W.FAULT_BUZZER:
                self.buzzer_mode = v0

    # -- the readings board.py uses ------------------------------------
    def read_flow(self):
        self.poll()
        if not self.begun:
            self.begun = 1
            self.send(W.BEGIN, 0)   # the firmware reads its sensors (trace start)
            self.clock.horizon = self.clock.us     # the first row is due now: ask
        m = self.flow_mode
        if m == W.SENSOR_OK:
            return self.flow
        if m == W.SENSOR_SILENT:
            return None
        if m == W.SENSOR_STUCK:
            return self.flow_frozen
        if m == W.SENSOR_RANGE:
            return 999990
        return self.flow

    def flow_flags(self):
        if self.flow_mode == W.FLOW_AIR:
            return 1
        return self.flags

    def read_level(self):
        # no poll here: the sample was taken by read_flow (the main loop
        # reads flow first), so level, flow, flags and refill of one tick
        # all come from the same trace row, as one instant
        m = self.level_mode
        if m == W.SENSOR_OK:
            return self.level
        if m == W.SENSOR_SILENT:
            return None
        if m == W.SENSOR_STUCK:
            return self.level_frozen
        return 250000

    def button(self):
        self.poll()
        if self.btn:
            return 1
        return 1 if self.btn_until and self.clock.us // 1000 < self.btn_until else 0

    def refill_mode(self):
        return self.refill

    def set_tone(self, hz, duty=None):
        if self.buzzer_mode:
            raise OSError(19)           # ENODEV: the buzzer's driver fails
        if duty is not None:
            self.send(W.DUTY, duty)
        self.send(W.TONE, hz)

    def set_led(self, colour):
        self.send(W.LED, colour)

    def heartbeat(self, level):
        self.send(W.HEARTBEAT, level)

    def arm_watchdog(self, timeout_ms):
        # the watchdog counts board time: a sleep past its deadline asks the
        # host, which resets the board there (worldclock.py)
        c = self.clock
        self.wdt_ms = timeout_ms
        self.fed_ms = c.us // 1000
        c.deadline = c.us + timeout_ms * 1000
        self.send(W.WDT_ARM, timeout_ms)

    def feed_watchdog(self):
        if not self.wdt_ms:
            self.arm_watchdog(8000)
            return
        c = self.clock
        self.fed_ms = c.us // 1000
        c.deadline = c.us + self.wdt_ms * 1000
        # "alive" for the host's hang check (code that feeds but does not
        # sleep: a host session at the REPL): at most 10 a second, real time
        now = time.ticks_ms()
        if time.ticks_diff(now, self.fed_real) >= 100:
            self.fed_real = now
            self.send(W.WDT_FEED, 0)

    def reset_cause(self):
        return self.cause

    def hard_reset(self):
        self.request_at(W.RESET)
        while True:
            time.sleep_ms(100)      # (real time) the host ends this VM

    def power_cut(self):
        self.request_at(W.CUT)
        while True:
            time.sleep_ms(100)
