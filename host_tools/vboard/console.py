"""The virtual board's console: the serial port a client opens (a pty, and
socket://127.0.0.1:PORT) relayed to and from the VM's own pty; Ctrl-C turned
into SIGINT while code runs, as a board's UART interrupt does; the REPL's
start (input held until it reads, raw REPL entered after a soft reset in raw
mode)."""
import os
import pty
import selectors
import signal
import socket
import termios
import time
import tty

from host_tools.vboard.faults import UsageError
from host_tools.vboard.hwlink import recv

RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_MARK = b'Type "help()" for more information.'


class Client:
    """A serial client: the pty or one TCP connection, with what it has not
    read yet; stalled is when it last could not take more."""
    __slots__ = ("kind", "fd", "keep", "out", "stalled")

    def __init__(self, kind, fd, keep=None):
        self.kind = kind        # "pty" | "tcp"
        self.fd = fd            # the pty master (an fd) or the socket
        self.keep = keep        # the pty's slave, which the host keeps open
        self.out = bytearray()
        self.stalled = None

    def flush(self):
        """Write what the client can take; False when its connection broke.
        A client that reads slowly holds the board back (flow control, as
        USB does); one that has read nothing for 2 s is taken as absent (a
        pty nobody has open): its backlog is dropped, the newest 4 KiB kept."""
        buf = self.out
        while buf:
            try:
                if self.kind == "pty":
                    n = os.write(self.fd, bytes(buf[:4096]))
                else:
                    n = self.fd.send(bytes(buf[:65536]))
            except BlockingIOError:
                now = time.monotonic()
                if self.stalled is None:
                    self.stalled = now
                elif now - self.stalled > 2.0:
                    if self.kind == "pty":
                        termios.tcflush(self.keep, termios.TCIFLUSH)
                    del buf[:max(0, len(buf) - 4096)]
                    self.stalled = None
                    continue
                break
            except OSError:
                return self.kind != "tcp"
            self.stalled = None
            del buf[:n]
        return True


