# The event log on the board's flash: fixed-size binary records (40 bytes,
# CRC32) in a ring of segment files (segring.py: the oldest segment is
# deleted first, so the log never grows past segments x seg_bytes; power
# cuts leave at worst one bad slot, kept as evidence). Format for readers:
# docs/log-format.md; read back on the board by records() (named fields,
# Record), on a host by host_tools/formats/eventlog.py (the codes' names are
# the host's, lognames.py: the board never needs them), in the tests by
# tests/firmware/logread.py.
#
# Write errors (ENOSPC, EIO, ...) never raise: append() returns False, the
# record's sequence number is used up (the gap shows), the file is closed and
# the next append (or retry()) reopens it and first writes a log_resumed record
# with the number of records lost. The caller (store.py) turns False into
# malfunction/internal (log_failure).
#
# One preallocated record buffer; nothing is allocated between writes.
import struct

# the file operations and segment names are the ring's; named here too for
# the log's users (statefile.py, service.py, tests)
from pumpmon.segring import FLASH, Flash, Ring, errno_of, seg_name, seg_number  # noqa: F401

try:
    from binascii import crc32
except ImportError:  # a port without binascii.crc32: table-driven CRC-32
    _T = None

    def crc32(data, crc=0):
        global _T
        if _T is None:
            from array import array
            _T = array("I", [0] * 256)
            for i in range(256):
                c = i
                for _ in range(8):
                    c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
                _T[i] = c
        t = _T
        crc ^= 0xFFFFFFFF
        for b in data:
            crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

REC = const(40)            # bytes per record
MAGIC = const(0xA5)        # first byte of every record (format version 1)
NO_COND = const(255)
FMT = "<BBBBIIHHIiiiiI"    # see docs/log-format.md
_BODY = const(36)          # bytes covered by the CRC

# record codes 1..7 are the alarm manager's events (manager.EV_*)
BOOT = const(16)           # detail: reset cause; v0 shown, v1 acked, v2 state file, v3 paused
SNAPSHOT = const(17)       # hourly status: v0 level, v1 flow mean, v2 programmed, v3 days x10
REFILL_START = const(18)   # v0 level
REFILL_END = const(19)     # v0 level
CONFIG = const(20)         # detail: bad_config if refused; v0 crc, v1 changed, v2 daily uL, v3 rate
FAULT = const(21)          # detail: alarms.D_*; v0 number of faults since the last FAULT record
LOG_RESUMED = const(22)    # v0 records lost to write errors, v1 errno of the first error
INTERRUPTED = const(23)    # detail: reset cause; v0 seconds off (UNKNOWN without a clock), v1 last alive
POWER_ON_TEST = const(24)  # v0 1 passed / 0 an output call failed, v1 failed calls (bit mask)
CONFIG_CHANGED = const(25)  # detail: configlog.KEYS index; v0 old, v1 new x1000 (configlog.py)
# the carers' link (firmware/carerlink/link.py): detail its state (link.STATES
# index), v0 the error (errno, or the broker's CONNACK code), v1 retry in s
CARER_LINK = const(26)
# a carer answered "I am coming" over the link (carerlink/channel.py): cond the
# alarm shown then, detail the contact (1 first, 2 second...), v0 1 if the
# bedside had escalated; the bedside's sound and escalation go on unchanged
CARER_COMING = const(30)
# 32..: the log's own integrity and the console service channel (service.py)
MONITORING_STOPPED = const(32)  # detail: service.STOP_*; v0 service.SERVICE_WHY index
LOG_DAMAGED = const(33)    # v0 bad slots found at boot, v1 segment, v2 1 if a torn tail
# chatter held back (chatter.py): cond the held records' (NO_COND: none or
# mixed), detail their code, v0 how many, v1 seconds first to last, v2 the
# last one's detail, v3 its v0
RECORDS_HELD = const(34)
# monitoring resumed by itself after a service request nobody followed
# (servicehold.hold): detail servicehold.RESUME_* (1 service_timeout), v0 the seconds
# it was stopped, v1 service.SERVICE_WHY index of the request
MONITORING_RESUMED = const(35)
CONDITION_CLEARED = const(2)   # manager.EV_CONDITION_CLEARED (records 1..6 are its events)
# the codes a segment's chatter count (EventLog.chat, chatter.py) is found by
# at boot (a repeated condition_cleared is chatter too, but looks like the
# first: the count then starts low, so a segment may take up to twice its
# share across a reset)
CHATTER = (CARER_LINK, RECORDS_HELD, CARER_COMING)
# the bedside display (runner.py, docs/display.md): v0 1 it failed, 0 it works again
DISPLAY = const(36)
# the alarm demonstration (demo.py): detail 1 started, 0 ended, 2 refused (an
# alarm is shown); v0 the source (1 button, 2 console) or why it ended
# (0 done, 1 a real alarm, 2 a press)
DEMO = const(37)
# 40..: configuration management (identity.py): after every boot record
FIRMWARE = const(40)       # detail identity.CHANGES; v0 version, v1 manifest id, v2 v3 previous
# boot record detail: board.reset_cause() as a number
RESET_CAUSES = ("unknown", "power_on", "soft", "watchdog", "brownout", "hard", "deepsleep")
# boot record v2: what the state file held
STATE_OK = const(0)
STATE_NONE = const(1)
STATE_CORRUPT = const(2)
UNKNOWN = const(-2147483648)   # a value that is not known (e.g. level before the first reading)

