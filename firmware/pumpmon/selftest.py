# The self-test that `pumpmon flash` runs on the board after an update,
# before it reports success. Read-only: it changes no file and no hardware.
# It checks that the installed files are the ones the manifest lists (by
# SHA-256), that no update is half done, that every module imports (an
# incompatible .mpy fails here; from the ROMFS image at /rom when the
# manifest names one, which must be in the ROM partition), that the configuration is valid, and that a
# Monitor built from it runs a few samples of normal delivery without an
# internal fault. run() returns a dict; report() prints it as one JSON line.
import json
import os

JOURNAL = ".pm_journal"
MANIFEST = "manifest.json"


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def _modules(files):
    # lib/pumpmon/engine.mpy -> pumpmon.engine; board.mpy -> board
    out = []
    for path in files:
        name = path
        if name.startswith("lib/"):
            name = name[4:]
        dot = name.rfind(".")
        if dot < 0 or name[dot:] not in (".py", ".mpy"):
            continue
        name = name[:dot]
        if name in ("boot", "main"):
            continue
        if name.endswith("/__init__"):
            name = name[:-9]
        out.append(name.replace("/", "."))
    out.sort()
    return out


def run(root="", board=True):
    """root: '' on a board, or 'dir/' for a copy of a board's files.
    board: also import the board layer (False where there is none)."""
    problems = []
    version = None
    files = {}
    try:
        with open(root + MANIFEST) as f:
            man = json.load(f)
        version = man.get("version")
        files = man["files"]
    except Exception as e:
        problems.append("%s: unreadable: %s" % (MANIFEST, e))
    if _exists(root + JOURNAL):
        problems.append("an update is half done (%s present)" % JOURNAL)
    try:
        # the failsafe's hash: the one it checks the files with at a
        # failed boot (a failsafe that does not import fails the test anyway)
        from failsafe import _sha256_hex
    except Exception as e:
        problems.append("import failsafe: %s: %s" % (type(e).__name__, e))
        files = {}
    for path in sorted(files):
        try:
            if _sha256_hex(root + path) != files[path]:
                problems.append("%s: content differs from the manifest" % path)
        except OSError:
            problems.append("%s: missing" % path)
    rom = False
    try:
        # a ROMFS image named in the manifest: it must be the one in the
        # ROM partition, and every compiled module must import from it
        from failsafe import rom_problem
        rom, bad = rom_problem(root)
        if bad:
            problems.append(bad)
    except Exception as e:
        problems.append("failsafe.rom_problem: %s: %s" % (type(e).__name__, e))
    import sys
    for name in _modules(files):
        if name == "board" and not board:
            continue
        try:
            __import__(name)
        except Exception as e:
            problems.append("import %s: %s: %s" % (name, type(e).__name__, e))
            continue
        where = getattr(sys.modules.get(name), "__file__", "")
        if rom and where.endswith(".mpy") and not where.startswith("/rom/"):
            problems.append("import %s: from %s, not the ROMFS image" % (name, where))
    try:
        from pumpmon import alarms as A
        from pumpmon.monitor import Monitor
        from pumpmon.runner import load_config
        cfg, err = load_config(root + "config.json")
        if err:
            problems.append(err)
        events = []
        m = Monitor(cfg, 0, lambda code, cond, detail: events.append((code, cond)))
        rate = cfg.rate_at(0)
        level = cfg.capacity_ul
        for t in range(5):
            m.step(t * 1000, level, rate + (t & 1), 0, 0, 0)
        if m.internal:
            problems.append("monitor raised an internal fault (detail %s)"
                            % A.DETAIL_NAMES[m.internal_detail])
        for code, cond in events:
            if cond == A.INTERNAL:
                problems.append("monitor raised malfunction/internal")
    except Exception as e:
        problems.append("monitor: %s: %s" % (type(e).__name__, e))
    return {"ok": not problems, "version": version, "problems": problems}


def report(root="", board=True):
    r = run(root, board)
    print(json.dumps(r))
    return r