class Console:
    """The serial console: its clients (the pty, one TCP connection at a
    time) and the VM it is attached to (Power.spawn attaches each new one).
    Registers its endpoints in `sel`; `note` is the timeline's."""

    def __init__(self, sel, pty_path, tcp_port, note):
        self.sel = sel
        self.note = note
        self.pty_path = pty_path
        self.vm = None
        self.clients = []            # Client: the pty's, the TCP one's
        self.raw = False             # the VM's REPL is in raw mode (as far as seen)
        self.mount = False           # mpremote mount's binary protocol runs
        self.swallow = None          # bytes seen while waiting for the raw prompt
        self.hold = False            # console input held (until the REPL reads)
        self.console_in = 0.0        # when a client last sent a console byte (monotonic)
        self.pending_interrupt = False   # a Ctrl-C while the VM booted: skip main.py
        self.prev_out = b""
        self.tail = b""
        # the pty a serial client opens; the host keeps the slave open itself
        # so the master never reads EIO between clients
        self.pty_master, slave = pty.openpty()
        tty.setraw(slave)
        self.pty_keep = slave
        self.pty_name = os.ttyname(slave)
        os.set_blocking(self.pty_master, False)
        try:
            if os.path.islink(pty_path) or os.path.exists(pty_path):
                os.unlink(pty_path)
            os.makedirs(os.path.dirname(os.path.abspath(pty_path)), exist_ok=True)
            os.symlink(self.pty_name, pty_path)
        except OSError as e:
            raise UsageError("cannot create the pty link %s: %s" % (pty_path, e))
        self.pty_client = Client("pty", self.pty_master, slave)
        self.clients.append(self.pty_client)
        sel.register(self.pty_master, selectors.EVENT_READ, (self._client_read, self.pty_client))
        self.tcp = None
        self.tcp_port = tcp_port
        if tcp_port is not None and tcp_port >= 0:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", tcp_port))
            except OSError as e:
                raise UsageError("cannot listen on 127.0.0.1:%d: %s" % (tcp_port, e))
            s.listen(2)
            s.setblocking(False)
            self.tcp = s
            self.tcp_port = s.getsockname()[1]
            sel.register(s, selectors.EVENT_READ, (self._tcp_accept, None))
        self.tcp_client = None

    def attach(self, vm):
        """A new VM (power-on, reset): its output from the start."""
        self.vm = vm
        self.raw = vm.mode == "raw"
        self.mount = False
        self.prev_out = b""
        self.tail = b""
        self.swallow = None
        self.hold = vm.mode == "raw"

    def interrupt_boot(self):
        """The next VM's main.py is not to start (a Ctrl-C meant for a REPL)."""
        self.pending_interrupt = True

    def take_boot_interrupt(self):
        """Was a Ctrl-C sent while the VM booted? (asked once, at its hello)"""
        skip, self.pending_interrupt = self.pending_interrupt, False
        return skip

    def detach(self, vm):
        """The VM is gone (reaped): input is lost until the next one."""
        if self.vm is vm:
            self.vm = None

    def close(self):
        if self.tcp is not None:
            self.tcp.close()
        if self.tcp_client:
            self._drop_tcp()
        for fd in (self.pty_master, self.pty_keep):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            if os.path.islink(self.pty_path) and os.readlink(self.pty_path) == self.pty_name:
                os.unlink(self.pty_path)
        except OSError:
            pass

    # ---- to the clients ---------------------------------------------------------------
    def to_clients(self, data):
        if not data:
            return
        for c in self.clients:
            c.out += data
        self.flush_clients()

    def flush_clients(self):
        for c in list(self.clients):
            if c.out and not c.flush():
                self._drop_tcp()
    def backlog(self):
        return max((len(c.out) for c in self.clients), default=0)

    def vm_out(self, vm):
        """The VM printed something: to the clients."""
        if self.backlog() > 262144:
            return                      # clients behind: the board's output waits
        data = recv(vm.master, 65536)
        if data:
            self._vm_output(data)
        elif data is not None:          # its pty closed
            try:
                self.sel.unregister(vm.master)
            except (KeyError, ValueError):
                pass

    def drain(self, vm):
        """Pass on all the VM has printed so far."""
        while True:
            data = recv(vm.master, 65536)
            if not data:
                return
            self._vm_output(data)

    def _vm_output(self, data):
        if 0x18 in data:
            self.mount = True           # mpremote mount's binary protocol from now on
        tail = self.tail + data
        r = tail.rfind(RAW_BANNER)
        f = tail.rfind(FRIENDLY_MARK)
        if r >= 0 or f >= 0:
            self.raw = r > f
        self.tail = tail[-64:]
        if self.swallow is not None:
            self.swallow += data
            i = self.swallow.find(RAW_PROMPT)
            if i < 0:
                return
            data = RAW_PROMPT + self.swallow[i + len(RAW_PROMPT):]
            self.swallow = None
            self.raw = True
            self.hold = False
            self.to_clients(data)
            if self.vm is not None and self.vm.in_q:
                self.vm_write(self.vm, b"")
            return
        if not self.raw and not self.mount:
            # a board prints "\r\n" for "\n"; the unix port leaves it to the tty
            out = bytearray()
            prev = self.prev_out
            for i, b in enumerate(data):
                if b == 10 and (prev if i == 0 else data[i - 1:i]) != b"\r":
                    out += b"\r\n"
                else:
                    out.append(b)
            data = bytes(out)
        if data:
            self.prev_out = data[-1:]
        self.to_clients(data)

    def client_input(self, data):
        self.console_in = time.monotonic()   # a tool at work (the REPL's watchdog)
        vm = self.vm
        if vm is None:
            return                      # powered off: the bytes are lost
        while data:
            i = data.find(b"\x03")
            if i < 0:
                self._queue_in(vm, data)
                return
            if i:
                self._queue_in(vm, data[:i])
            data = data[i + 1:]
            self._ctrl_c(vm)

    def _queue_in(self, vm, data):
        vm.in_q += data
        if not self.hold:
            self.vm_write(vm, b"")

    def vm_write(self, vm, data):
        vm.in_q += data
        while vm.in_q:
            chunk = vm.in_q[:4096]
            try:
                n = os.write(vm.master, chunk)
            except BlockingIOError:
                break
            except OSError:
                vm.in_q = b""
                break
            if vm.last_sigint and time.monotonic() - vm.last_sigint < 2.0:
                vm.replay += chunk[:n]
            vm.in_q = vm.in_q[n:]

    def _ctrl_c(self, vm):
        if self.hold:
            vm.in_q += b"\x03"
            return
        if not vm.hello:
            self.pending_interrupt = True     # booting: main.py will not start
            return
        if vm.lflag() == 0:                   # the REPL reads: a plain byte
            self.vm_write(vm, b"\x03")
            return
        if vm.sigint_caught():
            now = time.monotonic()
            if now - vm.last_sigint > 0.3:    # a second SIGINT too soon kills the port
                self.vm_write(vm, b"")       # what came before the Ctrl-C first
                vm.last_sigint = now
                vm.replay = b""
                os.kill(vm.pid, signal.SIGINT)
                if vm.wdt_ms:
                    vm.wdt_ms = 0
                    self.note("watchdog", what="stopped by Ctrl-C")
            return
        self.vm_write(vm, b"\x03")            # kbd_intr(-1): Ctrl-C is data

    def _tcp_accept(self, _arg=None):
        try:
            conn, _ = self.tcp.accept()
        except BlockingIOError:
            return
        self._drop_tcp()                       # one serial client at a time: the newest
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Client("tcp", conn)
        self.tcp_client = c
        self.clients.append(c)
        self.sel.register(conn, selectors.EVENT_READ, (self._client_read, c))

    def _drop_tcp(self):
        c = self.tcp_client
        if c is None:
            return
        self.tcp_client = None
        if c in self.clients:
            self.clients.remove(c)
        try:
            self.sel.unregister(c.fd)
        except (KeyError, ValueError):
            pass
        c.fd.close()

    def _client_read(self, c):
        data = recv(c.fd, 65536)
        if data is None:
            return
        if not data:
            if c.kind == "tcp":
                self._drop_tcp()
            return
        self.client_input(data)

    # ---- the REPL's start ---------------------------------------------------------
    def repl_starts(self, vm):
        """The ROM hands over to the REPL: all the board printed before is
        in its pty, passed on; console input waits until the REPL reads
        (repl_reads). Raw mode after a soft reset: what the REPL prints
        until its raw prompt is not the client's."""
        vm.repl = True
        vm.repl_at = time.monotonic()
        self.drain(vm)
        self.hold = True
        if vm.mode == "raw":
            self.swallow = b""

    def repl_reads(self, vm):
        """The REPL has switched its tty to raw (or, 5 s on, never will):
        what the ROM gave back, then what was held, are written now, after
        the switch, which a v1.28 unix port makes with TCSAFLUSH (discarding
        unread input). Raw mode after a soft reset: enter raw REPL for the
        client first."""
        self.hold = False
        vm.in_q = vm.typed + vm.in_q
        vm.typed = b""
        if vm.mode == "raw":
            vm.in_q = b"\x01" + vm.in_q
        self.vm_write(vm, b"")

    def poll(self, now):
        """Once a round of the loop: the REPL's start seen from here (the ROM
        never said so: it broke), input held until the REPL reads, input
        the VM's pty could not take yet."""
        vm = self.vm
        if vm is None:
            return
        if self.hold and not vm.repl and now - vm.started > 2.0 and vm.lflag() == 0:
            self.repl_starts(vm)
        if self.hold and vm.repl and (vm.lflag() == 0 or now - vm.repl_at > 5.0):
            self.repl_reads(vm)
        if vm.in_q and not self.hold:
            self.vm_write(vm, b"")
