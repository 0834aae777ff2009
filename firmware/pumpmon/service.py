# The console service channel: a host reads a running monitor (status, event
# log, configuration, sensor recording) over the USB console WITHOUT stopping
# it, and asks for a logged service mode before flashing. The protocol is
# defined here once; the host tools import this module (docs/console-protocol.md).
#
#   request  (host -> board):  PM <id> <verb> [arg ...]\n
#   reply    (board -> host):  #PM <id> OK [payload]\r\n  |  #PM <id> ERR <code> [text]\r\n
#
# The Runner polls the channel once per main-loop pass, after the sound, the
# light and the watchdog: at most BUDGET bytes are read and at most one request
# is served per pass, so a client can never hold up the alarm loop. With
# nothing arriving, a pass allocates nothing (a warmed-up select.poll.ipoll,
# a one-byte preallocated read buffer; proved under heap_lock by
# tests/firmware/mp_heap_service.py). Serving a request allocates (text).
#
# Ctrl-C stays what it is on MicroPython: the way into the REPL for mpremote.
# The Runner logs it (monitoring_stopped, STOP_INTERRUPT) and leaves the
# board's buzzer and light on the service indication: a board stopped from
# the console is never silent (servicehold.py; docs/console-protocol.md,
# Stopping).
import sys

from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon import identity
from pumpmon import patterns as P
from pumpmon.store import values

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

PROTOCOL = const(1)
REQUEST = "PM"              # first word of a request line
REPLY = "#PM"               # first word of a reply line
MAX_LINE = const(96)        # longest request line (bytes, without the newline)
BUDGET = const(128)         # most console bytes read in one main-loop pass
CHUNK = const(1024)         # most file bytes one `read` reply carries
ID_MAX = const(8)           # request ids: 1..8 characters of [0-9A-Za-z_-]
DIRS = {"log": "ev", "rec": "tr"}   # `ls`/`read` folders and their segment prefixes
FILES = ("config.json", "recorder.json", "manifest.json", "state.bin")
SERVICE_WHY = ("other", "flash", "config")   # `service WHY`, logged as v0
# monitoring_stopped record detail: why the monitor stopped
STOP_SERVICE = const(1)     # a `service` request (the host flashes or configures)
STOP_INTERRUPT = const(2)   # Ctrl-C (KeyboardInterrupt) on the console
STOP_NAMES = ("", "service", "interrupted")
# error codes of ERR replies
ERRORS = ("bad_request", "unknown_verb", "bad_path", "no_file", "busy", "failed")

_POLLIN = const(1)
_POLLERR = const(8)
_POLLHUP = const(16)


# ---- the host's side of the protocol (used by host_tools; allocates) ----------
def request(rid, verb, *args):
    """The bytes of one request line."""
    words = [REQUEST, str(rid), verb] + [str(a) for a in args]
    for w in words:
        if not w or " " in w or "\n" in w or "\r" in w:
            raise ValueError("bad request word: %r" % (w,))
    line = " ".join(words)
    if len(line) > MAX_LINE:
        raise ValueError("request longer than %d bytes" % MAX_LINE)
    return (line + "\n").encode()


def parse_reply(line):
    """(id, ok, payload) of a reply line (str or bytes), or None when the
    line is not a reply (other console output: prints, '#S' samples)."""
    if isinstance(line, (bytes, bytearray)):
        line = bytes(line).decode("utf-8", "replace")
    line = line.strip("\r\n")
    if not line.startswith(REPLY + " "):
        return None
    parts = line.split(" ", 3)
    if len(parts) < 3 or parts[2] not in ("OK", "ERR"):
        return None
    return parts[1], parts[2] == "OK", parts[3] if len(parts) > 3 else ""


def valid_path(path):
    """True for the files `read` serves: FILES and DIR/segment names."""
    if path in FILES:
        return True
    i = path.find("/")
    if i < 0:
        return False
    prefix = DIRS.get(path[:i])
    return prefix is not None and L.seg_number(path[i + 1:], prefix) > 0


