"""Play a trace on a fresh virtual board from flashing to its end, as fast
as the speed ceiling allows, and keep what came out: the timeline and the
firmware's event log. Two plays of the same trace, firmware, configuration
and faults give the same bytes, whatever the machine's load (board time is
virtual: docs/virtual-board.md); the determinism test and
`make vboard-bench` compare them.

    play(trace, out_dir, speed=None, faults=(), cut_s=None) -> Played
"""
import collections
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from host_tools.paths import ROOT
from host_tools.vboard.board import VirtualBoard

Played = collections.namedtuple(
    "Played", "rows board_ms wall_s timeline log alarms boots trace_ms play_s")


def cut_trace(src, dst, seconds):
    """The first `seconds` of a trace file (its header and metadata kept)."""
    from host_tools.formats.trace import read_trace, write_trace
    tr = read_trace(src)
    rows = [r for r in tr.samples() if r[0] < seconds * 1000]
    write_trace(str(dst), dict(tr.meta), rows)
    return dst


def flash(port, config_path, settle=0.3):
    """`pumpmon flash` of the current firmware; raises when it fails."""
    r = subprocess.run([sys.executable, "-m", "host_tools.cli", "flash", "--port", port,
                        "--config", str(config_path), "--settle", str(settle)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError("pumpmon flash failed:\n%s%s" % (r.stdout, r.stderr))


def play(trace, out, speed=None, faults=(), timeout=900):
    """Flash the firmware (configuration from the trace's metadata) on a new
    virtual board, play the trace to its end; what came out."""
    from host_tools.formats.trace import read_trace
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cfg = out / "config.json"
    cfg.write_text(json.dumps(read_trace(trace).config_values()) + "\n")
    timeline = out / "timeline.jsonl"
    board = VirtualBoard(out / "flash", pty_path=str(out / "tty"), tcp_port=-1,
                         trace=str(trace), speed=speed, timeline=str(timeline),
                         faults=faults, exit_at_end=True)
    t0 = time.monotonic()
    thread = None
    try:
        board.start()
        if not board.wait_ready():
            raise RuntimeError("the virtual board did not start: %s" % board.start_failure)
        thread = threading.Thread(target=board.serve, daemon=True)
        thread.start()
        flash(board.pty_name, cfg)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError("the trace did not end within %d s" % timeout)
    finally:
        board.stopping = True
        board.wake()
        if thread is not None:
            thread.join(10)
        board.close()
    wall = time.monotonic() - t0
    rows = [json.loads(x) for x in timeline.read_text().splitlines()]
    alarms = [(r["event"], r.get("alarm"), r.get("cause"), r["world_ms"], r["t_ms"])
              for r in rows if r["kind"] == "event" and r.get("alarm")]
    start, end = getattr(board, "trace_wall", (None, None))
    return Played(board.rows, board.board_ms, wall, timeline, out / "flash" / "log", alarms,
                  board.boots, board.trace_end_world - board.trace_world0,
                  (end or time.monotonic()) - (start or t0))


def log_bytes(log_dir):
    """The event log's segment files, name -> bytes."""
    return {p.name: p.read_bytes() for p in sorted(Path(log_dir).iterdir()) if p.is_file()}


def timeline_bytes(path):
    """The timeline's bytes without the VMs' process ids (the one thing the
    operating system, not the inputs, decides)."""
    out = []
    for line in Path(path).read_text().splitlines():
        row = json.loads(line)
        row.pop("pid", None)
        out.append(json.dumps(row, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode()
