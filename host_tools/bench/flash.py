"""`make bench` section: flashing the virtual board, `pumpmon flash` side by
side with plain `mpremote fs cp -r` of the same files, in the same run.

Rows: first flash (empty board), no-change reflash, one-file change; seconds
and bytes sent. mpremote does not report what it skipped: its bytes are the
files' size for a first copy (its hash check skips unchanged files on a
repeat copy, so a repeat sends about nothing). Run alone:
    .venv/bin/python -m host_tools.bench.flash
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from host_tools.paths import ROOT
from host_tools.vboard.served import ServedBoard

BIN = Path(sys.executable).parent
CONFIG = {"rate_ul_h": 30.0}


class Served(ServedBoard):
    """A `pumpmon board serve` on a fresh flash folder."""

    def __init__(self, tmp, name):
        self.flash = Path(tmp) / ("flash-" + name)
        self.flash.mkdir()
        super().__init__(Path(tmp) / ("tty-" + name), self.flash)
        if not self.ready:
            self.stop()
            raise RuntimeError("pumpmon board serve did not start: %r" % self.line)


def _flash(port, root, cfg):
    from host_tools.flashing.protocol import flash
    return flash(port, config=cfg, root=root, progress=False, settle=1.0)


def _mpremote_cp(port, folder):
    names = sorted(os.listdir(folder))
    t = time.monotonic()
    r = subprocess.run([str(BIN / "mpremote"), "connect", port, "fs", "cp", "-r"] + names +
                       [":"], cwd=folder, capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise RuntimeError("mpremote fs cp failed: %s" % (r.stderr or r.stdout)[-300:])
    return time.monotonic() - t


def measure():
    from host_tools.flashing import build as B
    tmp = Path(tempfile.mkdtemp(prefix="pumpmon-flash-bench-"))
    try:
        cfg = tmp / "config.json"
        cfg.write_text(json.dumps(CONFIG))
        repo = tmp / "repo"
        repo.mkdir()
        for d in ("firmware", "boards"):
            shutil.copytree(ROOT / d, repo / d, ignore=shutil.ignore_patterns("__pycache__"))
        out = {}
        a = Served(tmp, "flash")
        try:
            out["first"] = _flash(a.port, repo, cfg)
            out["again"] = _flash(a.port, repo, cfg)
            with open(repo / "firmware" / "pumpmon" / "events.py", "a") as f:
                f.write("\n_BENCH = 1\n")
            out["one"] = _flash(a.port, repo, cfg)
        finally:
            a.stop()
        # the same files, laid out as on the board, copied by plain mpremote
        files = B.build_files(repo, "sim", B.target_for(
            {"version": [1, 29, 0], "mpy": out["first"]["mpy"], "platform": "linux"}))
        files["config.json"] = B.config_to_bytes(CONFIG)
        src = tmp / "files"
        for p, data in files.items():
            (src / p).parent.mkdir(parents=True, exist_ok=True)
            (src / p).write_bytes(data)
        m = Served(tmp, "mpremote")
        try:
            out["cp_first"] = _mpremote_cp(m.port, src)
            out["cp_again"] = _mpremote_cp(m.port, src)
        finally:
            m.stop()
        out["cp_bytes"] = sum(len(d) for d in files.values())
        out["cp_files"] = len(files)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def section_flash():
    try:
        r = measure()
    except Exception as e:  # no virtual board in this tree, or it failed
        return "Flashing the virtual board", [("flash bench", "-", "", "not run: %s" % e)]
    rows = []
    for key, label in (("first", "first flash (empty board)"),
                       ("again", "no-change reflash"),
                       ("one", "one-file change")):
        s = r[key]
        rows.append(("pumpmon flash, %s" % label, "%.2f" % s["seconds"], "s",
                     "%d bytes, %d files sent, %d skipped; %.2f s to the swap, then "
                     "self-test, reset, 1 s watching main.py" % (
                         s["bytes_sent"], s["files_sent"], s["files_skipped"],
                         s["seconds_update"])))
    rows.append(("mpremote fs cp -r, first copy", "%.2f" % r["cp_first"], "s",
                 "%d bytes, %d files, in place, no verify/reset" % (r["cp_bytes"],
                                                                    r["cp_files"])))
    rows.append(("mpremote fs cp -r, no-change copy", "%.2f" % r["cp_again"], "s",
                 "skips files whose SHA-256 matches"))
    return "Flashing the virtual board", rows


if __name__ == "__main__":
    title, rows = section_flash()
    print(title)
    for row in rows:
        print("  %-40s %8s %-2s %s" % row)
