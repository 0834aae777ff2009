# The firmware's identity in the event log (firmware/pumpmon/identity.py,
# docs/log-format.md `firmware`): after every boot record, the version and the
# installed manifest's id, with the previous boot's, so a flash shows in the
# log as the old and the new identity. Real files in a temporary directory;
# runs on CPython and on the MicroPython unix ports.
from fakeboard import FakeBoard
from test_eventlog import in_tmpdir

from pumpmon import VERSION
from pumpmon import eventlog as L
import logread
from pumpmon import identity as I
from pumpmon.config import Config
from pumpmon.runner import Runner


def _boot(d, seg_bytes=16384):
    r = Runner(FakeBoard(), Config({"rate_ul_h": 30}), flash=d, log_seg_bytes=seg_bytes,
               rec_segments=0)
    r.run(5)
    r.log.close()
    return r


def _manifest(d, vid):
    with open(d + "/manifest.json", "w") as f:
        f.write('{"format":1,"version":"%s","board":"sim","files":{}}\n' % vid)


def _firmware_records(d):
    got, bad = logread.read_all(d + "/log")
    assert not bad
    codes = [g[2][0] for g in got]
    out = []
    for i, c in enumerate(codes):
        if c == L.FIRMWARE:
            # written right after the boot record, every boot
            assert codes[i - 1] == L.BOOT
            out.append(got[i][2])
    assert len(out) == codes.count(L.BOOT)
    return out


def test_version_code_round_trip_and_refusals():
    """req: R-029"""
    for text in ("0.1.0", "1.2.3", "99.99.99", "0.0.0", "10.0.7"):
        assert I.version_text(I.version_code(text)) == text
    for bad in ("1.2", "1.2.3.400", "a.b.c", "1.100.0", "-1.0.0", ""):
        assert I.version_code(bad) == -1, bad
    assert I.version_text(-1) == "?"
    assert I.version_code(VERSION) >= 0      # the running version encodes
    assert I.id_text(-1) == "none" and I.id_text(0xabc) == "0000abc"


@in_tmpdir("fwid")
def test_every_boot_logs_the_identity_and_a_flash_its_old_one(d):
    """req: R-029, R-030"""
    _boot(d)                                   # no manifest: a development copy
    _manifest(d, "abcdef0123456789")
    r = _boot(d)                               # flashed: the manifest appeared
    assert r.store.firmware == (I.version_code(VERSION), 0xabcdef0)
    _boot(d)                                   # the same again
    _manifest(d, "0123456fedcba987")
    _boot(d)                                   # flashed again
    recs = _firmware_records(d)
    ver = I.version_code(VERSION)
    # (code, cond, detail, seq, up_s, up_ms, shown, wall, v0, v1, v2, v3, crc)
    got = [(x[2], x[8], x[9], x[10], x[11]) for x in recs]
    assert got == [
        (I.FIRST, ver, I.NO_MANIFEST, L.UNKNOWN, L.UNKNOWN),
        (I.FLASHED, ver, 0xabcdef0, ver, I.NO_MANIFEST),
        (I.SAME, ver, 0xabcdef0, ver, 0xabcdef0),
        (I.FLASHED, ver, 0x0123456, ver, 0xabcdef0),
    ], got


@in_tmpdir("fwid2")
def test_a_damaged_manifest_is_no_identity_not_a_failure(d):
    """req: R-029"""
    with open(d + "/manifest.json", "w") as f:
        f.write('{"version": 12')             # cut short
    r = _boot(d)
    assert r.store.firmware[1] == I.NO_MANIFEST
    with open(d + "/manifest.json", "w") as f:
        f.write('{"version": "ab"}')          # too short an id
    r = _boot(d)
    assert r.store.firmware[1] == I.NO_MANIFEST
    recs = _firmware_records(d)
    assert [x[2] for x in recs] == [I.FIRST, I.SAME]


@in_tmpdir("fwid3")
def test_the_previous_identity_is_found_in_an_older_segment(d):
    """req: R-030"""
    _manifest(d, "1111111aaaaaaaaa")
    _boot(d, seg_bytes=4 * L.REC)
    # fill the log past the segment that holds the firmware record
    log = L.EventLog(d + "/log", 8, 4 * L.REC)
    for i in range(9):
        log.append(L.SNAPSHOT, v0=i)
    log.close()
    _manifest(d, "2222222bbbbbbbbb")
    _boot(d, seg_bytes=4 * L.REC)
    recs = _firmware_records(d)
    last = recs[-1]
    assert (last[2], last[9], last[11]) == (I.FLASHED, 0x2222222, 0x1111111), last
