"""The virtual board's hardware link: the unix sockets the ROM
(boards/sim/rom/link.py) connects, and the records on them
(boards/sim/rom/wire.py): samples and faults to the VM, LED, buzzer, watchdog
and "first sensor read" from it; the VM's rare requests (hello, reset, the
REPL starts, power cut). The board's outputs (LED, buzzer) as last seen."""
import os
import selectors
import socket
import time

from host_tools import paths
from pumpmon.patterns import COLOUR_NAMES

W = paths.rom_module("wire")


def recv(sock, n):
    """What a non-blocking socket (or pty fd) has: None when nothing yet,
    b"" when it is closed or broken."""
    try:
        return os.read(sock, n) if isinstance(sock, int) else sock.recv(n)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def listen_unix(path, backlog):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(backlog)
    s.setblocking(False)
    return s


class Pending:
    """A connection not yet known (or the control socket's), with what it sent."""
    __slots__ = ("sock", "buf")

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""


def accept(sel, listen, handler):
    """A new connection on a listening socket: handler(Pending) when it sends."""
    try:
        conn, _ = listen.accept()
    except BlockingIOError:
        return
    conn.setblocking(False)
    sel.register(conn, selectors.EVENT_READ, (handler, Pending(conn)))


def receive(sel, st):
    """Append what st's connection sent to st.buf; False when there is
    nothing new (closed connections are unregistered and closed)."""
    conn = st.sock
    data = recv(conn, 4096)
    if data is None:
        return False
    if not data:
        sel.unregister(conn)
        conn.close()
        return False
    st.buf += data
    return True


