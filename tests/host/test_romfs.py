# ROMFS (host_tools/flashing/romfs.py, firmware/failsafe.py use_rom; docs/flashing.md,
# "ROMFS"): the image pumpmon flash writes, and what a board does at boot
# with what its ROM partition holds: the image the manifest names runs from
# /rom; a damaged, missing or half-written one (a cut deploy) never does:
# the modules come from littlefs and the problem reaches main.py
# (malfunction/internal). On CPython with a stand-in for MicroPython's `vfs`;
# the real partition: tests/boards/test_mcu_romfs.py.
import hashlib
import json
import sys
import types
from pathlib import Path

import pytest

from host_tools.flashing import romfs

FILES = {"boot.py": b"# boot", "main.py": b"# main", "failsafe.py": b"# fs",
         "board.mpy": b"M\x06board", "lib/pins.mpy": b"M\x06pins",
         "lib/pumpmon/__init__.mpy": b"M\x06", "lib/pumpmon/engine.mpy": b"M\x06engine" * 50}


class _Vfs(types.ModuleType):
    """MicroPython's vfs as failsafe.use_rom sees it: one ROM segment."""

    def __init__(self, segment):
        super().__init__("vfs")
        self.segment = segment
        self.mounted = {"/rom"}

    def rom_ioctl(self, op, *args):
        assert op == 2 and args == (0,)
        return self.segment if self.segment is not None else -22

    def VfsRom(self, seg):
        return ("romfs", bytes(seg[:3]))

    def mount(self, fs, where):
        if where in self.mounted:
            raise OSError(1)
        self.mounted.add(where)

    def umount(self, where):
        if where not in self.mounted:
            raise OSError(22)
        self.mounted.remove(where)


@pytest.fixture
def board(tmp_path, monkeypatch):
    """A board's littlefs (tmp_path) flashed with the image named in its
    manifest, its sys.path as the port leaves it after mounting /rom."""
    import failsafe
    img = romfs.image(FILES)
    (tmp_path / "manifest.json").write_text(json.dumps({"files": {}, "romfs": romfs.entry(img)}))
    monkeypatch.setattr(sys, "path", ["", ".frozen", "/rom", "/rom/lib", "/lib"] + sys.path)

    def flashed(segment):
        v = _Vfs(segment)
        monkeypatch.setitem(sys.modules, "vfs", v)
        return v
    return failsafe, str(tmp_path) + "/", img, flashed


@pytest.mark.req("R-070")
def test_image_holds_the_compiled_modules_at_their_paths():
    from mpremote.romfs import VfsRomWriter
    img = romfs.image(FILES)
    assert img.startswith(VfsRomWriter.ROMFS_HEADER)
    for p, data in FILES.items():
        assert (data in img) == p.endswith(".mpy"), p
    assert romfs.image(dict(reversed(list(FILES.items())))) == img      # deterministic
    assert romfs.image({"main.py": b"x"}) is None                          # --source
    assert romfs.entry(img) == {"sha256": hashlib.sha256(img).hexdigest(), "size": len(img)}


@pytest.mark.req("R-070")
def test_without_a_rom_partition_the_flash_warns_naming_the_budget():
    img = romfs.image(FILES)
    assert romfs.choose(262144, img, "qemu") == (True, None)
    for rom_size in (None, 0, len(img) - 1):
        use, warning = romfs.choose(rom_size, img, "rpi_pico")
        assert not use and warning.startswith("warning: ")
        assert "84 %" in warning and "60 %" in warning and "bytecode" in warning, warning
    assert "does not fit" in romfs.choose(len(img) - 1, img, "esp32")[1]
    assert "release bundle" in romfs.choose(262144, None, "esp32", bundle=True)[1]
    assert romfs.choose(None, img, "sim") == (False, None)          # the virtual board
    assert romfs.choose(None, None, "esp32", source=True) == (False, None)


@pytest.mark.req("R-070", "R-031")
def test_the_image_the_manifest_names_runs_from_rom_first(board):
    failsafe, root, img, flashed = board
    flashed(bytearray(img) + b"\xff" * 4096)
    assert failsafe.use_rom(root) is None
    assert sys.path[:2] == ["/rom", "/rom/lib"] and sys.path[2:5] == ["", ".frozen", "/lib"]


@pytest.mark.req("R-031")
@pytest.mark.parametrize("how", ["damaged", "cut", "erased", "none"])
def test_a_bad_image_is_never_run_and_is_reported(board, how):
    failsafe, root, img, flashed = board
    seg = bytearray(img) + b"\xff" * 4096
    if how == "damaged":
        seg[len(img) // 2] ^= 0x5A
    elif how == "cut":                         # a deploy cut half way: the rest erased
        seg[len(img) // 2:] = b"\xff" * (len(seg) - len(img) // 2)
    elif how == "erased":
        seg[:] = b"\xff" * len(seg)
    v = flashed(None if how == "none" else seg)
    problem = failsafe.use_rom(root)
    assert problem == ("romfs: missing" if how == "none" else "romfs: damaged")
    assert not [p for p in sys.path if p.startswith("/rom")], sys.path
    assert "/rom" not in v.mounted and "/lib" in sys.path


@pytest.mark.req("R-031")
def test_an_image_no_manifest_names_is_not_run(board):
    # a board flashed without ROMFS after one with: the old image stays in
    # the partition, and must not shadow the new version's modules
    failsafe, root, img, flashed = board
    Path(root, "manifest.json").write_text(json.dumps({"files": {}}))
    v = flashed(bytearray(img))
    assert failsafe.use_rom(root) is None
    assert not [p for p in sys.path if p.startswith("/rom")] and "/rom" not in v.mounted
