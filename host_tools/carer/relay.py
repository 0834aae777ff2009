"""A TCP relay between a monitor and its broker, on 127.0.0.1: for the bench
(a slow broker: every chunk held `delay` seconds) and the tests (what a
neighbour on the Wi-Fi would see: `sent` keeps every byte the monitor sent).
"""
import socket
import threading
import time


class Relay:
    def __init__(self, target_port, delay=0.0):
        self.target = target_port
        self.delay = delay
        self.sent = bytearray()
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.srv.settimeout(0.2)
        self.port = self.srv.getsockname()[1]
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
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

    def close(self):
        self.stop = True
        self.srv.close()
