"""The virtual board's SSD1306 display seen from the host (docs/display.md):
the ROM's emulation (boards/sim/rom/simoled.py) writes its GDDRAM to a file of
the session's run folder after every bus transaction; this reads it, turns
it into the pixels the glass shows, reads the words back off the pixels (the
firmware's 8x8 framebuf font, taken from the unix port itself, laid out as
firmware/pumpmon/screen.py's rows), and writes PNG frames (zlib and struct:
no imaging library).
"""
import os
import struct
import subprocess
import zlib

WIDTH = 128
HEIGHT = 64
FILE = "oled"               # in the board's run folder
_FONT = None
_FONT_SNIPPET = (
    "import framebuf\nb = bytearray(8)\nf = framebuf.FrameBuffer(b, 8, 8, framebuf.MONO_VLSB)\n"
    "for c in range(32, 127):\n    f.fill(0)\n    f.text(chr(c), 0, 0, 1)\n"
    "    print(''.join('%02x' % x for x in b))\n")


def font():
    """{8 column bytes: character} of framebuf's font, as the firmware draws
    it (printable ASCII), asked of the unix port once."""
    global _FONT
    if _FONT is None:
        from host_tools.vboard.vm import micropython_path
        out = subprocess.run([micropython_path(), "-c", _FONT_SNIPPET], capture_output=True,
                             text=True, timeout=30, check=True).stdout.split()
        _FONT = {bytes.fromhex(h): chr(32 + i) for i, h in enumerate(out)}
        _FONT[bytes(8)] = " "
    return _FONT


class Frame:
    """One state of the display: GDDRAM and the display's flags."""

    def __init__(self, world_ms, flags, ram):
        self.world_ms = world_ms
        self.on = flags & 1
        self.remap = flags >> 1 & 1
        self.comrev = flags >> 2 & 1
        self.inverse = flags >> 3 & 1
        self.entire = flags >> 4 & 1
        self.ram = bytes(ram)

    def ram_pixel(self, x, y):
        """The pixel as the firmware drew it (framebuf coordinates)."""
        return self.ram[(y >> 3) * WIDTH + x] >> (y & 7) & 1

    def glass(self):
        """HEIGHT rows of WIDTH 0/1: what the panel lights. The driver's init
        (segment remap, COM scan reversed) is the module's upright mounting:
        framebuf (x, y) is then the glass's (x, y)."""
        rows = []
        for y in range(HEIGHT):
            ry = y if self.comrev else HEIGHT - 1 - y
            row = []
            for x in range(WIDTH):
                rx = x if self.remap else WIDTH - 1 - x
                v = 1 if self.entire else self.ram_pixel(rx, ry) ^ self.inverse
                row.append(v if self.on else 0)
            rows.append(row)
        return rows

    def lines(self):
        """The words on the display, a string per row of screen.ROWS (read
        off the pixels; "?" for a cell that is no character of the font)."""
        from pumpmon.screen import ROWS
        if not self.on:
            return [""] * len(ROWS)
        return [self._row(p * 8, n) for p, n in ROWS]

    def _cell(self, x0, y0, sx, sy):
        col = bytearray(8)
        for cx in range(8):
            b = 0
            for cy in range(8):
                b |= self.ram_pixel(x0 + cx * sx, y0 + cy * sy) << cy
            col[cx] = b
        return font().get(bytes(col), "?")

    def _read(self, y0, sx, sy):
        w = 8 * sx
        return "".join(self._cell(x, y0, sx, sy) for x in range(0, WIDTH - w + 1, w))

    def _row(self, y0, pages):
        if pages == 1:
            return self._read(y0, 1, 1).strip()
        best = None
        for sx in (2, 1):        # twice as wide (up to 8 characters), or only as tall
            text = self._read(y0, sx, 2).strip()
            if best is None or text.count("?") < best.count("?"):
                best = text
        return best

    def text(self):
        return " | ".join(s for s in self.lines() if s)


def read(rundir):
    """The display's last frame, or None (no display on the bus, or not yet)."""
    try:
        with open(os.path.join(rundir, FILE), "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) != 5 + WIDTH * HEIGHT // 8:
        return None
    return Frame(struct.unpack_from("<I", data)[0], data[4], data[5:])


def png(frame, path, scale=4):
    """Write the glass as a PNG (white on black, scale x scale per pixel)."""
    raw = bytearray()
    for row in frame.glass():
        line = bytearray()
        for v in row:
            line += (b"\xff" if v else b"\x00") * scale
        for _ in range(scale):
            raw += b"\x00" + line          # filter type 0 per scanline
    w, h = WIDTH * scale, HEIGHT * scale

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(bytes(raw), 9)))
        f.write(chunk(b"IEND", b""))


class DisplayWatch:
    """The display as the timeline sees it: each new text of it noted
    ("display", lines) with `note` when check(note) is called (when the host looks at the
    firmware's log: the VM waits for it then, the same place in every run),
    and a PNG frame of each change written to `frames` (a folder) when set."""

    def __init__(self, rundir):
        self.rundir = rundir
        self.frames = None
        self.lines = None
        self._ram = None
        self._n = 0

    def check(self, note):
        fr = read(self.rundir)
        if fr is None or (fr.ram, fr.on) == self._ram:
            return
        self._ram = (fr.ram, fr.on)
        lines = fr.lines()
        if self.frames:
            os.makedirs(self.frames, exist_ok=True)
            self._n += 1
            png(fr, os.path.join(self.frames, "display-%05d-%09d.png" % (self._n, fr.world_ms)))
        if lines != self.lines:
            self.lines = lines
            note("display", fr.world_ms, lines=lines)
