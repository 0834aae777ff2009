"""What can go wrong in a session with a board (host_tools/device/session.py):
every failure of the connection itself (no board, busy, lost, an answer that
makes no sense) is a DeviceError, whose status is the exit status of any
command that talks to a board (docs/exit-codes.md). The others are what the
board said, for the caller to judge: ChannelError (the monitor refused or did
not answer), BoardError (an exception raised on the board), NoSpace (a write
refused for want of flash; host_tools/flashing/errors.py says how much).
"""
import contextlib
import sys

from host_tools.exitcodes import CommandError


class DeviceError(CommandError):
    """The connection with a board failed: DeviceError(status, message), the
    status from host_tools/exitcodes.py (NO_BOARD, BUSY, LOST, PROBLEM,
    BAD_INPUT for a --port that names nothing)."""


def quiet():
    # mpremote prints raw bytes on some failures: keep stdout for our output
    return contextlib.redirect_stdout(sys.stderr)


class ChannelError(Exception):
    """The monitor's console channel refused a request (an ERR reply), or
    gave no reply (answered False: the monitor is not running it)."""

    def __init__(self, text, answered=True):
        super().__init__(text)
        self.answered = answered


class BoardError(Exception):
    """An exception raised on the board (its traceback text)."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        self.last_line = lines[-1] if lines else text
        self.errno_name = None
        if "ENOSPC" in text or "Errno 28" in text or self.last_line.endswith("OSError: 28"):
            self.errno_name = "ENOSPC"


class NoSpace(Exception):
    """The board refused a write: its flash is full (ENOSPC)."""
