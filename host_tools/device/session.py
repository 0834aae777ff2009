"""One session with a board, through mpremote's SerialTransport (as a library):
the one way every command talks to a board (flash, config, log pull, trace
record and stream, run); which board is host_tools/device/ports.py.
The running monitor's console channel is device/channel.py (a part of the
session), the errors device/errors.py.

Why the library and not the `mpremote` command: a flash is one session (one
soft reset, then many small exchanges: hash every file, send chunks, verify,
commit, self-test), where the command would reconnect and soft-reset for each
step; the library also lets us write to a staging path in base64 chunks with a
progress bar, and map every failure (port missing, port in use, no raw REPL,
connection cut, ENOSPC) to an exit status a script can rely on.

Everything the board runs is sent as small Python snippets over the raw REPL;
the swap itself is firmware/boot.py's own code, sent verbatim.

The watchdog: main.py arms the board's hardware watchdog, and on a real board
(rp2, esp32) stopping main.py with Ctrl-C does not disarm it. The session
arms it (8 s) and feeds it before every exchange, so a long flash is not cut
by it, and a board left behind by a pulled cable (powered from elsewhere)
resets within 8 s and runs its monitor again instead of sitting in the REPL.
"""
import json
import random
import time
from pathlib import Path

from host_tools.device.channel import REPLY_S, ConsoleChannel  # noqa: F401 (REPLY_S: API)
from host_tools.device.errors import (BoardError, ChannelError, DeviceError,  # noqa: F401 (API)
                                      NoSpace, quiet)
from host_tools.device.ports import missing, resolve_port
from host_tools.device.snippets import (HELPERS, PROBE, SET_CLOCK, WATCHDOG, WORLD_TIME,
                                       boot_source)
from host_tools.exitcodes import BUSY, LOST, NO_BOARD, PROBLEM


STAGE = ".pm_stage"
OLD = ".pm_old"
JOURNAL = ".pm_journal"
MANIFEST = "manifest.json"
CONFIG = "config.json"

CHUNK = 2048            # raw bytes per write exchange (base64 on the wire)
READ_CHUNK = 8192       # raw bytes per read exchange
# every read and write of a session ends: the longest wait for one byte the
# board owes (mpremote's transport waits forever in places: a board that lost
# power mid-transfer must give exit status 9, not a hang)
IO_TIMEOUT_S = 10.0
# the raw REPL: tries (a booting board may miss the first Ctrl-C), seconds apart
RAW_TRIES = 3
RAW_PAUSE_S = 1.0


# what the carers' link prints (firmware/carerlink/: "pumpmon: carer link:
# connection refused ... (retry in 1 s)", "... not started: ...") is about the
# network, never the monitor's start-up: a broker that is down, refusing or
# flapping must not make a good flash look failed (issue 28)
NOT_STARTUP = ("pumpmon: carer link",)


def monitor_report(console):
    """The first line in which the monitor itself reported a problem at
    start-up ("pumpmon: ..."), from that word on; None when there is none."""
    for line in console.splitlines():
        i = line.find("pumpmon:")
        if i >= 0 and not line.startswith(NOT_STARTUP, i):
            return line[i:]
    return None


