# The sensor recorder: the raw readings the engine saw (seconds since boot,
# level, flow, flow flags, button, refill mode), one 10-byte record per
# sample, in a bounded ring of segment files on flash (flash/rec/tr########.bin),
# for `pumpmon trace record` to turn into a trace v1 (docs/recording.md has
# the format for readers).
#
# The segments, their rotation (oldest deleted first: never more than
# `segments` files), the boot scan and the torn-tail rule are the segment
# ring's (segring.Ring, as the event log's): a record is valid only when its CRC matches, a
# power cut leaves at worst one bad slot at the end of the newest segment,
# and after a boot the recorder appends to that segment only if it ended
# cleanly (else it starts the next one). Each sample is written and flushed
# as it is taken: a power cut loses only the sample being written.
#
# Records: samples carry the low 8 bits of their second; header records
# carry the full second and the boot number. A header starts every boot,
# every segment, and the first write after a write error, so every sample
# can be placed in time from its own segment.
#
# Never delays the alarm path (the Runner calls sample() after the step, the
# sinks, the sound and the light), never raises (a write error loses the
# sample, the recorder retries a minute later; monitoring goes on), and
# allocates nothing per sample (preallocated buffers, small ints only: the
# CRC is a table-driven CRC-16, since crc32 results need big ints on a
# 32-bit board).
from array import array

from pumpmon.segring import Ring, errno_of

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

REC = const(10)              # bytes per record
SEGMENTS = const(55)         # default ring: 54 full segments kept = 24.5 h at 1 Hz
SEG_BYTES = const(16384)     # 1638 records, 16 380 bytes (4 blocks of 4 KiB)
RESERVE = const(196608)      # bytes left free on the flash for the log, state, config
KIND_SAMPLE = const(5)
KIND_BOOT = const(6)         # a boot starts here; byte 1 = reset cause (eventlog.RESET_CAUSES)
KIND_CONT = const(7)         # same boot; byte 1 = 0 new segment, 1 after write errors,
#                              2 more than 255 s since the last sample
NONE = const(-1048576)       # no reading (21-bit field)
VMAX = const(1048575)        # readings beyond +-VMAX are stored as +-VMAX (still out of range)
_M21 = const(0x1FFFFF)
RETRY_S = const(60)          # after a write error, try again this often
SETTINGS = "recorder.json"   # optional, in the flash directory: docs/recording.md

# CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected): CPython's
# binascii.crc_hqx(data, 0xFFFF); "123456789" -> 0x29B1
_T = array("H", [0] * 256)
for _i in range(256):
    _c = _i << 8
    for _j in range(8):
        _c = ((_c << 1) ^ 0x1021) & 0xFFFF if _c & 0x8000 else (_c << 1) & 0xFFFF
    _T[_i] = _c


def crc16(buf, n):
    """CRC-16/CCITT-FALSE of buf[0:n]; allocates nothing."""
    t = _T
    c = 0xFFFF
    i = 0
    while i < n:
        c = ((c << 8) & 0xFF00) ^ t[(c >> 8) ^ buf[i]]
        i += 1
    return c


def valid(buf):
    """1 if the 10 bytes in buf are a valid record."""
    k = buf[7] >> 4
    if k < KIND_SAMPLE or k > KIND_CONT:
        return 0
    return 1 if crc16(buf, 8) == buf[8] | (buf[9] << 8) else 0


def _field(v):
    if v is None:
        return NONE & _M21
    if v > VMAX:
        v = VMAX
    elif v < -VMAX:
        v = -VMAX
    return v & _M21


def _signed(v):
    return v - 0x200000 if v & 0x100000 else v


def decode(buf):
    """(kind, a, b, ...) of a valid record, for tests and small tools:
    sample: (KIND_SAMPLE, sec & 255, level|None, flow|None, flags, button, refill);
    header: (KIND_BOOT|KIND_CONT, sec, boot, cause_or_why). Allocates."""
    w0 = buf[2] | (buf[3] << 8) | (buf[4] << 16)
    kind = buf[7] >> 4
    if kind == KIND_SAMPLE:
        lv = _signed(w0 & _M21)
        fl = _signed((buf[4] >> 5) | (buf[5] << 3) | (buf[6] << 11) | ((buf[7] & 3) << 19))
        return (kind, buf[0], None if lv == NONE else lv, None if fl == NONE else fl,
                buf[1], (buf[7] >> 2) & 1, (buf[7] >> 3) & 1)
    hi = buf[5] | (buf[6] << 8) | ((buf[7] & 15) << 16)
    return (kind, (hi << 8) | buf[0], w0, buf[1])


def settings(flash_dir, fs=None):
    """(segments, seg_bytes, stream, batch) from flash_dir/recorder.json,
    defaults where it is absent or unreadable; segments 0 turns recording off."""
    seg, size, stream, batch = SEGMENTS, SEG_BYTES, 0, 1
    pre = flash_dir if (flash_dir == "" or flash_dir.endswith("/")) else flash_dir + "/"
    try:
        import json
        if fs is None:
            f = open(pre + SETTINGS)
        else:
            f = fs.open(pre + SETTINGS, "r")
        with f:
            d = json.load(f)
        seg = int(d.get("segments", seg))
        size = int(d.get("seg_bytes", size))
        stream = 1 if d.get("stream") else 0
        batch = int(d.get("batch", batch))
    except Exception:
        pass
    if size < 64 * REC:
        size = 64 * REC
    if batch < 1:
        batch = 1
    return seg, size, stream, batch


def _boot_of(buf):
    """The boot number of a header (the ring's scan finds the last one), -1
    for a sample."""
    if buf[7] >> 4 == KIND_SAMPLE:
        return -1
    return buf[2] | (buf[3] << 8) | (buf[4] << 16)


