"""What can go wrong in a session with a board (host_tools/device/session.py):
every failure of the connection itself is a FlashError whose status is the
exit status of `pumpmon flash` (docs/flashing.md); these are the others.
"""
import contextlib
import sys

from host_tools.flashing.build import EXIT_NO_SPACE, FlashError


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
    pass


def no_space(need, free, sent=None):
    if free is not None:
        msg = ("out of space: the update needs %d bytes of free flash, the board has %d "
               "(%d more needed)" % (need, free, need - free))
    else:
        msg = "out of space: the update needs %d bytes of free flash" % need
    if sent is not None:
        msg += "; the board refused a write after %d bytes" % sent
    return FlashError(EXIT_NO_SPACE, msg + "; the running version is untouched")
