"""What refuses or fails a flash: FlashError(status, message), the status from
host_tools/exitcodes.py (docs/flashing.md gives each message). A failure of the
connection itself is the device's (host_tools/device/errors.py DeviceError);
both are CommandErrors, which every command turns into its exit status.
"""
from host_tools.exitcodes import NO_SPACE, CommandError


class FlashError(CommandError):
    """Putting firmware or a configuration on a board was refused or failed:
    incompatible MicroPython, a bad source, bundle or configuration file,
    verification, space, the self-test."""


def no_space(need, free, sent=None):
    """FlashError(NO_SPACE) saying how much the update needs and the board has."""
    if free is not None:
        msg = ("out of space: the update needs %d bytes of free flash, the board has %d "
               "(%d more needed)" % (need, free, need - free))
    else:
        msg = "out of space: the update needs %d bytes of free flash" % need
    if sent is not None:
        msg += "; the board refused a write after %d bytes" % sent
    return FlashError(NO_SPACE, msg + "; the running version is untouched")
