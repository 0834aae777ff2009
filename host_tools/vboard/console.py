"""The virtual board's console: the serial port a client opens (a pty, and
socket://127.0.0.1:PORT) relayed to and from the VM's own pty; Ctrl-C turned
into SIGINT while code runs, as a board's UART interrupt does. A part of
VirtualBoard."""
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
    __slots__ = ("kind", "fd", "out", "stalled")

    def __init__(self, kind, fd):
        self.kind = kind        # "pty" | "tcp"
        self.fd = fd            # the pty master (an fd) or the socket
        self.out = bytearray()
        self.stalled = None


class Console:
    def _setup_console(self):
        # the pty a serial client opens; the host keeps the slave open itself
        # so the master never reads EIO between clients
        self.pty_master, slave = pty.openpty()
        tty.setraw(slave)
        self.pty_keep = slave
        self.pty_name = os.ttyname(slave)
        os.set_blocking(self.pty_master, False)
        try:
            if os.path.islink(self.pty_path) or os.path.exists(self.pty_path):
                os.unlink(self.pty_path)
            os.makedirs(os.path.dirname(os.path.abspath(self.pty_path)), exist_ok=True)
            os.symlink(self.pty_name, self.pty_path)
        except OSError as e:
            raise UsageError("cannot create the pty link %s: %s" % (self.pty_path, e))
        self.pty_client = Client("pty", self.pty_master)
        self.clients.append(self.pty_client)
        self.sel.register(self.pty_master, selectors.EVENT_READ, ("client", self.pty_client))
        self.tcp = None
        if self.tcp_port is not None and self.tcp_port >= 0:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.tcp_port))
            except OSError as e:
                raise UsageError("cannot listen on 127.0.0.1:%d: %s" % (self.tcp_port, e))
            s.listen(2)
            s.setblocking(False)
            self.tcp = s
            self.tcp_port = s.getsockname()[1]
            self.sel.register(s, selectors.EVENT_READ, ("tcp_accept", None))
        self.tcp_client = None

    def to_clients(self, data):
        if not data:
            return
        for c in self.clients:
            self._client_write(c, data)

    def _client_write(self, c, data):
        c.out += data
        self._client_flush(c)

    def _client_flush(self, c):
        """Write what a client can take. A client that reads slowly holds the
        board back (flow control, as USB does); one that has read nothing for
        2 s is taken as absent (a pty nobody has open): its backlog is
        dropped, the newest 4 KiB kept."""
        buf = c.out
        while buf:
            try:
                if c.kind == "pty":
                    n = os.write(c.fd, bytes(buf[:4096]))
                else:
                    n = c.fd.send(bytes(buf[:65536]))
            except BlockingIOError:
                now = time.monotonic()
                if c.stalled is None:
                    c.stalled = now
                elif now - c.stalled > 2.0:
                    if c.kind == "pty":
                        termios.tcflush(self.pty_keep, termios.TCIFLUSH)
                    del buf[:max(0, len(buf) - 4096)]
                    c.stalled = None
                    continue
                break
            except OSError:
                if c.kind == "tcp":
                    self._drop_tcp()
                return
            c.stalled = None
            del buf[:n]

    def _backlog(self):
        return max((len(c.out) for c in self.clients), default=0)

    def vm_output(self, data):
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
                self._vm_write(self.vm, b"")
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
            self._vm_write(vm, b"")

    def _vm_write(self, vm, data):
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
            self._vm_write(vm, b"\x03")
            return
        if vm.sigint_caught():
            now = time.monotonic()
            if now - vm.last_sigint > 0.3:    # a second SIGINT too soon kills the port
                self._vm_write(vm, b"")       # what came before the Ctrl-C first
                vm.last_sigint = now
                vm.replay = b""
                os.kill(vm.pid, signal.SIGINT)
                if vm.wdt_ms:
                    vm.wdt_ms = 0
                    self.note("watchdog", what="stopped by Ctrl-C")
            return
        self._vm_write(vm, b"\x03")            # kbd_intr(-1): Ctrl-C is data

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
        self.sel.register(conn, selectors.EVENT_READ, ("client", c))

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