# ---- the board's side -----------------------------------------------------------
class Console:
    """A non-blocking line reader: the USB console by default, or any
    stream with readinto() (polled with select.poll, or with the given poll
    function: tests)."""

    def __init__(self, stream=None, out=None, poll=None):
        src = stream
        if stream is None:
            stream = sys.stdin.buffer
            src = sys.stdin
        if poll is None:
            import select
            p = select.poll()
            p.register(src, select.POLLIN)
            poll = getattr(p, "ipoll", None) or p.poll
            for _x in poll(0):   # the first ipoll allocates its result tuple
                pass
        self._read = stream.readinto
        self._poll = poll
        self.out = out if out is not None else sys.stdout
        self.one = bytearray(1)
        self.line = bytearray(MAX_LINE)
        self.n = 0               # bytes of the line so far
        self.skip = 0            # 1 while an over-long line is dropped
        self.off = 0             # 1: the input has ended (a closed pipe)

    def _ready(self):
        for _o, ev in self._poll(0):
            if ev & _POLLIN:
                return 1
            if ev & (_POLLHUP | _POLLERR):
                self.off = 1
        return 0

    def read_line(self, budget=BUDGET):
        """Takes what the console holds (at most budget bytes); the length
        of a complete line now in self.line, or 0. Never blocks."""
        one = self.one
        line = self.line
        while budget > 0 and not self.off and self._ready():
            k = self._read(one)
            if not k:            # end of input: stop listening
                self.off = 1
                return 0
            budget -= 1
            c = one[0]
            if c == 10 or c == 13:
                n = self.n
                self.n = 0
                if self.skip:
                    self.skip = 0
                elif n:
                    return n
            elif not self.skip:
                if self.n < MAX_LINE:
                    line[self.n] = c
                    self.n += 1
                else:
                    self.skip = 1
                    self.n = 0
        return 0

    def write(self, text):
        out = self.out
        out.write(text)
        f = getattr(out, "flush", None)
        if f is not None:
            f()


class Service:
    """Serves the requests of docs/console-protocol.md for a Runner, once
    wired in (Runner.attach_service: main.py)."""

    def __init__(self, runner, console=None, root="/"):
        self.r = runner
        if console is None:
            try:
                console = Console()
            except Exception:    # noqa: BLE001 - no console: monitoring goes on
                console = None
        self.c = console
        self.root = root if (root == "" or root.endswith("/")) else root + "/"
        self.buf = bytearray(CHUNK)
        self.served = 0          # requests answered since boot
        self.errors = 0          # exceptions the channel caught (tests look)

    def poll(self):
        """Once per main-loop pass: serve at most one request. Never raises:
        a bad request or a failing read is an ERR reply, never an alarm."""
        c = self.c
        if c is None:
            return
        rid = "?"
        try:
            n = c.read_line()
            ln = c.line
            if n < 3 or ln[0] != 80 or ln[1] != 77 or ln[2] != 32:
                return            # not "PM ...": a stray line, not for us
            try:
                words = bytes(ln[:n]).decode().split()
            except UnicodeError:
                words = ()
            if len(words) < 3:
                self.reply(rid, "ERR bad_request PM ID VERB [ARG ...]")
                return
            rid = words[1]
            if len(rid) > ID_MAX or not _word_ok(rid):
                rid = "?"
                self.reply(rid, "ERR bad_request bad id")
                return
            self.handle(rid, words[2], words[3:])
        except Exception as e:   # noqa: BLE001 - the channel never stops monitoring
            self.errors += 1
            try:
                self.reply(rid, "ERR failed %s" % _oneline(e))
            except Exception:    # noqa: BLE001
                pass

    def reply(self, rid, text):
        self.served += 1
        self.c.write("%s %s %s\r\n" % (REPLY, rid, text))

    def handle(self, rid, verb, args):
        if verb == "status":
            self.reply(rid, "OK " + status_json(self.r))
        elif verb == "ls":
            if len(args) != 1 or args[0] not in DIRS:
                self.reply(rid, "ERR bad_path ls takes one of: log rec")
                return
            self.reply(rid, "OK " + self._ls(args[0]))
        elif verb == "read":
            self._read(rid, args)
        elif verb == "demo":      # the alarm demonstration (demo.py)
            ok = self.r.demo.start(self.r.now, 2)
            self.reply(rid, "OK demo" if ok else "ERR refused an alarm is active")
        elif verb == "service":
            why = args[0] if args else "other"
            if why not in SERVICE_WHY:
                self.reply(rid, "ERR bad_request service takes one of: flash config other")
                return
            from pumpmon.servicehold import stop   # service mode (servicehold.py)
            stop(self.r, STOP_SERVICE, SERVICE_WHY.index(why))
            self.reply(rid, "OK service %s" % why)
        else:
            self.reply(rid, "ERR unknown_verb %s" % verb[:16])

    def _ls(self, d):
        import os
        prefix = DIRS[d]
        try:
            names = os.listdir(self.root + d)
        except OSError:
            return ""
        out = []
        for name in sorted(names):
            if L.seg_number(name, prefix) > 0:
                try:
                    size = os.stat(self.root + d + "/" + name)[6]
                except OSError:
                    continue
                out.append("%s:%d" % (name, size))
        return " ".join(out)

    def _read(self, rid, args):
        import binascii
        if len(args) < 2 or len(args) > 3:
            self.reply(rid, "ERR bad_request read PATH OFFSET [COUNT]")
            return
        path = args[0]
        if not valid_path(path):
            self.reply(rid, "ERR bad_path %s" % path[:40])
            return
        try:
            off = int(args[1])
            want = int(args[2]) if len(args) > 2 else CHUNK
        except ValueError:
            self.reply(rid, "ERR bad_request numbers")
            return
        if off < 0 or want < 0:
            self.reply(rid, "ERR bad_request numbers")
            return
        if want > CHUNK:
            want = CHUNK
        import os
        full = self.root + path
        try:
            size = os.stat(full)[6]
            with open(full, "rb") as f:
                k = 0
                if off < size and want:
                    f.seek(off)
                    k = f.readinto(memoryview(self.buf)[:want]) or 0
        except OSError as e:
            self.reply(rid, "ERR no_file %s %s" % (path, _oneline(e)))
            return
        # the reply in three writes, the same line as reply() would send: one
        # copy of the 1.4 KB of base64 text instead of five (the memory budget)
        self.served += 1
        c = self.c
        c.write("%s %s OK %d %d %d " % (REPLY, rid, size, off, k))
        if k:
            c.write(binascii.b2a_base64(memoryview(self.buf)[:k], newline=False).decode())
        c.write("\r\n")


