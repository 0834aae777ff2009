# ROMFS on the emulated Cortex-M3 (`make mcu`: a 256 KiB ROM partition,
# mcu/usermod/mcuflash/mcurom.c; docs/mcu.md, "ROM partition"): `pumpmon flash`
# writes the compiled modules there as a ROMFS image (host_tools/flashing/romfs.py),
# verified by hash before the commit, and the monitor runs its bytecode from
# /rom; a damaged image must end in the monitor running from the .mpy kept on
# littlefs with malfunction/internal (firmware_damaged), never in silence.
# The board's memory is changed from the host through QEMU's gdb stub (the
# running monitor holds the console) and reset through QMP, as a power cycle.
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host_tools.mcu import qemu

pytestmark = [pytest.mark.mcu, pytest.mark.slow]    # QEMU: about 80 s a test at -n 2

ROOT = Path(__file__).resolve().parents[2]
PUMPMON = str(Path(sys.executable).parent / "pumpmon")
MPREMOTE = str(Path(sys.executable).parent / "mpremote")
ROM_ADDR = 0x21C00000          # mcurom.c
ROM_BYTES = 256 * 1024
FLOW_FAULT_S = 10
LEVEL_FAULT_S = 15


def _pm(*args, timeout=300):
    return subprocess.run([PUMPMON] + [str(a) for a in args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gdb(port, packets):
    """Send gdb remote-protocol packets to QEMU's stub (it stops the CPU
    while connected; D detaches and lets it run); the replies (a stop
    notice the stub sends on its own is skipped)."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        buf = b""
        for p in packets:
            s.sendall(b"$%s#%02x" % (p, sum(p) & 0xFF))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                found = [m for m in re.findall(rb"\$([^#]*)#..", buf)
                         if not m.startswith((b"T", b"S"))]
                if found:
                    out.append(found[0])
                    buf = b""
                    break
                buf += s.recv(4096)
            s.sendall(b"+")
    return out


def _qmp(path, command):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        f = s.makefile("rwb", buffering=0)
        f.readline()                                            # greeting
        for cmd in ("qmp_capabilities", command):
            f.write(json.dumps({"execute": cmd}).encode() + b"\n")
            while b'"return"' not in f.readline():
                pass


def _status(port, want, limit=240):
    deadline = time.monotonic() + limit
    while True:
        r = _pm("status", "--port", port, "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        st = json.loads(r.stdout)
        assert st["monitoring"] and st["platform"] == "qemu", st
        if want <= set(st["alarms"]) or time.monotonic() > deadline:
            return st
        time.sleep(3)


def _config(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"board_id": "qemu-romfs", "rate_ul_h": 30.0,
                               "reservoir_capacity_ml": 20.0, "low_reservoir_ml": 4.0,
                               "flow_fault_s": FLOW_FAULT_S, "level_fault_s": LEVEL_FAULT_S}))
    return cfg


@pytest.fixture
def board(tmp_path):
    assert qemu.available() is None, qemu.available() + " (make test does)"
    gdb = _free_port()
    qmp = str(tmp_path / "qmp.sock")
    with qemu.Qemu(extra=("-gdb", "tcp:127.0.0.1:%d" % gdb,
                          "-qmp", "unix:%s,server=on,wait=off" % qmp)) as q:
        yield q, gdb, qmp


def _flash(q, tmp_path):
    r = _pm("flash", "--port", q.pty, "--config", _config(tmp_path), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["selftest"] == "passed", summary
    assert summary["bytecode"] == "romfs", summary
    assert 0 < summary["romfs_bytes_sent"] <= ROM_BYTES, summary
    assert "ROMFS image" in r.stderr or r.stderr == "", r.stderr
    return summary


def _records(port, tmp_path):
    r = _pm("log", "pull", "--port", port, "--json", "--dest", tmp_path / "pulled")
    assert r.returncode == 0, r.stdout + r.stderr
    return [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]


@pytest.mark.req("R-057", "R-070")
def test_mcu_with_rom_partition_runs_the_firmware_from_romfs(board, tmp_path):
    q, gdb, _ = board
    # a dry run says where the modules would go: at the blank board's REPL the
    # partition is asked, as the flash asks it
    dry = _pm("flash", "--port", q.pty, "--config", _config(tmp_path), "--dry-run")
    assert dry.returncode == 0 and "bytecode: a ROMFS image (" in dry.stdout, dry.stdout
    summary = _flash(q, tmp_path)
    dry = _pm("flash", "--port", q.pty, "--dry-run", "--json")   # the monitor running
    assert json.loads(dry.stdout.splitlines()[-1])["bytecode"].startswith(
        "a ROMFS image, as now"), dry.stdout
    # the image in the ROM partition is the one the board's manifest names
    size = summary["romfs_bytes_sent"]
    hexdata = _gdb(gdb, [b"m%x,%x" % (ROM_ADDR, 16), b"D"])[0]
    assert bytes.fromhex(hexdata.decode())[:3] == b"\xd2\xcd\x31"
    st = _status(q.pty, {"malfunction/flow_sensor", "malfunction/level_sensor"})
    assert {"malfunction/flow_sensor", "malfunction/level_sensor"} <= set(st["alarms"]), st
    assert "malfunction/internal" not in st["alarms"], st
    recs = _records(q.pty, tmp_path)
    raised = {r["alarm"] + "/" + r["cause"]: r for r in recs if r["event"] == "alarm_raised"}
    r = raised["malfunction/flow_sensor"]
    assert FLOW_FAULT_S * 1000 <= r["uptime_ms"] <= (FLOW_FAULT_S + 2) * 1000, r
    assert size > 40000


@pytest.mark.req("R-031", "R-057")
def test_mcu_with_a_damaged_romfs_image_runs_from_littlefs_and_says_so(board, tmp_path):
    q, gdb, qmp = board
    summary = _flash(q, tmp_path)
    # one byte in the middle of the image flipped: it still mounts as ROMFS,
    # so only the hash against the manifest tells (a module run from it could
    # misjudge or hang)
    at = ROM_ADDR + summary["romfs_bytes_sent"] // 2
    old = bytes.fromhex(_gdb(gdb, [b"m%x,1" % at, b"D"])[0].decode())
    assert _gdb(gdb, [b"M%x,1:%02x" % (at, old[0] ^ 0x5A), b"D"])[0] == b"OK"
    _qmp(qmp, "system_reset")             # the board restarts, the image stays damaged
    time.sleep(2)
    want = {"malfunction/flow_sensor", "malfunction/internal"}
    st = _status(q.pty, want)
    assert want <= set(st["alarms"]), st
    # what the light plays, by the firmware's rules: malfunction's red blips
    assert st["light_pattern"].startswith("red, ") and "malfunction/" in st["light_pattern"], st
    # and the LED itself: a status catches it at one instant, in its 140 ms
    # on or its 560 ms off (20 % duty), so look until it is seen red, at
    # random moments (a loaded machine's regular status calls can keep
    # landing in the off phase: 6 samples at a fixed pace were all off once)
    leds = [st["led"]]
    rng = random.Random(7)
    while "red" not in leds and len(leds) < 40:
        time.sleep(rng.uniform(0, 0.7))
        leds.append(_status(q.pty, want, limit=0)["led"])
    assert "red" in leds and set(leds) <= {"red", "off"}, leds
    recs = _records(q.pty, tmp_path)
    raised = {r["alarm"] + "/" + r["cause"]: r for r in recs if r["event"] == "alarm_raised"}
    assert "malfunction/firmware_damaged" in raised or any(
        r.get("detail") == "firmware_damaged" for r in recs), recs
    # the flow fault still within its time of the second boot: the monitor runs
    boots = [r for r in recs if r["event"] == "boot"]
    assert len(boots) >= 2, recs
    assert os.path.exists(q.pty)
