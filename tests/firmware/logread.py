# The tests' reader of the firmware's event log (CPython and MicroPython: the
# firmware tests run on both). Not firmware: the board reads its log back with
# EventLog.records() and never needs more, so this stays off the board's heap;
# the host's reader (`pumpmon log decode`) is host_tools/formats/eventlog.py.
# The record's layout and checks are the firmware's own (pumpmon.eventlog).
import struct

from pumpmon.eventlog import FLASH, FMT, REC, check, seg_name, seg_number


def unpack(buf):
    """(code, cond, detail, seq, up_s, up_ms, shown, wall, v0, v1, v2, v3) of a record."""
    return struct.unpack_from(FMT, buf, 0)[1:13]


def read_all(path="log", flash=None):
    """Every valid record of a log directory in segment order, and the
    problems found: ([(seg, offset, fields)], [(seg, offset, what)])."""
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
