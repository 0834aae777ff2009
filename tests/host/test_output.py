# Output that fits (docs/cli.md): `log decode` tables fit the terminal's width
# (a real pty here), plain whole lines into a pipe, NO_COLOR honoured; error
# lines cut to a sane length.
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from fakeboard import FakeBoard
from host_tools.terminal import cut
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.runner import Runner

from tests.support import ROOT
BIN = Path(sys.executable).parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory):
    """A short log from the firmware's Runner: boot, no_flow raised, paused, cleared."""
    d = tmp_path_factory.mktemp("flash")
    b = FakeBoard(ticks_add(0, -20000))
    b.wall = 1790000000
    r = Runner(b, Config({"rate_ul_h": 30}), flash=str(d), rec_segments=0)

    def seconds(n):
        for _ in range(n * 10):
            r.step()
            b.t = ticks_add(b.t, 100)
    seconds(300)
    b.flow = 0
    seconds(400)
    b.btn = 1
    seconds(3)
    b.btn = 0
    b.flow = 300
    seconds(600)
    r.log.close()
    return d / "log"


def in_pty(args, cols, env=None):
    """Run `pumpmon ARGS` with stdout on a pty COLS wide; its stdout text."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    p = subprocess.Popen([str(BIN / "pumpmon")] + [str(a) for a in args], stdout=slave,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=ROOT,
                         env=dict(os.environ, **(env or {})))
    os.close(slave)
    out = b""
    while True:
        if select.select([master], [], [], 30)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    p.wait(30)
    os.close(master)
    return out.decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.mark.parametrize("cols", [80, 100, 200])
def test_log_decode_fits_the_terminal(log_dir, cols):
    text = in_pty(["log", "decode", log_dir], cols, {"NO_COLOR": "1"})
    lines = text.splitlines()
    assert lines and max(len(ln) for ln in lines) <= cols, text
    assert "\x1b[" not in text                  # NO_COLOR: no colour codes
    for event in ("boot", "alarm_raised", "audio_paused", "alarm_cleared"):
        assert event in text, (cols, text)
    assert "no_flow/low_flow" in text.replace("\n", " ") or "no_flow/low_fl" in text


def test_colour_on_a_terminal_without_no_color(log_dir, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    text = in_pty(["log", "decode", log_dir], 120)
    assert "\x1b[" in text
    assert max(len(ANSI.sub("", ln)) for ln in text.splitlines()) <= 120


def test_log_decode_into_a_pipe_is_whole_lines(log_dir):
    r = subprocess.run([str(BIN / "pumpmon"), "log", "decode", str(log_dir)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    lines = r.stdout.splitlines()
    raised = [ln for ln in lines if " alarm_raised " in ln][0]
    # one record, one line, all of it: for grep
    assert "no_flow/low_flow (high)" in raised and "days_to_empty=" in raised
    assert len(raised) > 120 and "\x1b[" not in r.stdout


def test_log_decode_width_option(log_dir):
    r = subprocess.run([str(BIN / "pumpmon"), "log", "decode", str(log_dir), "--width", "72"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0
    assert max(len(ln) for ln in r.stdout.splitlines()) <= 72


def test_cut_keeps_short_text_and_cuts_long_text_with_the_column():
    assert cut("abc") == "abc"
    long = "x" * (4 << 20)
    c = cut(long)
    assert len(c) < 260 and c.startswith("x" * 200 + "...")
    assert "column 201 of 4194304" in c
