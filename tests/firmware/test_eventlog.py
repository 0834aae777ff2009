# The event log on flash (firmware/pumpmon/eventlog.py): power cut at every
# byte of a sequence of writes, rotation, sequence continuity across reboots,
# write errors. Real files in a temporary directory; runs on CPython and on
# the MicroPython unix port.
import os

from pumpmon import eventlog as L
import logread


# ---- helpers (test_statefile.py uses them too) -------------------------------
def _tmpdir(tag):
    try:
        import tempfile
        return tempfile.mkdtemp(prefix="pm_%s_" % tag)
    except ImportError:  # MicroPython
        pass
    try:
        r = os.urandom(6)
    except AttributeError:  # a bare-metal board (the QEMU Cortex-M): no urandom
        import random
        r = bytes(random.getrandbits(8) for _ in range(6))
    try:
        os.mkdir("/tmp")     # on a board's flash there is none yet
    except OSError:
        pass
    p = "/tmp/pm_%s_%s" % (tag, "".join("%02x" % b for b in r))
    os.mkdir(p)
    return p


def _isdir(p):
    return os.stat(p)[0] & 0x4000 != 0


def _rmtree(p):
    for name in os.listdir(p):
        q = p + "/" + name
        if _isdir(q):
            _rmtree(q)
        else:
            os.remove(q)
    os.rmdir(p)


def in_tmpdir(tag):
    """A test taking a fresh temporary directory d as its argument, removed
    (with all it holds) after the test, pass or fail: `@in_tmpdir("tag")`
    on `def test_x(d):`. The wrapper takes no argument (pytest asks for no
    fixture, tests/mp_runner.py calls it bare)."""
    def wrap(fn):
        def test():
            d = _tmpdir(tag)
            try:
                fn(d)
            finally:
                _rmtree(d)
        try:
            test.__name__ = fn.__name__
        except AttributeError:   # MicroPython: a function's name is fixed
            pass
        return test
    return wrap


def _read(path):
    with open(path, "rb") as f:
        return f.read()


class _RecFile:
    def __init__(self, fs, f, rel):
        self.fs = fs
        self.f = f
        self.rel = rel

    def write(self, b):
        self.fs.ops.append(("write", self.rel, bytes(b)))
        return self.f.write(b)

    def readinto(self, b):
        return self.f.readinto(b)

    def read(self, n=-1):
        return self.f.read(n)

    def flush(self):
        self.f.flush()

    def fileno(self):
        return self.f.fileno()

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


class RecordingFlash(L.Flash):
    """Real files, and a list of every change made, to replay up to a cut."""

    def __init__(self, root):
        self.root = root
        self.ops = []

    def _rel(self, path):
        return path[len(self.root) + 1:]

    def open(self, path, mode):
        f = open(path, mode)
        if mode == "wb":
            self.ops.append(("create", self._rel(path)))
        return _RecFile(self, f, self._rel(path))

    def remove(self, path):
        self.ops.append(("remove", self._rel(path)))
        os.remove(path)

    def mkdir(self, path):
        self.ops.append(("mkdir", self._rel(path)))
        os.mkdir(path)

    def rename(self, a, b):
        self.ops.append(("rename", self._rel(a), self._rel(b)))
        os.rename(a, b)

    def sync(self, f):
        pass


def _events(ops):
    """Number of cut points: one per byte written, one per other change."""
    n = 0
    for op in ops:
        n += len(op[2]) if op[0] == "write" else 1
    return n


def _replay(ops, root, cut, corrupt):
    """Apply ops to an empty root as if the power failed after `cut` events.
    corrupt: the bytes of the write in progress after the cut hold garbage
    (the complement of what was meant) instead of being missing.
    Returns the records completely written and not deleted, per file."""
    model = {}     # rel -> list of complete records (bytes)
    left = cut
    for op in ops:
        kind = op[0]
        if kind == "write":
            rel, data = op[1], op[2]
            with open(root + "/" + rel, "ab") as f:
                if left >= len(data):
                    f.write(data)
                    model[rel].append(data)
                    left -= len(data)
                    continue
                f.write(data[:left])
                if corrupt:
                    f.write(bytes((b ^ 0xFF) for b in data[left:]))
                return model
        if left == 0:
            return model
        left -= 1
        if kind == "create":
            with open(root + "/" + op[1], "wb"):
                pass
            model[op[1]] = []
        elif kind == "remove":
            os.remove(root + "/" + op[1])
            del model[op[1]]
        elif kind == "mkdir":
            os.mkdir(root + "/" + op[1])
        elif kind == "rename":
            os.rename(root + "/" + op[1], root + "/" + op[2])
    return model


