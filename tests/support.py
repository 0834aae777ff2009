"""What the host-side tests share (issue 26): the project's root, the venv's
tools and the one helper that runs the `pumpmon` command. The fixtures are in
tests/conftest.py. CPython only: the firmware tests (tests/firmware/, which
also run on MicroPython) do not import this."""
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]          # the project: firmware/, tests/...
BIN = Path(sys.executable).parent                   # the venv's bin/: pumpmon, mpremote
MICROPYTHON = BIN / "micropython"                   # the unix port (make setup)
# `make test-slow` (PUMPMON_TEST_FULL=1): the repetitions `make test` shortens
# to stay under 10 minutes (a test that repeats a path to catch an
# intermittent failure runs each path once there, every repetition here)
FULL = bool(os.environ.get("PUMPMON_TEST_FULL"))


def pumpmon(*args, stdin=None, env=None, cwd=ROOT, timeout=300):
    """Run the installed `pumpmon` command; a CompletedProcess with text
    stdout/stderr. stdin: text fed to it (else it reads nothing)."""
    feed = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run([str(BIN / "pumpmon")] + [str(a) for a in args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, **feed)


def stop_process(p, wait_s):
    """Stop a started process: SIGTERM, then SIGKILL if it has not ended
    within wait_s seconds. Returns its exit status."""
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(wait_s)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()
