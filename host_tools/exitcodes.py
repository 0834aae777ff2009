"""The exit statuses of every `pumpmon` command: one table, defined here.

docs/exit-codes.md prints the same table (tests/host/test_cli.py pins
the two together), and no command returns a bare number: each returns one
of these names. A script can rely on them across commands: a missing board
is 3 whether it was `flash`, `log pull` or `trace record` that looked.
"""

OK = 0
PROBLEM = 1         # the command ran and its result is a problem (or the board raised)
BAD_INPUT = 2       # usage, a bad file (FILE:LINE), an invalid configuration
NO_BOARD = 3
BUSY = 4
INCOMPATIBLE = 5
VERIFY = 6
NO_SPACE = 7
SELFTEST = 8
LOST = 9            # the connection was cut; a flashed board keeps a whole version
INTERRUPTED = 130   # Ctrl-C (as a shell reports SIGINT)

# status, name, meaning: docs/exit-codes.md has one row for each, in this order
TABLE = (
    (OK, "OK", "done: what was asked was done and nothing is wrong"),
    (PROBLEM, "PROBLEM", "done, and the result is a problem: a replay that disagrees with "
     "its expectation, a log with damaged or missing records, a board where no monitor "
     "answers, a monitor that refused a request, an error raised on the board"),
    (BAD_INPUT, "BAD_INPUT", "bad input, nothing done: usage, a bad trace, log, expectation "
     "or configuration file (`FILE:LINE: what is wrong`), an unknown setting"),
    (NO_BOARD, "NO_BOARD", "no board found: none attached, several and no `--port`, the "
     "device does not exist, nothing answers at the socket"),
    (BUSY, "BUSY", "board busy: the port is held by another program, or the board does "
     "not answer the raw REPL"),
    (INCOMPATIBLE, "INCOMPATIBLE", "incompatible MicroPython on the board: too old, or "
     "unknown"),
    (VERIFY, "VERIFY", "verification failed: a file sent has the wrong hash, or the swap "
     "rolled back"),
    (NO_SPACE, "NO_SPACE", "out of space on the board's flash, with how much is needed"),
    (SELFTEST, "SELFTEST", "the self-test failed, or the monitor did not come up after "
     "the reset"),
    (LOST, "LOST", "the connection was lost mid-way (the board keeps a whole version): "
     "run the command again"),
    (INTERRUPTED, "INTERRUPTED", "stopped with Ctrl-C"),
)

NAMES = {status: name for status, name, _ in TABLE}


class CommandError(Exception):
    """A refusal or failure with its exit status; str() is the message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