def _committed(model):
    """Records of the model in segment order, as field tuples."""
    out = []
    for rel in sorted(model):
        for data in model[rel]:
            out.append(logread.unpack(data))
    return out


def _fields(recs):
    return [r[2] for r in recs]


def _write(log, i):
    """The i-th test record; distinct values so none can be mistaken for another."""
    return log.append(L.SNAPSHOT if i % 3 else 1, i % 9, i % 13, i * 11, i % 1000, i & 0x1FF,
                      1700000000 + i, i * 7 + 1, -i, i * 1000003, -2147483648 + i)


def _write_log(d, segs, seg_bytes, n, fs=None):
    """A log in d/log (segs segments of seg_bytes) holding test records
    0..n-1, each written (asserted), then closed; returns its path."""
    p = d + "/log"
    log = L.EventLog(p, segs, seg_bytes, fs)
    for i in range(n):
        assert _write(log, i)
    log.close()
    return p


# ---- tests ----------------------------------------------------------------------
@in_tmpdir("rec")
def test_record_is_40_bytes_and_checked(d):
    """req: R-022"""
    log = L.EventLog(d + "/log", 4, 400)
    assert _write(log, 5)
    log.close()
    data = _read(d + "/log/" + L.seg_name(1))
    assert len(data) == L.REC == 40
    assert L.check(bytearray(data))
    f = logread.unpack(data)
    assert f == (L.SNAPSHOT, 5, 5, 1, 55, 5, 5, 1700000005, 36, -5, 5000015,
                 -2147483643)
    for i in range(L.REC):      # any one flipped byte is caught
        b = bytearray(data)
        b[i] ^= 0x10
        assert not L.check(b)


def every_cut(tag, write, check, corrupt):
    """write(src, fs) writes through a RecordingFlash; then, for every byte
    position of what it wrote, the writes are replayed cut there (a power
    cut; corrupt: garbage after the cut) into a fresh folder and
    check(root, model, cut) judges what a reboot finds. The number of
    positions written (the test recorder's too: test_recorder.py)."""
    d = _tmpdir(tag)
    try:
        src = d + "/src"
        os.mkdir(src)
        fs = RecordingFlash(src)
        write(src, fs)
        total = _events(fs.ops)
        root = d + "/cut"
        checked = 0
        for cut in range(total + 1):
            os.mkdir(root)
            check(root, _replay(fs.ops, root, cut, corrupt), cut)
            _rmtree(root)
            checked += 1
        assert checked == total + 1
        return total
    finally:
        _rmtree(d)


def _cut_everywhere(corrupt):
    n = 11                                                     # rotates three times

    def write(src, fs):
        _write_log(src, 3, 3 * L.REC, n, fs)   # 3 segments of 3 records

    def check(root, model, cut):
        want = _committed(model)
        # reboot: the logger finds the end, never raises, appends after it
        log2 = L.EventLog(root + "/log", 3, 3 * L.REC)
        got, bad = logread.read_all(root + "/log")
        assert _fields(got) == want, (cut, _fields(got), want)
        last = want[-1][3] if want else 0
        # a cut write leaves at most one bad slot, after the last record:
        # its sequence number is used up, never given again
        end = (got[-1][0], got[-1][1]) if got else (0, -1)
        skipped = len([b for b in bad if (b[0], b[1]) > end]) if want else 0
        assert skipped <= 1 and len(bad) == skipped or not want, (cut, bad)
        assert log2.ring.damaged == len(bad), (cut, log2.ring.damaged, bad)
        assert log2.seq == last + 1 + skipped, (cut, log2.seq, last)
        assert _write(log2, 100) and _write(log2, 101)
        assert log2.lost == 0
        log2.close()
        got2, bad2 = logread.read_all(root + "/log")
        seqs = [r[3] for r in _fields(got2)]
        nxt = last + 1 + skipped
        assert seqs[-2:] == [nxt, nxt + 1], (cut, seqs)
        # the damage stays on flash for the reader, unless rotation dropped it
        assert len(bad2) >= len([b for b in bad if b[0] >= got2[0][0]]), (cut, bad2)
        # nothing committed before is lost unless rotation dropped its segment
        assert [r for r in want if r in _fields(got2)] == \
            [r for r in want if r[3] >= seqs[0]], cut
        assert len(os.listdir(root + "/log")) <= 3

    total = every_cut("cut", write, check, corrupt)
    assert total == n * L.REC + 1 + 4 + 1  # mkdir, 4 creates, 1 remove


