# The event log on the board's flash: fixed-size binary records (40 bytes,
# CRC32) appended to a fixed number of fixed-size segment files; the oldest
# segment is deleted first, so the log never grows past segments x seg_bytes.
# Format for readers: docs/log-format.md.
#
# Power cuts: a record is valid only if its CRC matches, so a write cut at any
# byte leaves at worst one bad slot at the end of the newest segment. On boot
# the logger scans the newest segment (at most seg_bytes), takes the sequence
# number after the last valid record, and appends to that segment only if it
# ended cleanly; otherwise (torn tail, corrupt slot) it starts the next segment
# and leaves the damage for the reader to report. Never an in-place overwrite:
# a segment found at boot holding bytes that are not valid records is kept as
# it is (evidence), even when it holds no valid record at all; `damaged`
# counts the bad slots found, for the caller's log_damaged record.
#
# Write errors (ENOSPC, EIO, ...) never raise: append() returns False, the
# record's sequence number is used up (the gap shows), the file is closed and
# the next append (or retry()) reopens it and first writes a log_resumed record
# with the number of records lost. The caller turns False into
# malfunction/internal (log_failure).
#
# One preallocated record buffer; nothing is allocated between writes.
import struct

try:
    import os
except ImportError:  # pragma: no cover
    import uos as os

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
NAMES = {
    1: "alarm_raised", 2: "alarm_condition_cleared", 3: "alarm_cleared",
    4: "alarm_acknowledged", 5: "audio_paused", 6: "audio_resumed", 7: "escalated",
    BOOT: "boot", SNAPSHOT: "status", REFILL_START: "refill_start",
    REFILL_END: "refill_end", CONFIG: "config", FAULT: "internal_fault",
    LOG_RESUMED: "log_resumed", INTERRUPTED: "monitoring_interrupted",
    POWER_ON_TEST: "power_on_test", CONFIG_CHANGED: "config_changed",
    MONITORING_STOPPED: "monitoring_stopped", LOG_DAMAGED: "log_damaged",
    CARER_LINK: "carer_link", RECORDS_HELD: "records_held",
    MONITORING_RESUMED: "monitoring_resumed", FIRMWARE: "firmware",
    CARER_COMING: "carer_coming",
    DISPLAY: "display", DEMO: "demo",
}
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


def seg_name(n, prefix="ev"):
    return "%s%08d.bin" % (prefix, n)


def seg_number(name, prefix="ev"):
    """Segment number of a file name, or -1 when it is not a segment."""
    k = len(prefix)
    if len(name) != k + 12 or not name.startswith(prefix) or not name.endswith(".bin"):
        return -1
    d = name[k:k + 8]
    for c in d:
        if c < "0" or c > "9":
            return -1
    return int(d)


def _clamp(v):
    if v > _I32_MAX:
        return _I32_MAX
    if v < UNKNOWN:
        return UNKNOWN
    return v


class Flash:
    """The file operations the log and the state file use; tests substitute
    one that fails or records. Paths are plain strings joined with '/'."""

    def open(self, path, mode):
        return open(path, mode)

    def listdir(self, path):
        return os.listdir(path)

    def remove(self, path):
        os.remove(path)

    def rename(self, a, b):
        os.rename(a, b)

    def mkdir(self, path):
        os.mkdir(path)

    def size(self, path):
        """File size, or -1 when it does not exist."""
        try:
            return os.stat(path)[6]
        except OSError:
            return -1

    def free(self, path):
        """Free bytes on the filesystem holding path, or -1 when unknown."""
        try:
            st = os.statvfs(path)
            return st[0] * st[4]
        except (OSError, AttributeError):
            return -1

    def sync(self, f):
        """Make a flushed file durable (littlefs: flush already commits)."""
        fs = getattr(os, "fsync", None)
        if fs is not None:
            fs(f.fileno())
        else:
            s = getattr(os, "sync", None)
            if s is not None:
                s()


FLASH = Flash()


def check(buf):
    """1 if the 40 bytes in buf are a valid record."""
    if buf[0] != MAGIC:
        return 0
    c = crc32(memoryview(buf)[:_BODY]) & 0xFFFFFFFF
    return 1 if c == struct.unpack_from("<I", buf, _BODY)[0] else 0


