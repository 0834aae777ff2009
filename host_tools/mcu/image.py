"""A littlefs image of the emulated board's flash, built on the host
(littlefs-python, pinned in requirements.txt), that QEMU loads into the
board's RAM flash before the firmware starts (`Qemu(image=...)`), so the
files are there at once instead of crossing the serial port (docs/mcu.md).

The geometry is the board's: 4 KiB blocks (mcu/usermod/mcuflash/mcuflash.c);
the cache, program and lookahead sizes are MicroPython's `vfs.VfsLfs2`
defaults, so the board mounts it as it mounts a flash it formatted itself.
"""
from pathlib import Path

BLOCK = 4096
FLASH_BYTES = 1024 * 1024       # the board's flash unless asked otherwise
# vfs.VfsLfs2(readsize=32, progsize=32, lookahead=32): cache 4 * 32
LFS_GEOMETRY = {"read_size": 32, "prog_size": 32, "cache_size": 128, "lookahead_size": 32,
                "block_cycles": 100}


def build(files, size=FLASH_BYTES):
    """The image (bytes, `size` long) of a flash holding files:
    {board path ("lib/x.mpy"): bytes}."""
    from littlefs import LittleFS
    fs = LittleFS(block_size=BLOCK, block_count=size // BLOCK, **LFS_GEOMETRY)
    made = set()
    for path in sorted(files):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in made:
                fs.mkdir(d)
                made.add(d)
        with fs.open("/".join(parts), "wb") as f:
            f.write(files[path])
    return bytes(fs.context.buffer)


def tree_files(root, prefix=""):
    """{prefix + relative path: bytes} for every file under a host folder."""
    root = Path(root)
    return {prefix + p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def write(path, files, size=FLASH_BYTES):
    Path(path).write_bytes(build(files, size))
    return path