def test_power_cut_at_every_byte_truncated():
    """req: R-023"""
    _cut_everywhere(False)


def test_power_cut_at_every_byte_with_garbage():
    """req: R-023"""
    _cut_everywhere(True)


@in_tmpdir("rot")
def test_a_corrupt_committed_record_loses_only_itself(d):
    """req: R-023"""
    p = _write_log(d, 4, 5 * L.REC, 8)
    name = p + "/" + L.seg_name(1)
    for off in range(0, 5 * L.REC, 7):
        data = bytearray(_read(name))
        data[off] ^= 0x01
        with open(name, "wb") as f:
            f.write(data)
        got, bad = logread.read_all(p)
        seqs = [r[2][3] for r in got]
        lost = off // L.REC + 1
        assert seqs == [s for s in range(1, 9) if s != lost], (off, seqs)
        assert bad == [(1, off // L.REC * L.REC, "corrupt")]
        data[off] ^= 0x01
        with open(name, "wb") as f:
            f.write(data)


@in_tmpdir("rot")
def test_rotation_keeps_n_segments_and_sequence_runs_across_reboots(d):
    """req: R-023"""
    p = d + "/log"
    written = 0
    for boot in range(7):              # 7 boots, 9 records each
        log = L.EventLog(p, 4, 4 * L.REC)
        assert log.seq == written + 1
        for i in range(9):
            assert _write(log, written)
            written += 1
        if boot % 2:
            log.close()                # and sometimes just dropped (power cut)
    got, bad = logread.read_all(p)
    assert bad == []
    names = sorted(os.listdir(p))
    assert len(names) == 4
    seqs = [r[2][3] for r in got]
    assert seqs == list(range(seqs[0], written + 1))
    assert len(seqs) > 3 * 4           # at least three full segments kept
    assert [r[0] for r in got] == sorted(r[0] for r in got)


class FailingFlash(L.Flash):
    """A flash that can be made full: a write stores a few bytes, then ENOSPC."""

    def __init__(self):
        self.full = 0

    def open(self, path, mode):
        f = open(path, mode)
        if "r" in mode:
            return f
        return _FullFile(self, f)


class _FullFile(_RecFile):
    def __init__(self, fs, f):
        self.fs = fs
        self.f = f

    def write(self, b):
        if self.fs.full:
            self.f.write(bytes(b)[:7])   # part of the record reaches the flash
            self.f.flush()
            raise OSError(28, "ENOSPC")
        return self.f.write(b)


@in_tmpdir("full")
def test_write_error_never_raises_and_logging_resumes(d):
    """req: R-036"""
    p = d + "/log"
    fs = FailingFlash()
    log = L.EventLog(p, 4, 10 * L.REC, fs)
    for i in range(3):
        assert _write(log, i)
    fs.full = 1
    for i in range(3, 6):
        assert not _write(log, i)
    assert log.failed == 28 and log.lost == 3
    assert not log.retry(10)
    fs.full = 0
    assert log.retry(20)
    assert log.failed == 0 and log.lost == 0
    assert _write(log, 6)
    log.close()
    got, bad = logread.read_all(p)
    f = _fields(got)
    assert [r[3] for r in f] == [1, 2, 3, 7, 8]   # 4-6 lost: a visible gap
    assert f[3][0] == L.LOG_RESUMED and f[3][8] == 3 and f[3][9] == 28
    assert f[4][8] == 6 * 7 + 1
    assert bad and bad[0][2] in ("torn", "corrupt")   # the partial record is reported
    # a reboot after that appends cleanly
    log = L.EventLog(p, 4, 10 * L.REC)
    assert log.seq == 9 and _write(log, 7)
    log.close()
    got, _bad = logread.read_all(p)
    assert got[-1][2][3] == 9


@in_tmpdir("nodir")
def test_unwritable_log_directory_does_not_raise(d):
    """req: R-036"""
    with open(d + "/log", "wb") as f:   # a file where the directory should be
        f.write(b"x")
    log = L.EventLog(d + "/log", 4, 400)
    assert not _write(log, 1)
    assert log.lost == 1 and log.failed
    os.remove(d + "/log")
    assert log.retry()
    assert _write(log, 2)
    log.close()
    got, bad = logread.read_all(d + "/log")
    assert [r[2][0] for r in got] == [L.LOG_RESUMED, L.SNAPSHOT] and not bad


def test_crc_matches_the_standard_crc32():
    """req: R-022"""
    assert L.crc32(b"123456789") & 0xFFFFFFFF == 0xCBF43926


def _flip_records(name, slots):
    data = bytearray(_read(name))
    for i in slots:
        data[i * L.REC + 9] ^= 0x40
    with open(name, "wb") as f:
        f.write(data)
    return bytes(data)


@in_tmpdir("dmg")
def test_a_damaged_newest_segment_is_kept_and_counted(d):
    # the newest segment holds only records that no longer read (bit flips):
    # it is never reopened for writing, writing moves on to a new segment,
    # and no sequence number of the damaged records is given again
    """req: R-023"""
    p = _write_log(d, 4, 4 * L.REC, 6)       # segment 1: seq 1-4, segment 2: seq 5-6
    seg2 = p + "/" + L.seg_name(2)
    damaged = _flip_records(seg2, (0, 1))
    _got, bad = logread.read_all(p)
    assert len(bad) == 2
    log = L.EventLog(p, 4, 4 * L.REC)
    assert log.ring.damaged == 2 and log.ring.damaged_seg == 2 and not log.ring.torn
    assert log.seq == 7
    for i in range(6, 9):
        assert _write(log, i)
    log.close()
    assert _read(seg2) == damaged       # kept byte for byte
    got, bad = logread.read_all(p)
    assert bad == [(2, 0, "corrupt"), (2, L.REC, "corrupt")]
    assert [(s, r[3]) for s, _o, r in got] == [(1, 1), (1, 2), (1, 3), (1, 4),
                                               (3, 7), (3, 8), (3, 9)]
    # a torn tail alone in a new segment is kept too, and counted as torn
    seg4 = p + "/" + L.seg_name(4)
    with open(seg4, "wb") as f:
        f.write(b"\xa5" * 17)
    log = L.EventLog(p, 4, 4 * L.REC)
    # (the writer scans back only to the last valid record: segment 3)
    assert log.ring.damaged == 1 and log.ring.damaged_seg == 4 and log.ring.torn and \
        log.seq == 11
    assert _write(log, 9)
    log.close()
    assert _read(seg4) == b"\xa5" * 17
    got, bad = logread.read_all(p)
    assert got[-1][0] == 5 and got[-1][2][3] == 11


def test_the_runner_logs_how_many_records_it_found_damaged():
    """req: R-023"""
    from fakeboard import FakeBoard

    from pumpmon.config import Config
    from pumpmon.runner import Runner
    d = _tmpdir("dmg2")
    try:
        p = _write_log(d, 8, 4 * L.REC, 6)
        _flip_records(p + "/" + L.seg_name(2), (0, 1))
        r = Runner(FakeBoard(), Config({"rate_ul_h": 30}), flash=d, log_seg_bytes=4 * L.REC,
                   rec_segments=0)
        r.run(10)
        got, bad = logread.read_all(p)
        # the boot record, then at once the count (other records may follow:
        # a log without state.bin is state_missing, issue 12)
        codes = [g[2][0] for g in got]
        i = len(codes) - 1 - codes[::-1].index(L.BOOT)
        boot = got[i][2]
        rec = got[i + 2][2]                 # after the firmware's identity (issue 27)
        assert boot[0] == L.BOOT and boot[3] == 7 and got[i + 1][2][0] == L.FIRMWARE
        assert rec[0] == L.LOG_DAMAGED
        assert rec[8:11] == (2, 2, 0)       # 2 damaged, in segment 2, none torn
        assert len(bad) == 2
        # a whole log: no such record
        r = Runner(FakeBoard(), Config({"rate_ul_h": 30}), flash=d, log_seg_bytes=4 * L.REC,
                   rec_segments=0)
        got2, _bad = logread.read_all(p)
        codes = [g[2][0] for g in got2]
        i = len(codes) - 1 - codes[::-1].index(L.BOOT)
        assert L.LOG_DAMAGED not in codes[i:] and r.log.ring.damaged == 0
    finally:
        _rmtree(d)
