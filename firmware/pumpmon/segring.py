# The segment ring on the board's flash: fixed-size slots appended to a
# fixed number of fixed-size segment files (PREFIX + 8 digits + ".bin"); the
# oldest segment is deleted first, so the ring never grows past segments x
# seg_bytes. The event log (eventlog.py) and the sensor recorder
# (recorder.py) each own one: they say what a valid slot is and pack their
# own records; the ring keeps the files.
#
# Power cuts: a slot is valid only if its owner's check passes (a CRC), so a
# write cut at any byte leaves at worst one bad slot at the end of the newest
# segment. At boot the ring scans the newest segment (at most seg_bytes) and
# older ones only while none holds a valid slot, finds the sequence number
# after the last valid one, and appends to that segment only if it ended
# cleanly; otherwise (torn tail, corrupt slot) the next write starts the next
# segment and the damage stays for the reader to report. Never an in-place
# overwrite: a segment found at boot holding bytes that are not valid slots
# is kept as it is (evidence), even when it holds no valid slot at all;
# `damaged` counts the bad slots found.
#
# A write that fails (the owner counts it) leaves the file unknown: fail()
# closes it and the next write appends only if the segment still ends after
# its last valid slot. One preallocated slot buffer (buf), shared with the
# owner; nothing is allocated between writes.
try:
    import os
except ImportError:  # pragma: no cover
    import uos as os


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


class Flash:
    """The file operations the rings and the state file use; tests
    substitute one that fails or records. Paths are plain strings joined
    with '/'."""

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


def errno_of(e):
    """The errno of a write error (EIO when it has none)."""
    a = getattr(e, "errno", None)
    if a is None:
        args = getattr(e, "args", ())
        a = args[0] if args and isinstance(args[0], int) else 5
    return a