class Recorder:
    def __init__(self, path="rec", segments=SEGMENTS, seg_bytes=SEG_BYTES, flash=None,
                 reserve=RESERVE, cause=0, stream=0, batch=1):
        """cause: this boot's reset cause (eventlog.reset_code); stream: also
        print each sample on stdout (bench work, docs/recording.md); batch:
        commit (flush) every `batch` samples: 1 (the default) commits each
        sample as it is taken, so a power cut loses only the sample being
        written; more saves flash wear and loses up to `batch` samples."""
        self.off = 0 if segments > 0 else 1
        # seq is the boot number (a header's), not one per record
        ring = Ring(path, segments, seg_bytes, flash, "tr", REC, valid, _boot_of, 0)
        self.ring = ring
        self.fs = ring.fs
        self.buf = ring.buf      # the sample's buffer (the ring's)
        self.hbuf = bytearray(REC)
        self.boot_no = ring.seq & 0xFFFFFF   # the last boot number found + 1
        self.cause = cause
        self.stream = stream
        self.failed = 0          # errno of the last write error, 0 when writing works
        self.lost = 0            # samples lost to write errors since the last success
        self._pending = 1        # the boot header is still to be written
        self._retry_s = 0
        self._sec = 0            # second of the last sample written
        self.batch = batch if batch > 1 else 1
        self._unflushed = 0      # samples written since the last flush
        self.samples = 0         # samples written since boot
        self.limited = 0         # 1: the ring was made smaller to fit the free space
        if not self.off:
            self._fit(seg_bytes, reserve)

    def _fit(self, seg_bytes, reserve):
        """Never let the ring fill the flash: at most what is free now (plus
        what the ring already holds) minus `reserve`."""
        ring = self.ring
        free = getattr(self.fs, "free", None)
        if free is None:
            return
        try:
            path = ring.path
            avail = free(path)
            if avail < 0:
                i = path.rfind("/")
                avail = free(path[:i] if i > 0 else ("/" if i == 0 else "."))
            if avail < 0:
                return
            mine = 0
            for n in ring.segments():
                s = self.fs.size(ring.file(n))
                if s > 0:
                    mine += (s + 4095) // 4096 * 4096
        except Exception:
            return
        fit = (avail + mine - reserve) // seg_bytes
        if fit < ring.nseg:
            self.limited = 1
            if fit < 2:
                self.off = 1
            else:
                ring.nseg = fit

    # ---- writing ---------------------------------------------------------------
    def sample(self, sec, level, flow, flags, button, refill):
        """Record one sample (sec: whole seconds since boot); True when it is
        on flash. Never raises; allocates nothing."""
        if self.off:
            return False
        if self.stream:
            print("#S", sec, level, flow, flags, button, refill)
        b = self.buf
        lv = _field(level)
        fl = _field(flow)
        b[0] = sec & 0xFF
        b[1] = flags & 0xFF
        b[2] = lv & 0xFF
        b[3] = (lv >> 8) & 0xFF
        b[4] = (lv >> 16) | ((fl & 7) << 5)
        b[5] = (fl >> 3) & 0xFF
        b[6] = (fl >> 11) & 0xFF
        b[7] = (fl >> 19) | ((button & 1) << 2) | ((refill & 1) << 3) | (KIND_SAMPLE << 4)
        c = crc16(b, 8)
        b[8] = c & 0xFF
        b[9] = c >> 8
        if self.lost and sec < self._retry_s:
            self.lost += 1
            return False
        try:
            self._put_sample(sec)
        except Exception as e:
            self.failed = errno_of(e)
            self.lost += 1
            self.ring.fail()
            self._retry_s = sec + RETRY_S
            return False
        self.lost = 0
        self.failed = 0
        self.samples += 1
        return True

    def _put_sample(self, sec):
        ring = self.ring
        ring.ready()              # append to a clean segment, or start the next one
        kind = 0
        why = 0
        if ring.count == 0:
            kind = KIND_BOOT if self._pending else KIND_CONT
            why = 1 if self.lost else 0
        elif self._pending:
            kind = KIND_BOOT
        elif self.lost:
            kind = KIND_CONT
            why = 1
        elif sec - self._sec > 255 or sec < self._sec:
            kind = KIND_CONT      # the low 8 bits of a sample could not place it
            why = 2
        if kind:
            if ring.count + 2 > ring.per_seg:   # a header never ends a segment
                ring.rotate()
            h = self.hbuf
            boot = self.boot_no
            hi = sec >> 8
            h[0] = sec & 0xFF
            h[1] = self.cause & 0xFF if kind == KIND_BOOT else why
            h[2] = boot & 0xFF
            h[3] = (boot >> 8) & 0xFF
            h[4] = (boot >> 16) & 0xFF
            h[5] = hi & 0xFF
            h[6] = (hi >> 8) & 0xFF
            h[7] = ((hi >> 16) & 15) | (kind << 4)
            c = crc16(h, 8)
            h[8] = c & 0xFF
            h[9] = c >> 8
            self._write(h, 0)
            self._pending = 0
        self._write(self.buf, 1)
        self._sec = sec

    def _write(self, buf, sample):
        flush = 0
        if sample:                # littlefs commits the file at a flush
            flush = 1 if self._unflushed + 1 >= self.batch else 0
        self.ring.write(buf, flush, 0)
        if sample:
            self._unflushed = 0 if flush else self._unflushed + 1

    def interrupted(self):
        """After a KeyboardInterrupt that may have cut a write short
        (segring.Ring.interrupted)."""
        self.ring.interrupted()

    def close(self):
        self.ring.close()
