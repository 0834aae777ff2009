"""The firmware's bytecode in the board's ROM partition (ROMFS), for
`pumpmon flash` (protocol.py; docs/flashing.md, "ROMFS").

MicroPython (>= 1.25) runs the bytecode of a module imported from a ROMFS
image (vfs.VfsRom, mounted at /rom) in place, from flash; a .mpy on littlefs
is read into the heap when imported. The full monitor's peak is 49 % of the
Pico's free heap from ROMFS and 84 % from littlefs (docs/boards.md, "ROMFS"):
on a board whose firmware has a ROM partition (vfs.rom_ioctl) large enough,
the flash writes every compiled module (.mpy: lib/ and board.mpy, the same
paths as on littlefs) into one image there, and names the image's SHA-256 and
size in the manifest. boot.py (failsafe.use_rom) puts /rom first on sys.path
only when the image there has that hash; otherwise the firmware runs from the
copies on littlefs, which stay as the fallback (shadowed, they cost no heap).

The image is written and verified (SHA-256 computed on the board) before the
littlefs commit: a cut or a failed write leaves an image that matches no
manifest, so the board runs from littlefs (the previous version, or the new
one with malfunction/internal firmware_damaged), never silently.
"""
import binascii
import hashlib

from host_tools.exitcodes import VERIFY
from host_tools.flashing.errors import FlashError

ROM_ID = 0                  # the segment: rp2, esp32 and the QEMU board have one
CHUNK = 2048                # bytes per write (base64 in the raw REPL), as session.py
BUDGET_NOTE = ("the whole bytecode is loaded into the heap: the full monitor peaks at "
               "84 %% of a Pico's free heap this way (the budget's limit is 60 %%, "
               "49 %% from ROMFS; docs/boards.md, \"ROMFS\")")

# the board's ROM segment: its size in bytes, or None (no vfs.rom_ioctl, or
# no segment); printed as one JSON value
PROBE = r"""
import json
try:
    import vfs
    _r = vfs.rom_ioctl(2, %d)
    _r = None if isinstance(_r, int) else len(memoryview(_r))
except Exception:
    _r = None
print(json.dumps(_r))
""" % ROM_ID

# the SHA-256 of the segment's first n bytes, or null without a segment
HASH = r"""
import json
try:
    import vfs, hashlib, binascii
    _h = hashlib.sha256(memoryview(vfs.rom_ioctl(2, %d))[:%%d])
    print(json.dumps(binascii.hexlify(_h.digest()).decode()))
except Exception:
    print('null')
""" % ROM_ID

# before writing: nothing may run from the segment while it changes; a
# module imported from it would run the new image's bytes as the old's
RELEASE = r"""
import sys, vfs, binascii
try:
    vfs.umount('/rom')
except OSError:
    pass
for _p in [p for p in sys.path if p == '/rom' or p.startswith('/rom/')]:
    sys.path.remove(_p)
for _n in [n for n, m in sys.modules.items()
           if getattr(m, '__file__', '').startswith('/rom/')]:
    del sys.modules[_n]
"""


def in_image(path):
    """True for a file the image holds: the compiled modules."""
    return path.endswith(".mpy")


def image(files):
    """The ROMFS image of files' compiled modules ({path: bytes}), same paths
    as on littlefs; None when there is none (a --source flash)."""
    from mpremote.romfs import VfsRomWriter
    mods = sorted(p for p in files if in_image(p))
    if not mods:
        return None
    w = VfsRomWriter()
    tree = {}
    for p in mods:
        node = tree
        parts = p.split("/")
        for d in parts[:-1]:
            node = node.setdefault(d + "/", {})
        node[parts[-1]] = files[p]

    def put(node):
        for name in sorted(node):
            if name.endswith("/"):
                w.opendir(name[:-1])
                put(node[name])
                w.closedir()
            else:
                w.mkfile(name, node[name])
    put(tree)
    return w.finalise()


def entry(img):
    """The manifest's "romfs" value."""
    return {"sha256": hashlib.sha256(img).hexdigest(), "size": len(img)}


def decide(rom_size, files, board, source=False, bundle=False):
    """What `pumpmon flash` and its dry run do with a board's ROM partition
    of rom_size bytes (None: it has none): (the ROMFS image of files to write
    there, or None: the modules stay on littlefs; the warning, or None). The
    image is built only for a board that has a partition."""
    img = image(files) if not bundle and rom_size is not None else None
    use, warning = choose(rom_size, img, board, source, bundle)
    return (img if use else None), warning


def choose(rom_size, img, board, source=False, bundle=False):
    """(use the ROM partition?, the warning to print or None). The virtual
    board ("sim": the unix port's heap is no Pico's) and a --source flash
    (no image) are not warned about."""
    if img is not None and rom_size is not None and rom_size >= len(img):
        return True, None
    if source or board == "sim":
        return False, None
    if bundle:
        why = "a release bundle is installed as released, on littlefs"
    elif img and rom_size:
        why = ("the firmware's ROMFS image (%d bytes) does not fit the board's ROM "
               "partition (%d bytes)" % (len(img), rom_size))
    else:
        why = "this board's MicroPython has no ROM partition (vfs.rom_ioctl)"
    return False, "warning: %s: %s" % (why, BUDGET_NOTE)


def board_rom(b):
    """The board's ROM segment size in bytes, or None."""
    return b.json(PROBE)


def board_hash(b, size):
    return b.json(HASH % size)


def deploy(b, img, progress=None):
    """Write img into the board's segment and verify it by hash; skipped when
    the segment already holds it. Returns the bytes written (0: skipped).
    FlashError(VERIFY) when the segment does not hold img afterwards."""
    want = hashlib.sha256(img).hexdigest()
    if board_hash(b, len(img)) == want:
        return 0
    b.exec(RELEASE)
    for attempt in (1, 2):
        got = b.json("print(json.dumps(vfs.rom_ioctl(3, %d, %d)))" % (ROM_ID, len(img)))
        if not isinstance(got, int) or got < 0:
            raise FlashError(VERIFY, "the board refused to prepare its ROM partition "
                             "(vfs.rom_ioctl(3) gave %r); nothing was changed on littlefs"
                             % (got,))
        step = max(CHUNK, got)
        step -= step % max(got, 1)
        for off in range(0, len(img), step):
            chunk = img[off:off + step]
            if len(chunk) % got:
                chunk += b"\xff" * (got - len(chunk) % got)
            b.exec("vfs.rom_ioctl(4, %d, %d, binascii.a2b_base64(%r))"
                   % (ROM_ID, off, binascii.b2a_base64(chunk, newline=False).decode()))
            if progress:
                progress(len(chunk))
        b.exec("vfs.rom_ioctl(5, %d)" % ROM_ID)
        got_hash = board_hash(b, len(img))
        if got_hash == want:
            return len(img)
    raise FlashError(VERIFY, "verification failed: the ROM partition holds SHA-256 %s, "
                     "expected %s; nothing was changed on littlefs (the board runs the "
                     "previous version from littlefs)" % (got_hash, want))
