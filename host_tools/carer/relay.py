"""A TCP relay between a monitor and its broker, on 127.0.0.1: for the bench
(a slow broker: every chunk held `delay` seconds) and the tests (what a
neighbour on the Wi-Fi would see: `sent` keeps every byte the monitor sent).
Silent() and Backlog() emulate a broker that cannot be reached without
leaving this machine (issue 28: tests and benches talk only to loopback);
Scripted(serve) answers each connection with a function (a refusing or a
flapping broker).
"""
import socket
import threading
import time


class _Listener:
    """A socket listening on 127.0.0.1 (port chosen by the system) and a
    thread that accepts until close(), handing each connection to _take(c)."""

    def __init__(self, backlog):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(backlog)
        self.srv.settimeout(0.2)
        self.port = self.srv.getsockname()[1]
        self.stop = False
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            self._take(c)

    def close(self):
        self.stop = True
        self.t.join(5)
        self.srv.close()


class Relay(_Listener):
    def __init__(self, target_port, delay=0.0):
        self.target = target_port
        self.delay = delay
        self.sent = bytearray()
        super().__init__(4)

    def _take(self, c):
        u = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self._pipe, args=(c, u, True), daemon=True).start()
        threading.Thread(target=self._pipe, args=(u, c, False), daemon=True).start()

    def _pipe(self, a, b, upstream):
        try:
            while not self.stop:
                d = a.recv(4096)
                if not d:
                    break
                if upstream:
                    self.sent += d
                if self.delay:
                    time.sleep(self.delay)
                b.sendall(d)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass


class Silent(_Listener):
    """A listener that accepts and reads, and never answers (a broker that
    hangs, or a relay that drops every packet): 127.0.0.1 only."""

    def __init__(self):
        self.conns = []
        super().__init__(8)

    def _take(self, c):
        self.conns.append(c)
        threading.Thread(target=self._swallow, args=(c,), daemon=True).start()

    def _swallow(self, c):
        try:
            while not self.stop and c.recv(4096):
                pass
        except OSError:
            pass

    def close(self):
        super().close()
        for c in self.conns:
            c.close()


class Backlog:
    """A listener that never accepts, its queue filled: a new connection's
    SYN goes unanswered, as to a host that is off or out of reach, on
    127.0.0.1 (Linux drops the SYN when the accept queue is full)."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(0)
        self.port = self.srv.getsockname()[1]
        self.fill = []
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            try:
                f.connect(("127.0.0.1", self.port))
            except OSError:
                pass
            self.fill.append(f)
        time.sleep(0.2)

    def close(self):
        for f in self.fill:
            f.close()
        self.srv.close()


class Scripted(_Listener):
    """A listener on 127.0.0.1 that answers each connection, one at a time,
    with serve(conn) and then closes it; `accepted` counts them."""

    def __init__(self, serve):
        self.serve = serve
        self.accepted = 0
        super().__init__(16)

    def _take(self, c):
        self.accepted += 1
        try:
            self.serve(c)
        except OSError:
            pass
        finally:
            c.close()
