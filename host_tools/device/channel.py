"""The running monitor's console channel, the host side
(docs/console-protocol.md; the board side is firmware/pumpmon/service.py).

The monitor answers these requests between two passes of its main loop:
nothing is interrupted, no soft reset, the alarm loop goes on. ConsoleChannel
is a part of BoardSession (host_tools/device/session.py), which owns the
serial port (`self.t`) and the raw REPL (`enter_raw`).
"""
import binascii
import json
import time
from pathlib import Path

from pumpmon import service

from host_tools.device.errors import ChannelError, DeviceError
from host_tools.exitcodes import LOST

REPLY_S = 3.0           # the longest wait for one reply on the console channel


class ConsoleChannel:
    """The console-channel requests of a BoardSession (status, read, fetch,
    fetch_folder, service)."""

    _console = b""          # console bytes read but not yet taken as a reply
    _asked = False          # the first request drains what came before it
    _rid = 0                # the id of this session's last request

    def ask(self, verb, *args, timeout=REPLY_S):
        """The payload of the board's OK reply to one request. ChannelError
        for an ERR reply or no reply within `timeout` (the board at its REPL,
        resetting, unplugged, or a firmware without the channel)."""
        s = self.t.serial
        if not self._asked:
            self._asked = True
            self._drain(0.1, 0.5)            # what the board said before: not a reply
        self._rid = (self._rid + 1) & 0xFFFFFF
        rid = "h%06x" % self._rid
        try:
            s.write(service.request(rid, verb, *args))
            s.flush()
        except Exception as e:
            raise DeviceError(LOST, "connection to the board lost (%s)" % e)
        end = time.monotonic() + timeout
        buf = self._console
        while True:
            i = buf.find(b"\n")
            while i >= 0:
                line, buf = buf[:i], buf[i + 1:]
                r = service.parse_reply(line)
                if r is not None and r[0] == rid:
                    self._console = buf
                    if not r[1]:
                        raise ChannelError(r[2])
                    return r[2]
                i = buf.find(b"\n")
            left = end - time.monotonic()
            if left <= 0:
                self._console = b""
                raise ChannelError("no answer from the monitor within %.0f s" % timeout,
                                   answered=False)
            try:
                n = s.in_waiting
                data = s.read(n) if n else b""
            except Exception as e:
                raise DeviceError(LOST, "connection to the board lost (%s)" % e)
            if not data:
                time.sleep(0.002)
                continue
            if len(buf) > 1 << 20:          # a console that never ends a line
                buf = buf[-4096:]
            buf += data
            if b">>> " in buf or b"raw REPL" in buf:
                # a REPL took the line (no monitor runs): no reply will come
                self._console = b""
                # (the next step: docs/console-protocol.md, Stopping)
                raise ChannelError("the board is at its REPL: no monitor is running (a "
                                   "watchdog, where the board has one, restarts it within "
                                   "8 s; the QEMU board has none; at once: mpremote reset)",
                                   answered=False)

    def status(self, timeout=REPLY_S):
        """The running monitor's status (a dict, docs/console-protocol.md)."""
        text = self.ask("status", timeout=timeout)
        try:
            d = json.loads(text)
        except ValueError:
            raise ChannelError("the monitor's status is not JSON: %r" % text[:80])
        if not isinstance(d, dict):
            raise ChannelError("the monitor's status is not a JSON object")
        return d

    def _read_chunk(self, path, offset, count):
        """(file size, the bytes) of one `read` request."""
        payload = self.ask("read", path, offset, count)
        parts = payload.split(" ")
        try:
            size, n = int(parts[0]), int(parts[2])
            data = binascii.a2b_base64(parts[3]) if n else b""
        except (ValueError, IndexError, binascii.Error):
            raise ChannelError("bad read reply: %r" % payload[:80])
        if len(data) != n:
            raise ChannelError("bad read reply: %d bytes announced, %d sent" % (n, len(data)))
        return size, data

    def ask_read(self, path, offset, count):
        """Up to `count` bytes of a board file from `offset` (b"" at its end)."""
        out = bytearray()
        while len(out) < count:
            _size, data = self._read_chunk(path, offset + len(out),
                                           min(service.CHUNK, count - len(out)))
            if not data:
                break
            out += data
        return bytes(out)

    def fetch(self, path):
        """A file's bytes through the channel (None: no such file)."""
        out = bytearray()
        while True:
            try:
                size, data = self._read_chunk(path, len(out), service.CHUNK)
            except ChannelError as e:
                if str(e).startswith("no_file"):
                    return None
                raise
            out += data
            if not data or len(out) >= size:
                return bytes(out)

    def fetch_folder(self, folder, local, match=lambda name: True):
        """Copy the segment files of the board's `log` or `rec` folder into
        the local folder through the channel; the names copied (sorted)."""
        listing = self.ask("ls", folder)
        names = sorted(item.rsplit(":", 1)[0] for item in listing.split() if ":" in item)
        got = []
        for n in names:
            if not match(n):
                continue
            data = self.fetch(folder + "/" + n)
            if data is not None:
                (Path(local) / n).write_bytes(data)
                got.append(n)
        return got

    def enter_service(self, why):
        """Ask the running monitor for service mode (logged on the board as
        monitoring_stopped, its buzzer and light on the service indication),
        then take the raw REPL with a soft reset as before: the session must
        import nothing of the old firmware (the self-test judges the new one).
        The session ends with a reset (start_monitor). True when the monitor
        answered; False when it was not running the channel (an older
        firmware, a board at its REPL): the raw REPL is taken all the same."""
        try:
            self.ask("service", why)
            answered = True
        except ChannelError:
            answered = False
            self._drain(0.3, 3.0)            # let a REPL finish with the line it took
        self.enter_raw(soft_reset=True)
        return answered

    def _drain(self, quiet, limit):
        """Read and drop console output until it has been quiet for `quiet`
        seconds (at most `limit` seconds)."""
        s = self.t.serial
        end = time.monotonic() + limit
        last = time.monotonic()
        try:
            while time.monotonic() < end and time.monotonic() - last < quiet:
                n = s.in_waiting
                if n:
                    s.read(n)
                    last = time.monotonic()
                else:
                    time.sleep(0.01)
        except Exception as e:
            raise DeviceError(LOST, "connection to the board lost (%s)" % e)
        self._console = b""