class Ring:
    def __init__(self, path, segments, seg_bytes, flash, prefix, size, valid, seq_of,
                 seq_per_slot=1, chatter=()):
        """path: the ring's directory; prefix: its segment names'; size: bytes
        per slot; valid(buf): 1 if the slot in buf is a valid one; seq_of(buf):
        the sequence number of a valid slot (-1: one without); seq_per_slot:
        1 when every slot uses up a sequence number (a bad one too), 0 when
        the number is not per slot (the recorder's boot number); chatter: the
        codes (byte 1) of the slots counted in `chat` (chatter.py)."""
        self.path = path
        self.prefix = prefix
        self.size = size
        self.nseg = segments if segments > 1 else 2
        self.per_seg = seg_bytes // size if seg_bytes >= size else 1
        self.fs = flash or FLASH
        self.buf = bytearray(size)
        self._valid = valid
        self._seq_of = seq_of
        self._per_slot = seq_per_slot
        self._chatter = chatter
        self.seq = 1          # found at boot: the sequence number after the last valid slot
        self.seg = 0          # current segment number (0: none yet)
        self.count = 0        # valid slots in the current segment
        self.chat = 0         # chatter slots in the current segment (chatter.py)
        self.writes = 0       # slots written since boot
        self.damaged = 0      # bad slots found at boot (newest segments scanned)
        self.damaged_seg = 0  # the newest segment holding them
        self.torn = 0         # 1 if one of them is a torn tail (a cut write)
        self._clean = 0       # 1: the current segment ends after its last valid slot
        self._found = 0       # 1: the current segment held bytes at boot: never truncate it
        self._f = None
        try:
            self._find_end()
        except Exception:  # unreadable flash: start a new segment on the first write
            self.count = self.per_seg
            self._clean = 0

    # ---- reading ------------------------------------------------------------
    def segments(self):
        """Sorted segment numbers in the ring's directory ([] if there is none)."""
        try:
            names = self.fs.listdir(self.path)
        except OSError:
            return []
        out = []
        prefix = self.prefix
        for n in names:
            k = seg_number(n, prefix)
            if k > 0:
                out.append(k)
        out.sort()
        return out

    def file(self, n):
        """The path of segment n."""
        return self.path + "/" + seg_name(n, self.prefix)

    # ---- boot ---------------------------------------------------------------
    def _scan(self, n):
        """(valid slots, last valid seq or -1, clean, bad slots, bad slots
        after the last valid one, chatter slots) of segment n."""
        buf = self.buf
        size = self.size
        count = 0
        last = -1
        bad = 0
        after = 0
        total = 0
        chat = 0
        with self.fs.open(self.file(n), "rb") as f:
            while True:
                k = f.readinto(buf)
                if not k:
                    break
                total += k
                if k == size and self._valid(buf):
                    count += 1
                    if buf[1] in self._chatter:
                        chat += 1
                    s = self._seq_of(buf)
                    if s > last:
                        last = s
                        after = 0
                else:
                    bad += 1
                    after += 1
                if k < size:
                    self.torn = 1
                    break
        clean = 1 if (bad == 0 and total == count * size) else 0
        return count, last, clean, bad, after, chat

    def _find_end(self):
        segs = self.segments()
        if not segs:
            return
        self.seg = segs[-1]
        i = len(segs) - 1
        first = 1
        newer = 0             # bad slots in the segments after the one scanned
        while i >= 0:
            try:
                count, last, clean, bad, after, chat = self._scan(segs[i])
            except OSError:  # unreadable: never write into it again
                count, last, clean, bad, after, chat = self.per_seg, -1, 0, 1, 1, 0
            if first:
                self.count = count
                self.chat = chat
                self._clean = clean
                self._found = 1 if (count or bad) else 0
                first = 0
            if bad:
                if not self.damaged:
                    self.damaged_seg = segs[i]
                self.damaged += bad
            if last >= 0:
                # each bad slot after the last valid one held (or was being
                # written with) a number of its own: never reuse one
                self.seq = last + 1 + (newer + after) * self._per_slot
                return
            newer += bad
            i -= 1

    # ---- writing --------------------------------------------------------------
    def ready(self):
        """Before a write: the current segment open for appending, or the
        next one started (the current one is full, or not known clean)."""
        if self._f is not None:
            if self.count >= self.per_seg:
                self.rotate()
            return
        fs = self.fs
        if self.seg and self._clean and self.count < self.per_seg and \
                fs.size(self.file(self.seg)) == self.count * self.size:
            self._f = fs.open(self.file(self.seg), "ab")
            return
        if self.seg and self.count == 0 and not self._found:
            # a segment this boot started holds no slot (a failed first
            # write): start it again rather than use up another segment. One
            # found at boot is never truncated: what it holds is evidence.
            self._f = fs.open(self.file(self.seg), "wb")
            self._clean = 1
            self.chat = 0
            return
        self.rotate()

    def rotate(self):
        """Close the current segment and start the next one."""
        fs = self.fs
        if self._f is not None:
            f = self._f
            self._f = None
            f.close()
        segs = self.segments()
        if not segs and fs.size(self.path) < 0:
            fs.mkdir(self.path)
        n = (segs[-1] if segs and segs[-1] > self.seg else self.seg) + 1
        # drop the oldest first, so the ring never takes more than nseg segments
        i = 0
        while len(segs) - i >= self.nseg:
            fs.remove(self.file(segs[i]))
            i += 1
        self._f = fs.open(self.file(n), "wb")
        self.seg = n
        self.count = 0
        self.chat = 0
        self._clean = 1
        self._found = 0

    def write(self, buf, flush=1, sync=0):
        """Append one slot to the open segment (after ready()); raises on a
        write error (then call fail())."""
        f = self._f
        self._clean = 0          # until the write is known complete
        n = f.write(buf)
        if n is not None and n != self.size:
            raise OSError(5)     # EIO: short write
        if flush:
            f.flush()            # littlefs commits the file here
        if sync:
            self.fs.sync(f)
        self._clean = 1
        self.count += 1
        self.writes += 1

    def fail(self):
        """After a write error: the file is closed; the failed write may
        have left part of a slot, so the next write appends only if the file
        still ends after its last valid slot."""
        self.close()
        self._clean = 0 if self.count else 1

    def interrupted(self):
        """After a KeyboardInterrupt that may have cut a write short: a
        write in progress leaves the file unknown, so the next one starts
        again or moves on (as after a write error), never appends after it."""
        if self._f is not None and not self._clean:
            self.fail()

    def close(self):
        f = self._f
        self._f = None
        if f is not None:
            try:
                f.close()
            except Exception:
                pass