class BoardSession(ConsoleChannel):
    """A session with a board. Every failure of the connection is a
    DeviceError (its status is the command's exit status, docs/exit-codes.md).

    raw=True (the default): the raw REPL, which stops the monitor.
    soft_reset=False leaves the board's state as it is (mpremote's `resume`):
    main.py is interrupted with Ctrl-C, not restarted.
    raw=False: the running monitor's console channel
    (docs/console-protocol.md: status, fetch, fetch_folder), which reads the
    board without stopping it; enter_service() then takes the raw REPL the
    logged way (flash, config set)."""

    def __init__(self, port=None, soft_reset=True, raw=True):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport
        self.port = resolve_port(port)     # --port as given, or auto (ports.py)
        if missing(self.port):
            raise DeviceError(NO_BOARD, "no board found: %s does not exist" % self.port)
        try:
            with quiet():
                self.t = SerialTransport(self.port, baudrate=115200)
        except TransportError:
            if "://" in self.port:
                raise DeviceError(NO_BOARD, "no board found: nothing answers at %s"
                                  % self.port)
            raise DeviceError(BUSY, "board busy: %s is in use by another program "
                              "(close mpremote, a terminal or an IDE using it)" % self.port)
        except Exception as e:  # pyserial errors on odd devices
            raise DeviceError(NO_BOARD, "no board found: cannot open %s: %s"
                              % (self.port, e))
        self.sent = 0
        self._rid = random.randrange(1 << 24)   # ids of this session's requests
        self._console = b""
        self._asked = False
        try:
            self.t.serial.timeout = IO_TIMEOUT_S
            self.t.serial.write_timeout = IO_TIMEOUT_S
        except Exception:
            pass
        if raw:
            self.enter_raw(soft_reset)

    def enter_raw(self, soft_reset=True, watchdog=True):
        """Take the raw REPL (Ctrl-C: the monitor stops, logged by the
        firmware) and define the session's helpers; watchdog=False leaves
        the board's watchdog alone (a look that changes nothing). A board that is booting
        (a watchdog or power-on reset after a cut session: boot.py finishing
        a flash, the monitor starting) may miss the first Ctrl-C: tried
        RAW_TRIES times, RAW_PAUSE_S apart, before it is called busy."""
        self._feed = ""                  # no _pmwd() until the helpers are defined again below
        for attempt in range(RAW_TRIES):
            try:
                with quiet():
                    self.t.enter_raw_repl(soft_reset=soft_reset)
                break
            except Exception:
                if attempt + 1 == RAW_TRIES:
                    self.close()
                    raise DeviceError(BUSY, "board busy: %s does not answer the raw "
                                      "REPL (a program that ignores Ctrl-C, or another tool "
                                      "talking to it)" % self.port)
                time.sleep(RAW_PAUSE_S)
                self._discard()
        self.exec(boot_source() + "\n" + (WATCHDOG if watchdog else "_pmwdt = None\n")
                  + HELPERS)
        self._feed = "_pmwd()\n"

    _feed = ""

    def _discard(self):
        """Drop what the board printed meanwhile (a boot's output)."""
        try:
            s = self.t.serial
            while s.in_waiting:
                s.read(s.in_waiting)
        except Exception:
            pass

    def close(self):
        try:
            self.t.close()
        except Exception:
            pass

    # -- exchanges --------------------------------------------------------
    def exec(self, code):
        """Run code on the board; its output (bytes). Board-side exceptions
        raise BoardError; a cut connection is DeviceError(LOST)."""
        from mpremote.transport import TransportExecError
        try:
            with quiet():
                return self.t.exec(self._feed + code)
        except TransportExecError as e:
            raise BoardError(e.error_output)
        except Exception as e:
            raise DeviceError(LOST, "connection to the board lost (%s: %s); the board "
                              "keeps a whole version: run the command again"
                              % (type(e).__name__, e))

    def json(self, code):
        out = self.exec(code).decode("utf-8", "replace").strip().splitlines()
        if not out:
            raise DeviceError(LOST, "the board gave no answer to: %s" % code.strip()[:60])
        try:
            return json.loads(out[-1])
        except ValueError:
            raise DeviceError(PROBLEM, "unexpected answer from the board: %r" % out[-1][:80])

    def probe(self):
        return self.json(PROBE)

    def hashes(self, paths):
        """{path: sha256 hex or None} computed on the board."""
        out = {}
        paths = list(paths)
        for i in range(0, len(paths), 40):
            out.update(self.json("_pmhash(%r)" % (paths[i:i + 40],)))
        return out

    def read_text(self, path):
        return self.json("_pmread(%r)" % path)

    def read_bytes(self, path):
        """A file's bytes (None when there is no such file), in base64 chunks."""
        import binascii
        out = bytearray()
        while True:
            got = self.exec("_pmrb(%r, %d, %d)" % (path, len(out), READ_CHUNK)).strip()
            if got == b"-":
                return None
            data = binascii.a2b_base64(got)
            out += data
            if len(data) < READ_CHUNK:
                return bytes(out)

    def copy_folder(self, remote, local, match=lambda name: True):
        """Copy the files directly in the board's folder `remote` whose names
        match into the local folder; the names copied (sorted)."""
        names = sorted(n for n in self.walk(remote.rstrip("/")) if "/" not in n and match(n))
        for n in names:
            data = self.read_bytes(remote.rstrip("/") + "/" + n)
            if data is not None:
                (Path(local) / n).write_bytes(data)
        return names

    def walk(self, folder):
        return self.json("print(json.dumps(_pmwalk(%r, '', [])))" % (folder + "/"))

    def remove(self, paths):
        for i in range(0, len(paths), 40):
            self.exec("for _p in %r: _pmrm(_p)" % (paths[i:i + 40],))

    def rmtree(self, path):
        self.exec("rmtree(%r)" % path)

    def write(self, path, data, progress=None):
        """Write data to path (folders made), in base64 chunks."""
        import binascii
        try:
            self.exec("_pmopen(%r)" % path)
            for i in range(0, len(data), CHUNK):
                chunk = data[i:i + CHUNK]
                self.exec("_pmw(%r)" % binascii.b2a_base64(chunk, newline=False).decode())
                self.sent += len(chunk)
                if progress:
                    progress(len(chunk))
            self.exec("_pmclose()")
        except BoardError as e:
            if e.errno_name == "ENOSPC":
                raise NoSpace(path)
            raise

    def recover(self):
        """Run firmware/boot.py's recovery on the board: None, 'completed' or
        'rolled_back'."""
        return self.json("print(json.dumps(recover()))")

    def set_clock(self):
        """Set the board's calendar clock (machine.RTC) to the host's local
        time: a board has no time zone, and a daily dose schedule runs on
        local time. A virtual board gets its own world's time instead (its
        --epoch plus board time), so that a run stays a function of its
        inputs. The time set ("YYYY-MM-DD HH:MM:SS"; which time it is in
        self.clock_zone), or None when the board has no RTC."""
        world = self.exec(WORLD_TIME).strip()
        if world.isdigit():
            t, zone = time.gmtime(int(world) // 1000), "virtual board's world time"
        else:
            t, zone = time.localtime(), "local time"
        dt = (t.tm_year, t.tm_mon, t.tm_mday, t.tm_wday, t.tm_hour, t.tm_min, t.tm_sec, 0)
        if self.exec(SET_CLOCK % (dt,)).strip() != b"set":
            self.clock_zone = None
            return None
        self.clock_zone = zone
        return time.strftime("%Y-%m-%d %H:%M:%S", t)

    # -- reset and the monitor -------------------------------------------
    def selftest(self):
        """The firmware's self-test, in this session (nothing of the firmware
        has been imported in it: the session only moved files)."""
        try:
            return self.json("from pumpmon import selftest\nselftest.report()")
        except BoardError as e:
            return {"ok": False, "version": None, "problems": [e.last_line]}

    def start_monitor(self, settle=2.0):
        """Leave the raw REPL and soft-reset in the friendly REPL, so that the
        board runs boot.py and then main.py, as at power-on. Watches the
        console for `settle` seconds: (ok, console text)."""
        s = self.t.serial
        try:
            s.write(b"\r\x02")                       # Ctrl-B: friendly REPL
            self.t.in_raw_repl = False
            self._read_for(1.0, until=b">>> ")
            s.write(b"\x04")                         # Ctrl-D: soft reset
            out = self._read_for(settle)
        except Exception as e:
            raise DeviceError(LOST, "connection lost while starting the monitor: %s" % e)
        text = out.decode("utf-8", "replace")
        after = text.split("soft reboot", 1)[-1]
        bad = None
        if "Traceback" in after:
            bad = "main.py stopped with an exception"
        elif monitor_report(after):
            bad = "the monitor reported: " + monitor_report(after)
        elif after.rstrip().endswith(">>>"):
            bad = "main.py returned to the REPL: the monitor is not running"
        elif "soft reboot" not in text:
            bad = "the board did not soft-reset"
        return bad, text

    def restart(self, settle=0.2):
        """Soft-reset the board from its friendly REPL, so that boot.py and
        main.py run again (the end of a log pull or a recording fetch); the
        console after that is for the caller to read (settle=0)."""
        self.start_monitor(settle=settle)

    @property
    def serial(self):
        """The session's serial port (pyserial), for reading the console."""
        return self.t.serial

    def _read_for(self, seconds, until=None):
        s = self.t.serial
        data = b""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            n = s.in_waiting
            if n:
                data += s.read(n)
                if until and data.endswith(until):
                    break
            else:
                time.sleep(0.02)
        return data
