"""The progress bar of a flash: one line on stderr when it is a terminal."""
import sys
import time


class Progress:
    """A one-line progress bar on stderr when it is a terminal."""

    def __init__(self, total_bytes, total_files, enabled):
        self.total = max(total_bytes, 1)
        self.files = total_files
        self.done = 0
        self.nfiles = 0
        self.on = enabled and total_bytes > 0
        self._last = 0.0

    def add(self, n):
        self.done += n
        self._draw()

    def file_done(self):
        self.nfiles += 1
        self._draw(force=True)

    def _draw(self, force=False):
        if not self.on:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        fill = int(width * self.done / self.total)
        sys.stderr.write("\r[%s%s] %7.1f/%.1f kB  %d/%d files " % (
            "#" * fill, "." * (width - fill), self.done / 1000, self.total / 1000,
            self.nfiles, self.files))
        sys.stderr.flush()

    def end(self):
        if self.on:
            sys.stderr.write("\n")
            sys.stderr.flush()