_I32_MAX = const(2147483647)


def reset_code(cause):
    try:
        return RESET_CAUSES.index(cause)
    except ValueError:
        return 0


def _clamp(v):
    if v > _I32_MAX:
        return _I32_MAX
    if v < UNKNOWN:
        return UNKNOWN
    return v


def check(buf):
    """1 if the 40 bytes in buf are a valid record."""
    if buf[0] != MAGIC:
        return 0
    c = crc32(memoryview(buf)[:_BODY]) & 0xFFFFFFFF
    return 1 if c == struct.unpack_from("<I", buf, _BODY)[0] else 0


def _seq(buf):
    """The sequence number of a valid record."""
    return struct.unpack_from("<I", buf, 4)[0]


class Record:
    """A record read back from the log, by name (docs/log-format.md): set by
    read() when the slot is valid (ok 1); a damaged slot sets ok 0 only.
    seg: the segment it was read from."""
    ok = 0
    seg = 0

    def read(self, buf):
        self.ok = check(buf)
        if self.ok:
            (_m, self.code, self.cond, self.detail, self.seq, self.up_s, self.up_ms,
             self.shown, self.wall, self.v0, self.v1, self.v2, self.v3,
             _c) = struct.unpack_from(FMT, buf, 0)


class EventLog:
    def __init__(self, path="log", segments=8, seg_bytes=16384, flash=None):
        """path: the log's directory; segments x seg_bytes: the most it keeps."""
        ring = Ring(path, segments, seg_bytes, flash, "ev", REC, check, _seq, 1, CHATTER)
        self.ring = ring      # the segment files: damaged/torn found at boot, chat
        self.fs = ring.fs
        self.buf = ring.buf   # the one record buffer (the ring's)
        self.seq = ring.seq   # sequence number of the next record
        self.failed = 0       # errno of the last write error, 0 when writing works
        self.lost = 0         # records lost to write errors since the last success
        self._first_err = 0

    # ---- reading (boot and tools: allocates) -----------------------------------
    def records(self, segs=None):
        """Every slot of the segments segs (default: all of them, oldest
        first: ring.segments()), in order, as one Record that each step reads again (take what
        you need before the next); a torn tail ends its segment. Reads into
        the log's buffer: never append while iterating."""
        ring = self.ring
        buf = self.buf
        rec = Record()
        for n in (ring.segments() if segs is None else segs):
            rec.seg = n
            with self.fs.open(ring.file(n), "rb") as f:
                while f.readinto(buf) == REC:
                    rec.read(buf)
                    yield rec

    # ---- writing --------------------------------------------------------------
    def _put(self, sync):
        ring = self.ring
        ring.ready()
        ring.write(self.buf, 1, sync)

    def _pack(self, code, cond, detail, up_s, up_ms, shown, wall, v0, v1, v2, v3):
        buf = self.buf
        struct.pack_into(FMT, buf, 0, MAGIC, code, cond & 0xFF, detail & 0xFF,
                         self.seq & 0xFFFFFFFF, up_s & 0xFFFFFFFF, up_ms & 0xFFFF,
                         shown & 0xFFFF, wall & 0xFFFFFFFF, _clamp(v0), _clamp(v1),
                         _clamp(v2), _clamp(v3), 0)
        struct.pack_into("<I", buf, _BODY, crc32(memoryview(buf)[:_BODY]) & 0xFFFFFFFF)
        self.seq += 1

    def append(self, code, cond=NO_COND, detail=0, up_s=0, up_ms=0, shown=0, wall=0,
               v0=0, v1=0, v2=0, v3=0, sync=False):
        """Write one record; True when it is on flash. Never raises."""
        try:
            if self.lost and not self._resume(up_s, up_ms, shown, wall):
                self.seq += 1
                self.lost += 1
                return False
            self._pack(code, cond, detail, up_s, up_ms, shown, wall, v0, v1, v2, v3)
            self._put(sync)
            return True
        except Exception as e:
            self._fail(e)
            return False

    def retry(self, up_s=0, up_ms=0, shown=0, wall=0):
        """After a write error: try again (writes a log_resumed record)."""
        if not self.lost:
            return True
        try:
            return self._resume(up_s, up_ms, shown, wall)
        except Exception as e:
            self._fail(e)
            return False

    def _resume(self, up_s, up_ms, shown, wall):
        self._pack(LOG_RESUMED, NO_COND, 0, up_s, up_ms, shown, wall,
                   self.lost, self._first_err, 0, 0)
        try:
            self._put(True)
        except Exception as e:
            self.seq -= 1        # the resumed record is not a lost event
            self._fail(e)
            self.lost -= 1       # _fail counted it
            return False
        self.lost = 0
        self.failed = 0
        self._first_err = 0
        return True

    def _fail(self, e):
        err = errno_of(e)
        self.failed = err
        if not self.lost:
            self._first_err = err
        self.lost += 1
        self.ring.fail()

    def interrupted(self):
        """After a KeyboardInterrupt that may have cut a write short: the
        next write never appends after it (segring.Ring.interrupted)."""
        self.ring.interrupted()

    def close(self):
        self.ring.close()