def status_json(r):
    """The monitor's state as one JSON object (hand-built: the same text on
    CPython and MicroPython)."""
    m = r.monitor
    mg = m.manager
    level, flow, prog, days = values(m)
    names = []
    i = 0
    shown = mg.shown
    while i < A.N_CONDITIONS:
        if shown & (1 << i):
            kind, _p, cause = A.TABLE[i]
            names.append('"%s/%s"' % (A.KIND_NAMES[kind], cause))
        i += 1
    st = r.store
    log, rec = r.log, r.rec
    cause = st.boot[0] if st is not None and st.boot else "unknown"
    led = m.ann.led
    fw = st.firmware if st is not None else None
    return ('{"protocol":%d,"firmware":"%s","manifest":"%s","micropython":"%s","platform":"%s",'
            '"monitoring":%s,"up_s":%d,"alarms":[%s],'
            '"shown":%d,"acked":%d,"paused":%d,"tone_hz":%d,"led":"%s",'
            '"level_ul":%s,"flow_mean":%d,"prog_mean":%d,"days_x10":%s,'
            '"boot_cause":"%s","log_seq":%d,"log_failed":%d,"log_damaged":%d,'
            '"rec_samples":%d,"heap_used":%s,"heap_total":%s}' % ((
                PROTOCOL, _version(), identity.id_text(fw[1]) if fw else "none",
                _mp_version(), sys.platform,
                "false" if r.stop else "true", r.up_s,
                ",".join(names), shown, mg.acked, mg.paused, m.ann.tone_hz,
                P.COLOUR_NAMES[led] if 0 <= led < len(P.COLOUR_NAMES) else "?",
                "null" if level == L.UNKNOWN else "%d" % level, flow, prog,
                "null" if days == L.UNKNOWN else "%d" % days, cause,
                log.seq if log else 0, log.failed if log else 0,
                log.ring.damaged if log else 0, rec.samples if rec else 0) + _heap()))


def _heap():
    # gc.mem_alloc() and the heap's size: how much of a board's heap the
    # monitor holds (null on CPython, which has neither)
    try:
        import gc
        used = gc.mem_alloc()
        return (used, used + gc.mem_free())
    except (ImportError, AttributeError):
        return ("null", "null")


def _word_ok(w):
    for c in w:
        if not (("0" <= c <= "9") or ("a" <= c <= "z") or ("A" <= c <= "Z") or c in "_-"):
            return False
    return True


def _oneline(e):
    s = str(e)
    i = s.find("\n")
    return (s if i < 0 else s[:i])[:80]


def _mp_version():
    v = sys.implementation.version
    return "%d.%d.%d" % (v[0], v[1], v[2])


def _version():
    try:
        from pumpmon import VERSION
        return VERSION
    except ImportError:
        return "?"