class HardwareLink:
    """The ROM's sockets at `sock_path`: who connects (by the VM's token),
    what the VM sends (records, requests) and where it goes: board time and
    faults to playback, the REPL's start to the console, resets and power
    cuts to power (after the round of the loop: take_later)."""

    def __init__(self, sel, sock_path, clock, power, console, playback, timeline):
        self.sel = sel
        self.clock = clock
        self.power = power
        self.console = console
        self.playback = playback
        self.timeline = timeline
        self.led = None
        self.tone = 0
        self.duty = 0                # the buzzer PWM's duty_u16 (its tones are recorded with it)
        self.last_tone_world = None  # the buzzer's last note (board time)
        self.later = []              # (what, arg): a reset or power cut the VM asked for
        # the heap inside the running VM (gc): its size, what the ROM holds,
        # the high-water of gc.mem_alloc() at the firmware's sleeps (wire.HEAP)
        self.heap = {"size": None, "rom": None, "peak": None}
        self.listen = listen_unix(sock_path, 8)
        sel.register(self.listen, selectors.EVENT_READ, (self._accept, None))

    def close(self):
        self.listen.close()

    def take_later(self):
        later, self.later = self.later, []
        return later

    def _accept(self, _arg):
        accept(self.sel, self.listen, self._new)

    def _new(self, st):
        if not receive(self.sel, st):
            return
        conn = st.sock
        buf = st.buf
        vm = self.power.vm
        if buf[:2] == bytes((W.LINK_DATA, 0)) and len(buf) >= W.OUT_SIZE:
            kind, _s, _t, token = W.unpack_out(buf)
            self.sel.unregister(conn)
            if vm is None or token != vm.token:
                conn.close()
                return
            vm.data = conn
            vm.data_buf = buf[W.OUT_SIZE:]
            self.sel.register(conn, selectors.EVENT_READ, (self._data, vm))
            if vm.hello:
                self.playback.resume(vm)
        elif buf[:2] == bytes((W.LINK_URGENT, 0)) and len(buf) >= W.OUT_SIZE:
            kind, _s, _t, token = W.unpack_out(buf)
            self.sel.unregister(conn)
            if vm is None or token != vm.token:
                conn.close()
                return
            vm.urgent = conn           # the host only writes to it
        elif buf.startswith(W.HELLO.encode() + b" ") and buf.endswith(b"\n"):
            self.sel.unregister(conn)
            tok = buf.split()[1].decode()
            if vm is None or tok != str(vm.token):
                conn.close()
                return
            vm.ctl = conn
            self.sel.register(conn, selectors.EVENT_READ, (self._ctl, vm))
            self._hello(vm)

    def _hello(self, vm):
        vm.hello = True
        skip = self.console.take_boot_interrupt()
        self._send_ctl(vm, "ok skip_main=%d started=%d" % (skip, self.clock.trace_world0
                                                           is not None))
        if vm.data is not None:
            self.playback.resume(vm)

    def _send_ctl(self, vm, line):
        try:
            vm.ctl.sendall((line + "\n").encode())
        except OSError:
            pass

    def _ctl(self, vm):
        if vm is not self.power.vm or vm.ctl is None:
            return                      # an old VM's: gone
        while vm is self.power.vm and vm.data is not None and self._data(vm):
            pass                        # what the VM sent before this request comes first
        if vm is not self.power.vm or vm.ctl is None:
            return
        data = recv(vm.ctl, 4096)
        if data is None:
            return
        if not data:
            self.sel.unregister(vm.ctl)
            vm.ctl.close()
            vm.ctl = None
            return
        vm.ctl_buf += data
        while b"\n" in vm.ctl_buf:
            line, vm.ctl_buf = vm.ctl_buf.split(b"\n", 1)
            self._request(vm, line.decode().strip())

    def _request(self, vm, line):
        line, _, world = line.partition(" ")
        world, _, arg = world.partition(" ")
        if world.isdigit():             # the board's time when it asked
            self.clock.reach(int(world))
        if line == W.REPL:
            self.timeline.check_log_changed(vm)   # (the firmware may have logged its stop)
            self.console.repl_starts(vm)
            self._send_ctl(vm, "ok")
        elif line == W.TYPED:           # unread before the REPL: written again once it reads
            vm.typed = bytes.fromhex(arg)
            self._send_ctl(vm, "ok")
        elif line == W.RESET:
            self._send_ctl(vm, "ok")
            self.later.append(("hard", "hard"))
        elif line == W.CUT:
            self.playback.cut_fired()
            self._send_ctl(vm, "ok")
            self.later.append(("cut", 1.0))
        else:
            self._send_ctl(vm, "error")

    def _data(self, vm):
        """Take the VM's records, in order; True when there were some."""
        if vm is not self.power.vm or vm.data is None:
            return False
        data = recv(vm.data, 65536)
        if data is None:
            return False
        if not data:
            self.sel.unregister(vm.data)
            vm.data.close()
            vm.data = None
            return False
        buf = vm.data_buf + data
        n = len(buf) // W.OUT_SIZE * W.OUT_SIZE
        for off in range(0, n, W.OUT_SIZE):
            kind, small, world, value = W.unpack_out(buf, off)
            if kind == W.ADVANCE:
                self.playback.advance(vm, world, small, value)
            else:
                self.clock.reach(world)
                self._event(vm, kind, small, world, value)
            if vm is not self.power.vm:
                return False            # it was reset: the rest is an old VM's
        vm.data_buf = buf[n:]
        return True

    def _event(self, vm, kind, small, world, value):
        note = self.timeline.note
        if kind == W.LED:
            name = COLOUR_NAMES[value] if 0 <= value < len(COLOUR_NAMES) else str(value)
            if name != self.led:
                self.led = name
                note("led", world, colour=name)
        elif kind == W.DUTY:                # the buzzer PWM's duty, before its tone
            self.duty = value
        elif kind == W.TONE:
            if value:
                self.last_tone_world = world
            if value != self.tone:
                self.tone = value
                note("tone", world, hz=value, duty=self.duty if value else 0)
        elif kind == W.HEARTBEAT:
            note("heartbeat", world, level=value)
        elif kind == W.WDT_FEED:            # fed (real-time rate): not hung
            vm.asked = time.monotonic()
            vm.cpu_mark = None
        elif kind == W.WDT_ARM:
            vm.wdt_ms = value
            vm.fed_ms = world
            self.power.watchdog_armed(value)
            note("watchdog", world, what="armed", timeout_ms=value)
        elif kind == W.HEAP:
            heap = self.heap
            if small == 0:
                heap["peak"] = max(heap["peak"] or 0, value)
            elif small == 1:            # a new VM: its figures
                heap.update(size=value, rom=None, peak=None)
            else:
                heap["rom"] = value
        elif kind == W.BEGIN:                   # the firmware reads its sensors
            vm.first_read = world
            self.playback.begin(world)
