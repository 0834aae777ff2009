# The virtual board's SSD1306 128x64 OLED at 0x3C on its I2C bus (simclocks.py
# puts it there), as the Solomon Systech datasheet describes the I2C
# interface: after the address, a control byte (bit 7 Co: 1 = one byte
# follows, then another control byte; 0 = the rest of the transaction is of
# this type; bit 6 D/C#: 1 = GDDRAM data, 0 = commands). The commands kept:
# 0x20 memory addressing mode (0 horizontal, 1 vertical, 2 page), 0x21 column
# start/end, 0x22 page start/end, 0xB0-0xB7 page start (page mode), 0x00-0x1F
# column start low/high nibble (page mode), 0xAE/0xAF display off/on, 0xA0/A1
# segment remap, 0xC0/C8 COM scan direction, 0xA6/A7 normal/inverse,
# 0xA4/A5 follow RAM / entire on; the others take their argument bytes and
# change nothing a viewer sees. GDDRAM: 8 pages x 128 columns, one byte a
# column of 8 pixels (bit 0 the top). After every transaction the RAM and the
# display state are written to a file of the session's run folder (next to
# the host's sockets) that the host reads (host_tools/vboard/oled.py):
# 4 bytes world ms, then flags (bit 0 on, 1 remap, 2 COM reversed, 3 inverse,
# 4 entire on), then the 1024 bytes of GDDRAM.
# PUMPMON_VBOARD_NO_SSD1306=1 leaves it off the bus (a board without one).
ADDR = 0x3C
_ARGS = {0x20: 1, 0x21: 2, 0x22: 2, 0x81: 1, 0x8D: 1, 0xA8: 1, 0xD3: 1, 0xD5: 1,
         0xD9: 1, 0xDA: 1, 0xDB: 1, 0xAD: 1, 0xA3: 2, 0x26: 6, 0x27: 6, 0x29: 5,
         0x2A: 5, 0xD6: 1}


class SSD1306:
    def __init__(self, path, world_ms):
        self.path = path
        self.world_ms = world_ms
        self.ram = bytearray(1024)
        self.on = 0
        self.remap = 0
        self.comrev = 0
        self.inverse = 0
        self.entire = 0
        self.mode = 2                  # page addressing after reset (datasheet)
        self.c0, self.c1, self.p0, self.p1 = 0, 127, 0, 7
        self.col = 0
        self.page = 0
        self.cmd = []                  # a command waiting for its arguments

    # ---- the bus side ----------------------------------------------------------------
    def read(self, buf, reg=None):
        # the status byte (bit 6: display off) for any read
        for i in range(len(buf)):
            buf[i] = 0 if self.on else 0x40

    def write(self, ctrl, data):
        i = 0
        n = len(data)
        while True:
            co = ctrl & 0x80
            dc = ctrl & 0x40
            if co:
                if i >= n:
                    break
                self._byte(dc, data[i])
                i += 1
                if i >= n:
                    break
                ctrl = data[i]
                i += 1
            else:
                while i < n:
                    self._byte(dc, data[i])
                    i += 1
                break
        self.save()

    def _byte(self, dc, b):
        if dc:
            self._data(b)
        else:
            self._command(b)

    # ---- GDDRAM ------------------------------------------------------------------
    def _data(self, b):
        self.ram[self.page * 128 + self.col] = b
        if self.mode == 0:             # horizontal: column, then page, in the window
            if self.col >= self.c1:
                self.col = self.c0
                self.page = self.p0 if self.page >= self.p1 else self.page + 1
            else:
                self.col += 1
        elif self.mode == 1:           # vertical: page, then column
            if self.page >= self.p1:
                self.page = self.p0
                self.col = self.c0 if self.col >= self.c1 else self.col + 1
            else:
                self.page += 1
        elif self.col < 127:           # page mode: the column only, no wrap
            self.col += 1

    def _command(self, b):
        c = self.cmd
        if c:
            c.append(b)
            if len(c) <= _ARGS[c[0]]:
                return
            self._run(c)
            self.cmd = []
            return
        if b in _ARGS:
            self.cmd = [b]
            return
        if b in (0xAE, 0xAF):
            self.on = b & 1
        elif b in (0xA0, 0xA1):
            self.remap = b & 1
        elif b in (0xC0, 0xC8):
            self.comrev = 1 if b == 0xC8 else 0
        elif b in (0xA6, 0xA7):
            self.inverse = b & 1
        elif b in (0xA4, 0xA5):
            self.entire = b & 1
        elif 0xB0 <= b <= 0xB7:
            self.page = b & 7
        elif b <= 0x0F:
            self.col = (self.col & 0xF0) | b
        elif b <= 0x1F:
            self.col = (self.col & 0x0F) | ((b & 7) << 4)

    def _run(self, c):
        op = c[0]
        if op == 0x20:
            self.mode = c[1] & 3
        elif op == 0x21:
            self.c0, self.c1 = c[1] & 127, c[2] & 127
            self.col = self.c0
        elif op == 0x22:
            self.p0, self.p1 = c[1] & 7, c[2] & 7
            self.page = self.p0

    def save(self):
        if self.path is None:          # (tests: the RAM is read directly)
            return
        w = self.world_ms()
        head = bytes((w & 255, (w >> 8) & 255, (w >> 16) & 255, (w >> 24) & 255,
                      self.on | self.remap << 1 | self.comrev << 2 | self.inverse << 3
                      | self.entire << 4))
        try:
            import vfs               # the host's files, also once the flash is "/"
            fs = vfs.VfsPosix()
            with fs.open(self.path + ".tmp", "wb") as f:
                f.write(head)
                f.write(self.ram)
            fs.rename(self.path + ".tmp", self.path)
        except OSError:
            pass
