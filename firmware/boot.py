# boot.py: runs before main.py on every reset. It finishes (or, when it
# cannot, undoes) a firmware update that a pulled cable or a reset cut short,
# so the board always boots one whole version. The host (`pumpmon flash`)
# sends this same file's code to run the swap itself. Protocol, step by step:
# docs/flashing.md. Paths are relative to the board's current directory (/).
#
#   .pm_stage/<path>   new files, uploaded and verified by hash before commit
#   .pm_journal        the commit record (JSON); its existence means "swap"
#   .pm_old/<path>     the replaced files, kept until the swap is complete
#   manifest.json      the installed version (path -> sha256); replaced last
import os

STAGE = ".pm_stage"
OLD = ".pm_old"
JOURNAL = ".pm_journal"
MANIFEST = "manifest.json"


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def _isdir(p):
    try:
        return os.stat(p)[0] & 0x4000 != 0
    except OSError:
        return False


def _mv(src, dst):
    # one atomic rename that replaces dst (LittleFS, POSIX); tests wrap it
    os.rename(src, dst)


def _rm(p):
    os.remove(p)


def _parents(root, path):
    # make the folders of root + path
    parts = path.split("/")
    cur = root
    for part in parts[:-1]:
        cur = cur + part
        if not _isdir(cur):
            os.mkdir(cur)
        cur = cur + "/"


def rmtree(p):
    if _isdir(p):
        for name in os.listdir(p):
            rmtree(p + "/" + name)
        os.rmdir(p)
    elif _exists(p):
        _rm(p)


def sha256_hex(p):
    import hashlib
    import binascii
    h = hashlib.sha256()
    buf = bytearray(512)
    mv = memoryview(buf)
    with open(p, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(mv[:n])
    return binascii.hexlify(h.digest()).decode()


def _steps(j):
    # (path, sha or None): files to install, stale files to remove (sha
    # None), the manifest last (none when only the configuration changes)
    out = [(e[0], e[1]) for e in j["install"]]
    for p in j["remove"]:
        out.append((p, None))
    if j.get("manifest"):
        out.append((MANIFEST, j["manifest"]))
    return out


def _forward(root, steps):
    """Do every step not yet done. (index, error): the first step that can
    be neither done nor seen done, error True when the file system refused
    it (e.g. ENOSPC; the step may be half done); (-1, False): all done."""
    for i in range(len(steps)):
        path, sha = steps[i]
        s = root + STAGE + "/" + path
        d = root + path
        o = root + OLD + "/" + path
        try:
            if sha is None:                   # a stale file: move it aside
                if _exists(d):
                    if _exists(o):
                        _rm(o)
                    _parents(root, OLD + "/" + path)
                    _mv(d, o)
                continue
            if _exists(s):
                if _exists(d):
                    if _exists(o):            # leftover of an older swap
                        _rm(o)
                    _parents(root, OLD + "/" + path)
                    _mv(d, o)
                _parents(root, path)
                _mv(s, d)
            elif not _exists(d) or sha256_hex(d) != sha:
                return i, False
        except OSError:
            return i, True
    return -1, False


def _undo_half(root, step):
    # a step the file system refused part way: its staged file is still
    # there unless it was moved in (then the step was done)
    path, sha = step
    d = root + path
    o = root + OLD + "/" + path
    if sha is None or _exists(root + STAGE + "/" + path):
        if _exists(o) and not _exists(d):
            _mv(o, d)
    else:
        _backward(root, [step], 1)


def _backward(root, steps, upto):
    """Undo steps [0, upto), last first."""
    i = upto - 1
    while i >= 0:
        path, sha = steps[i]
        d = root + path
        o = root + OLD + "/" + path
        if _exists(o):
            _parents(root, path)
            _mv(o, d)
        elif sha is not None and _exists(d):  # a file the update added
            _rm(d)
        i -= 1


def _prune(root, path):
    # remove the folders of a removed file that became empty (never lib/)
    parts = path.split("/")[:-1]
    while parts and parts != ["lib"]:
        p = root + "/".join(parts)
        try:
            if os.listdir(p):
                return
            os.rmdir(p)
        except OSError:
            return
        parts.pop()


def recover(root=""):
    """Bring the folder `root` ('' or 'dir/') to one whole version.
    Returns None (nothing to do), 'completed' or 'rolled_back'."""
    jp = root + JOURNAL
    if _exists(jp + ".tmp"):                  # never committed
        _rm(jp + ".tmp")
    if not _exists(jp):
        if _exists(root + OLD):               # a finished swap's leftovers
            rmtree(root + OLD)
        return None
    import json
    try:
        with open(jp) as f:
            j = json.load(f)
        steps = _steps(j)
    except (ValueError, KeyError, TypeError, IndexError, OSError):
        j = None
    if j is None:
        # cannot happen with an atomic rename of the journal; put back what
        # was moved aside and keep what is in place
        if _isdir(root + OLD):
            _restore_all(root, root + OLD + "/", "")
        result = "rolled_back"
    else:
        bad, refused = _forward(root, steps)
        if bad < 0:
            result = "completed"
            for p in j["remove"]:
                _prune(root, p)
        else:
            if refused:
                _undo_half(root, steps[bad])
            _backward(root, steps, bad)
            result = "rolled_back"
    rmtree(root + STAGE)
    _rm(jp)                                   # the swap is over
    rmtree(root + OLD)
    return result


def _restore_all(root, base, rel):
    for name in os.listdir(base + rel):
        r = rel + name
        if _isdir(base + r):
            _restore_all(root, base, r + "/")
        else:
            _parents(root, r)
            _mv(base + r, root + r)


def check_firmware():
    """After recovery: the manifest's files that are missing or damaged
    and a ROMFS image that is not the one named (failsafe.problems: the
    modules then come from littlefs), for main.py
    (PM_DAMAGED). When main.py itself is one
    of them nothing else will run: sound and show here, without blocking
    (the REPL stays reachable for `pumpmon flash`). docs/safety.md."""
    try:
        import failsafe
    except BaseException:  # noqa: BLE001 - failsafe.py gone or broken
        return ["failsafe.py: does not import"]
    bad = failsafe.problems()              # (the modules from /rom or littlefs)
    for p in bad:
        if p.startswith("main.py") or p.startswith(MANIFEST):
            failsafe.start("firmware damaged: " + "; ".join(bad))
            break
    return bad


if __name__ == "__main__":
    # Nothing may leave boot.py but a Ctrl-C: on the rp2 port a SystemExit
    # out of boot.py is a soft reset before main.py runs, at every boot (a
    # silent loop: docs/safety.md); any other exception skips main.py on
    # some ports
    try:
        _r = recover()
        if _r:
            print("pumpmon boot: firmware update", _r)
    except KeyboardInterrupt:
        raise               # someone at the console
    except BaseException as e:  # noqa: BLE001 - never stop the board from booting
        print("pumpmon boot: update recovery failed:", e)
    PM_DAMAGED = None       # main.py checks itself when this stays None
    try:
        PM_DAMAGED = check_firmware()
        if PM_DAMAGED:
            print("pumpmon boot: firmware damaged:", "; ".join(PM_DAMAGED))
    except BaseException as e:  # noqa: BLE001 - e.g. MemoryError: main.py checks again
        print("pumpmon boot: firmware check failed:", e)
