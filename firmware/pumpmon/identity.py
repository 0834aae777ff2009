# The firmware's identity in the event log: which firmware raised an alarm is
# answerable from the log alone (docs/log-format.md, record `firmware`;
# docs/requirements.md ). Written right after every `boot` record:
#   v0  the running version, pumpmon.VERSION "a.b.c" as a*10000 + b*100 + c
#   v1  the installed manifest's version id (a SHA-256 over every file's hash,
#       what `pumpmon flash` prints), its first 7 hex digits as a number;
#       -1 when there is no readable manifest (a development copy)
#   v2, v3  the same two of the previous `firmware` record in the log
#       (UNKNOWN when the log holds none)
#   detail  SAME, FLASHED (the identity changed: a flash, logged with the
#       old and the new identity), FIRST (no earlier record to compare with)
# Runs once a boot (allocates; never on the tick path); MicroPython code.

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from pumpmon import eventlog as L

try:
    from pumpmon import VERSION
except ImportError:          # a package without its __init__: the version is not known
    VERSION = "?"

SAME = const(0)
FLASHED = const(1)
FIRST = const(2)
CHANGES = ("same", "flashed", "first")
NO_MANIFEST = const(-1)
ID_DIGITS = const(7)         # 28 bits: a small int on a 32-bit port
MANIFEST = "manifest.json"


def version_code(text):
    """'a.b.c' -> a*10000 + b*100 + c (each part 0-99); -1 when malformed."""
    parts = text.split(".")
    if len(parts) != 3:
        return -1
    n = 0
    for p in parts:
        try:
            v = int(p)
        except ValueError:
            return -1
        if v < 0 or v > 99:
            return -1
        n = n * 100 + v
    return n


def version_text(code):
    """The inverse of version_code: 10203 -> '1.2.3'; '?' when not known."""
    if code < 0:
        return "?"
    return "%d.%d.%d" % (code // 10000, (code // 100) % 100, code % 100)


def id_text(mid):
    """The manifest id as its 7 hex digits ('none' without a manifest)."""
    if mid < 0:
        return "none"
    return "%07x" % mid


def manifest_id(path, fs=L.FLASH):
    """The first 7 hex digits of the manifest's version id as a number, or
    NO_MANIFEST when the file is missing, unreadable or has no id."""
    import json
    try:
        with fs.open(path, "r") as f:
            man = json.load(f)
        vid = man["version"]
        if len(vid) < ID_DIGITS:
            return NO_MANIFEST
        return int(vid[:ID_DIGITS], 16)
    except Exception:  # noqa: BLE001 - no manifest is an answer, not a failure
        return NO_MANIFEST


def previous(log):
    """(v0, v1) of the newest `firmware` record in the log, or None. Reads
    the newest segment first, older ones only while none is found."""
    try:
        segs = log.ring.segments()
    except Exception:  # noqa: BLE001
        return None
    i = len(segs) - 1
    while i >= 0:
        found = None
        try:
            for rec in log.records(segs[i:i + 1]):
                if rec.ok and rec.code == L.FIRMWARE:
                    found = (rec.v0, rec.v1)
        except Exception:  # noqa: BLE001 - an unreadable segment: look further back
            pass
        if found is not None:
            return found
        i -= 1
    return None


def current(pre="", fs=L.FLASH):
    """(version code, manifest id) of the firmware running now."""
    return version_code(VERSION), manifest_id(pre + MANIFEST, fs)


def log_boot(store, pre=""):
    """Write the `firmware` record (after `boot`); keep the identity in the
    store (store.firmware) for the console's status."""
    log = store.log
    ver, mid = current(pre, log.fs)
    store.firmware = (ver, mid)
    before = previous(log)
    if before is None:
        change, pv, pm = FIRST, L.UNKNOWN, L.UNKNOWN
    else:
        pv, pm = before
        change = SAME if (pv == ver and pm == mid) else FLASHED
    store.write(L.FIRMWARE, L.NO_COND, change, ver, mid, pv, pm, sync=True)