def unpack(buf):
    """(code, cond, detail, seq, up_s, up_ms, shown, wall, v0, v1, v2, v3) of a record."""
    r = struct.unpack_from(FMT, buf, 0)
    return r[1:13]


class EventLog:
    # The segment machinery (boot scan, append-only segments, rotation, torn
    # tails, write errors) is shared with the sensor recorder (recorder.py),
    # which sets these class attributes and overrides _valid/_seq_of and the
    # writing.
    PREFIX = "ev"          # segment file names: PREFIX + 8 digits + ".bin"
    RECSIZE = REC          # bytes per record slot
    SEQ_PER_SLOT = 1       # every slot uses up a sequence number (the recorder's: 0)
    CHATTER = CHATTER      # record codes counted in self.chat (the recorder's: none)
    _scan_chat = 0

    def __init__(self, path="log", segments=8, seg_bytes=16384, flash=None):
        rec = self.RECSIZE
        self.path = path
        self.nseg = segments if segments > 1 else 2
        self.per_seg = seg_bytes // rec if seg_bytes >= rec else 1
        self.fs = flash or FLASH
        self.buf = bytearray(rec)
        self.seq = 1          # sequence number of the next record
        self.seg = 0          # current segment number (0: none yet)
        self.count = 0        # valid records in the current segment
        self._clean = 0       # 1: the current segment ends after its last valid record
        self._f = None
        self.failed = 0       # errno of the last write error, 0 when writing works
        self.lost = 0         # records lost to write errors since the last success
        self._first_err = 0
        self.damaged = 0      # bad slots found at boot (newest segments scanned)
        self.damaged_seg = 0  # the newest segment holding them
        self.torn = 0         # 1 if one of them is a torn tail (a cut write)
        self._found = 0       # 1: the current segment held bytes at boot: never truncate it
        self.writes = 0       # records written since boot
        self.chat = 0         # chatter records in the current segment (chatter.py)
        try:
            self._find_end()
        except Exception:  # unreadable flash: start a new segment on the first write
            self.count = self.per_seg
            self._clean = 0

    # ---- boot ---------------------------------------------------------------
    def _segments(self):
        """Sorted segment numbers in the log directory ([] if there is none)."""
        try:
            names = self.fs.listdir(self.path)
        except OSError:
            return []
        out = []
        prefix = self.PREFIX
        for n in names:
            k = seg_number(n, prefix)
            if k > 0:
                out.append(k)
        out.sort()
        return out

    def _file(self, n):
        return self.path + "/" + seg_name(n, self.PREFIX)

    def _valid(self, buf):
        """1 if the slot in buf holds a valid record."""
        return check(buf)

    def _seq_of(self, buf):
        """Sequence number of a valid record (-1: a record without one)."""
        return struct.unpack_from("<I", buf, 4)[0]

    def _scan(self, n):
        """(valid records, last valid seq or -1, clean, bad slots, bad slots
        after the last valid record) of segment n."""
        buf = self.buf
        rec = self.RECSIZE
        count = 0
        last = -1
        bad = 0
        after = 0
        size = 0
        chat = 0
        with self.fs.open(self._file(n), "rb") as f:
            while True:
                k = f.readinto(buf)
                if not k:
                    break
                size += k
                if k == rec and self._valid(buf):
                    count += 1
                    if buf[1] in self.CHATTER:
                        chat += 1
                    s = self._seq_of(buf)
                    if s > last:
                        last = s
                        after = 0
                else:
                    bad += 1
                    after += 1
                if k < rec:
                    self.torn = 1
                    break
        clean = 1 if (bad == 0 and size == count * rec) else 0
        self._scan_chat = chat
        return count, last, clean, bad, after

    def _find_end(self):
        segs = self._segments()
        if not segs:
            return
        self.seg = segs[-1]
        i = len(segs) - 1
        first = 1
        newer = 0             # bad slots in the segments after the one scanned
        while i >= 0:
            try:
                count, last, clean, bad, after = self._scan(segs[i])
            except OSError:  # unreadable: never write into it again
                count, last, clean, bad, after = self.per_seg, -1, 0, 1, 1
            if first:
                self.count = count
                self.chat = self._scan_chat
                self._clean = clean
                self._found = 1 if (count or bad) else 0
                first = 0
            if bad:
                if not self.damaged:
                    self.damaged_seg = segs[i]
                self.damaged += bad
            if last >= 0:
                # each bad slot after the last valid record held (or was
                # being written with) a number of its own: never reuse one
                self.seq = last + 1 + (newer + after) * self.SEQ_PER_SLOT
                return
            newer += bad
            i -= 1

    # ---- writing --------------------------------------------------------------
    def _open(self):
        """Open the current segment for appending, or start the next one."""
        fs = self.fs
        if self.seg and self._clean and self.count < self.per_seg and \
                fs.size(self._file(self.seg)) == self.count * self.RECSIZE:
            self._f = fs.open(self._file(self.seg), "ab")
            return
        if self.seg and self.count == 0 and not self._found:
            # a segment this boot started holds no record (a failed first
            # write): start it again rather than use up another segment. One
            # found at boot is never truncated: what it holds is evidence.
            self._f = fs.open(self._file(self.seg), "wb")
            self._clean = 1
            self.chat = 0
            return
        self._rotate()

    def _rotate(self):
        fs = self.fs
        if self._f is not None:
            f = self._f
            self._f = None
            f.close()
        segs = self._segments()
        if not segs and fs.size(self.path) < 0:
            fs.mkdir(self.path)
        n = (segs[-1] if segs and segs[-1] > self.seg else self.seg) + 1
        # drop the oldest first, so the log never takes more than nseg segments
        i = 0
        while len(segs) - i >= self.nseg:
            fs.remove(self._file(segs[i]))
            i += 1
        self._f = fs.open(self._file(n), "wb")
        self.seg = n
        self.count = 0
        self.chat = 0
        self._clean = 1
        self._found = 0

    def _put(self, sync):
        f = self._f
        if f is None:
            self._open()
            f = self._f
        elif self.count >= self.per_seg:
            self._rotate()
            f = self._f
        self._clean = 0          # until the write is known complete
        n = f.write(self.buf)
        if n is not None and n != REC:
            raise OSError(5)     # EIO: short write
        f.flush()
        if sync:
            self.fs.sync(f)
        self._clean = 1
        self.count += 1
        self.writes += 1

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
        err = _errno(e)
        self.failed = err
        if not self.lost:
            self._first_err = err
        self.lost += 1
        self.close()
        # the failed write may have left part of a record: the next write
        # appends only if the file still ends after its last valid record
        self._clean = 0 if self.count else 1

    def interrupted(self):
        """After a KeyboardInterrupt that may have cut a write short: a
        write in progress leaves the file unknown, so the next one starts
        again or moves on (as after a write error), never appends after it."""
        if self._f is not None and not self._clean:
            self.close()
            self._clean = 0 if self.count else 1

    def close(self):
        f = self._f
        self._f = None
        if f is not None:
            try:
                f.close()
            except Exception:
                pass


def _errno(e):
    a = getattr(e, "errno", None)
    if a is None:
        args = getattr(e, "args", ())
        a = args[0] if args and isinstance(args[0], int) else 5
    return a


def read_all(path="log", flash=None):
    """Every valid record of a log directory in segment order, and the
    problems found: ([(seg, offset, fields)], [(seg, offset, what)]).
    For tests and small tools; allocates."""
    fs = flash or FLASH
    buf = bytearray(REC)
    try:
        names = fs.listdir(path)
    except OSError:
        return [], []
    segs = sorted(k for k in (seg_number(n) for n in names) if k > 0)
    recs = []
    bad = []
    for n in segs:
        off = 0
        with fs.open(path + "/" + seg_name(n), "rb") as f:
            while True:
                k = f.readinto(buf)
                if not k:
                    break
                if k == REC and check(buf):
                    recs.append((n, off, unpack(buf)))
                else:
                    bad.append((n, off, "torn" if k < REC else "corrupt"))
                off += k
                if k < REC:
                    break
    return recs, bad
