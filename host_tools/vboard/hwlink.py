"""The virtual board's hardware link: the unix sockets the ROM
(boards/sim/rom/link.py) connects, and the records on them
(boards/sim/rom/wire.py): samples and faults to the VM, LED, buzzer, watchdog
and "first sensor read" from it; the VM's rare requests (hello, reset, the
REPL starts, power cut). A part of VirtualBoard."""
import os
import selectors
import socket
import time

from host_tools import paths
from host_tools.vboard.playback import Rec
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


class HardwareLink:
    def _setup_hw_link(self):
        self.hw_listen = listen_unix(self.sock_path, 8)
        self.sel.register(self.hw_listen, selectors.EVENT_READ, ("hw_accept", None))

    def _accept(self, listen, tag):
        """A new connection on a listening socket, registered as tag."""
        try:
            conn, _ = listen.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self.sel.register(conn, selectors.EVENT_READ, (tag, Pending(conn)))

    def _receive(self, st):
        """Append what st's connection sent to st.buf; False when there is
        nothing new (closed connections are unregistered and closed)."""
        conn = st.sock
        data = recv(conn, 4096)
        if data is None:
            return False
        if not data:
            self.sel.unregister(conn)
            conn.close()
            return False
        st.buf += data
        return True

    def _hw_accept(self, _arg=None):
        self._accept(self.hw_listen, "hw_new")

    def _hw_new(self, st):
        if not self._receive(st):
            return
        conn = st.sock
        buf = st.buf
        vm = self.vm
        if buf[:2] == bytes((W.LINK_DATA, 0)) and len(buf) >= W.OUT_SIZE:
            kind, _s, _t, token = W.unpack_out(buf)
            self.sel.unregister(conn)
            if vm is None or token != vm.token:
                conn.close()
                return
            vm.data = conn
            vm.data_buf = buf[W.OUT_SIZE:]
            self.sel.register(conn, selectors.EVENT_READ, ("hw_data", vm))
            if vm.hello:
                self._resend_world(vm)
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
            self.sel.register(conn, selectors.EVENT_READ, ("hw_ctl", vm))
            self._vm_hello(vm)

    def _vm_hello(self, vm):
        vm.hello = True
        skip = self.pending_interrupt
        self.pending_interrupt = False
        self._send_ctl(vm, "ok skip_main=%d started=%d" % (skip, self.trace_world0 is not None))
        if vm.data is not None:
            self._resend_world(vm)

    def _resend_world(self, vm):
        """A new VM (it waits for this): the sensors' state, the faults in
        force, what falls due at its first instant, then its first grant."""
        self._check_log()
        for name, value in self.world_faults.items():
            self._send_fault(vm, name, value, 0)
        if self.current is not None:
            self._send_sample(vm, self.current, 0)
        if self._deliver_until(self.board_ms, vm):
            self._grant(vm, self.board_ms)

    def _send_ctl(self, vm, line):
        try:
            vm.ctl.sendall((line + "\n").encode())
        except OSError:
            pass

    def _hw_ctl(self, vm):
        if vm is not self.vm or vm.ctl is None:
            return                      # an old VM's: gone
        while vm is self.vm and vm.data is not None and self._hw_data(vm):
            pass                        # what the VM sent before this request comes first
        if vm is not self.vm or vm.ctl is None:
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
            self._vm_request(vm, line.decode().strip())

    def _vm_request(self, vm, line):
        line, _, world = line.partition(" ")
        if world.isdigit():             # the board's time when it asked
            self.board_ms = max(self.board_ms, int(world))
        if line == W.REPL:
            self._check_log_changed()   # (the firmware may have logged its stop)
            self._repl_starts(vm)
            self._send_ctl(vm, "ok")
            self._vm_write(vm, b"")
        elif line == W.RESET:
            self._send_ctl(vm, "ok")
            self._later.append(("hard", "hard"))
        elif line == W.CUT:
            self.world_faults.pop("cut-after", None)
            self._send_ctl(vm, "ok")
            self._later.append(("cut", 1.0))
        else:
            self._send_ctl(vm, "error")

    def _repl_starts(self, vm):
        # all the board printed before is in its pty: pass it on, then (raw
        # mode after a soft reset) enter raw REPL for the client
        vm.repl = True
        vm.repl_at = time.monotonic()
        self._drain(vm)
        if vm.mode == "raw":
            self.swallow = b""
            self.hold = False
            vm.in_q = b"\x01" + vm.in_q

    def _drain(self, vm):
        """Pass on all the VM has printed so far."""
        while True:
            data = recv(vm.master, 65536)
            if not data:
                return
            self.vm_output(data)

    def _hw_data(self, vm):
        """Take the VM's records, in order; True when there were some."""
        if vm is not self.vm or vm.data is None:
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
                self._advance(vm, world, small, value)
            else:
                if world > self.board_ms:
                    self.board_ms = world
                self._vm_event(vm, kind, world, value)
            if vm is not self.vm:
                return False            # it was reset: the rest is an old VM's
        vm.data_buf = buf[n:]
        return True

    def _vm_event(self, vm, kind, world, value):
        if kind == W.LED:
            name = COLOUR_NAMES[value] if 0 <= value < len(COLOUR_NAMES) else str(value)
            if name != self.led:
                self.led = name
                self.note("led", world, colour=name)
        elif kind == W.DUTY:                # the buzzer PWM's duty, before its tone
            self.duty = value
        elif kind == W.TONE:
            if value:
                self.last_tone_world = world
            if value != self.tone:
                self.tone = value
                self.note("tone", world, hz=value, duty=self.duty if value else 0)
        elif kind == W.HEARTBEAT:
            self.note("heartbeat", world, level=value)
        elif kind == W.WDT_FEED:            # fed (real-time rate): not hung
            vm.asked = time.monotonic()
            vm.cpu_mark = None
        elif kind == W.WDT_ARM:
            vm.wdt_ms = value
            vm.fed_ms = world
            self.wdt_keep_ms = value         # until a hard reset (board._repl_watchdog)
            self.note("watchdog", world, what="armed", timeout_ms=value)
        elif kind == W.BEGIN:                   # the firmware reads its sensors
            vm.first_read = world
            if self.trace is not None and self.trace_world0 is None:
                self._start_trace(world)

    def _send_raw(self, vm, rec):
        if len(vm.data_out) < 50 * 2 ** 20:      # a VM that stopped reading: keep order
            vm.data_out += W.pack_in(*rec[:7])
        self._flush_data(vm)

    def _flush_data(self, vm):
        while vm.data_out and vm.data is not None:
            try:
                n = vm.data.send(vm.data_out)
            except BlockingIOError:
                return
            except OSError:
                vm.data_out = bytearray()
                return
            del vm.data_out[:n]

    def _send_sample(self, vm, cur, due):
        self._send_raw(vm, Rec(W.SAMPLE, cur.flags, cur.button, cur.refill, due,
                               W.NONE if cur.level is None else cur.level,
                               W.NONE if cur.flow is None else cur.flow))

    def _send_fault(self, vm, name, value, due):
        key = W.FAULT_KEYS[name]
        if vm is not None and vm.data is not None:
            self._send_raw(vm, Rec(W.FAULT, key, 0, 0, due, int(min(value, 2 ** 31 - 1)), 0))
