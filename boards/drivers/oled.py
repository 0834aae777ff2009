# The bedside display: an SSD1306 128x64 OLED at 0x3C on the sensors' I2C bus
# (docs/display.md). Drawn with micropython-lib's ssd1306 driver (vendored
# byte for byte: ssd1306.py, pinned in requirements-firmware.txt), whose
# framebuf this class draws into; but never sent whole during monitoring (a
# 1 KB frame holds a 100 kHz bus about 90 ms): push() sends at most one
# 32-byte piece per loop pass, and only the pieces marked changed. One piece
# is two transactions: the window (column and page address, 8 bytes with the
# address byte) and the data (34 bytes): about 3.9 ms at 100 kHz, under the
# 5 ms a loop pass may hold the bus. Nothing is allocated after __init__.
try:
    from micropython import const
except ImportError:
    def const(x):  # type: ignore
        return x

import framebuf
from ssd1306 import SSD1306_I2C

TYPE_CHECKING = False
if TYPE_CHECKING:
    from machine import I2C

ADDR = const(0x3C)
WIDTH = const(128)
HEIGHT = const(64)
PAGES = const(8)
CHUNK = const(32)              # data bytes sent per loop pass
PER_PAGE = const(4)            # WIDTH // CHUNK
NCHUNK = const(32)             # PAGES * PER_PAGE
WINDOW_BYTES = const(8)        # address byte + control byte + 6 command bytes
DATA_BYTES = const(34)         # address byte + control byte + CHUNK
_DATA = b"\x40"                # control byte: Co=0, D/C#=1 (GDDRAM data follows)


def bus_us(nbytes: int, freq: int) -> int:
    """Bus time of one transaction of nbytes (address byte included): nine
    clocks a byte (eight bits and the acknowledge) plus start and stop."""
    return ((nbytes * 9 + 2) * 1000000 + freq - 1) // freq


def window(chunk: int) -> bytes:
    """The command stream that points GDDRAM at one piece: control byte 0x00
    (Co=0, D/C#=0: commands follow), column address 0x21 first last, page
    address 0x22 first last (horizontal addressing, set by the driver's init)."""
    page = chunk // PER_PAGE
    col = (chunk % PER_PAGE) * CHUNK
    return bytes((0x00, 0x21, col, col + CHUNK - 1, 0x22, page, page))


class Oled:
    def __init__(self, i2c: "I2C", freq: int, addr: int = ADDR) -> None:
        """Raises OSError when nothing answers at addr (no display fitted):
        the board then has none. The driver's init sends the whole (blank)
        frame once, at boot, before the monitor runs."""
        self.i2c = i2c
        self.addr = addr
        self.dev = SSD1306_I2C(WIDTH, HEIGHT, i2c, addr)
        self.fb = self.dev             # the framebuf (the driver is one)
        # one text line, drawn here and scaled into fb (screen.py)
        self.scratch = framebuf.FrameBuffer(bytearray(WIDTH), WIDTH, 8, framebuf.MONO_VLSB)
        buf = memoryview(self.dev.buffer)
        self._win = tuple(window(i) for i in range(NCHUNK))
        self._data = tuple([_DATA, buf[i * CHUNK:(i + 1) * CHUNK]] for i in range(NCHUNK))
        self.dirty = bytearray(NCHUNK)
        self.pending = 0               # pieces marked and not sent yet
        self._next = 0
        self.pass_us = bus_us(WINDOW_BYTES, freq) + bus_us(DATA_BYTES, freq)
        self.worst_us = 0              # the longest bus time of one push()

    def mark(self, page: int, pages: int) -> None:
        """The fb rows of pages [page, page + pages) changed: send them."""
        d = self.dirty
        i = page * PER_PAGE
        end = (page + pages) * PER_PAGE
        while i < end:
            if not d[i]:
                d[i] = 1
                self.pending += 1
            i += 1

    def push(self) -> int:
        """Send the next changed piece, if any (one per loop pass). Returns 1
        when one was sent. An OSError (a dead display) propagates; the piece
        stays marked."""
        if not self.pending:           # the usual pass: nothing to send
            return 0
        d = self.dirty
        i = self._next
        n = 0
        while n < NCHUNK:
            if d[i]:
                self.i2c.writeto(self.addr, self._win[i])
                self.i2c.writevto(self.addr, self._data[i])
                d[i] = 0
                self.pending -= 1
                self._next = (i + 1) % NCHUNK
                if self.pass_us > self.worst_us:
                    self.worst_us = self.pass_us
                return 1
            i = (i + 1) % NCHUNK
            n += 1
        return 0

    def flush(self) -> None:
        """Send every changed piece now (the monitor has stopped: nothing
        shares the bus with a running loop any more)."""
        while self.push():
            pass


def attach(i2c: "I2C", freq: int) -> "Oled | None":
    """The display when one answers on the bus, else None (the monitor then
    runs as without one). Anything a display does wrong at start-up is no
    reason for the monitor not to start."""
    try:
        return Oled(i2c, freq)
    except Exception:  # noqa: BLE001 - OSError (nothing at 0x3C) or worse
        return None
