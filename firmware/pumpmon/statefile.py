# The alarm state that must survive a reset: the latched alarms
# (manager.shown, .acked), whether the sound was paused, the checksum of
# the configuration last used (so a changed configuration is logged), and
# the last time the monitor was seen alive (board clock, Unix seconds, 0
# unknown; refreshed every minute by the Runner, so the next boot can say
# how long monitoring was off, and a failing flash shows within minutes),
# and how long the escalation timer had run (a reset does not restart it:
# manager.restore).
#
# 28 bytes (version 2; a 24-byte version 1 file, without the time, is read too), written atomically: the new state goes to `state.new` (flushed),
# which is then renamed over `state.bin`. A cut before the rename leaves the
# old state.bin; on FAT, where rename first removes the target, a cut in
# between leaves only state.new: load() takes the valid copy with the higher
# generation, so either way one whole state survives. Neither valid (flash
# corruption): STATE_CORRUPT, which the caller treats as its loss (the alarms
# come back from the event log, malfunction/internal state_missing).
#
# layout (little-endian): 0 "PMST" | 4 u8 version 2 | 5 u8 paused |
#   6 u16 shown | 8 u16 acked | 10 u16 escalation timer, s (0xFFFF:
#   escalated; 0 in files written before it was kept) | 12 u32 generation |
#   16 u32 config crc | 20 u32 last alive | 24 u32 CRC32 of bytes 0..23
#   (version 1: no last alive, CRC at 20)
import struct

from pumpmon.eventlog import FLASH, STATE_CORRUPT, STATE_NONE, STATE_OK, crc32

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SIZE = const(28)
SIZE_V1 = const(24)
_FMT = "<4sBBHHHII"
_MAGIC = b"PMST"


class StateFile:
    def __init__(self, path="", flash=None):
        """path: the directory holding state.bin ('' = current directory)."""
        pre = path + "/" if path and not path.endswith("/") else path
        self.file = pre + "state.bin"
        self.tmp = pre + "state.new"
        self.fs = flash or FLASH
        self.buf = bytearray(SIZE)
        self.gen = 0
        self.saved = None      # (shown, acked, paused, cfg_crc, alive, esc) on flash
        self.failed = 0        # 1 after a failed save (retry later)
        self.alive = 0         # last alive time found by load() (0: unknown)
        self.esc = 0           # the escalation timer found by load() (manager.escalation_s)

    def _read(self, path):
        """(gen, shown, acked, paused, cfg_crc, alive, esc), None if absent;
        raises ValueError if bad."""
        if self.fs.size(path) < 0:
            return None
        buf = self.buf
        with self.fs.open(path, "rb") as f:
            n = f.readinto(buf)
            extra = f.read(1)
        if n not in (SIZE, SIZE_V1) or extra:
            raise ValueError("size")
        magic, ver, paused, shown, acked, esc, gen, cfg = struct.unpack_from(_FMT, buf, 0)
        body = SIZE - 4 if ver == 2 else SIZE_V1 - 4
        if magic != _MAGIC or ver not in (1, 2) or n != body + 4:
            raise ValueError("magic")
        if crc32(memoryview(buf)[:body]) & 0xFFFFFFFF != struct.unpack_from("<I", buf, body)[0]:
            raise ValueError("crc")
        alive = struct.unpack_from("<I", buf, 20)[0] if ver == 2 else 0
        return gen, shown, acked & shown, paused, cfg, alive, esc

    def load(self):
        """(status, shown, acked, paused, cfg_crc); never raises."""
        best = None
        bad = 0
        for p in (self.file, self.tmp):
            try:
                s = self._read(p)
            except Exception:
                bad += 1
                continue
            if s is not None and (best is None or s[0] > best[0]):
                best = s
        if best is None:
            # a lone bad state.new is a save cut before its rename, with no
            # older state: nothing was latched worth keeping... unless state.bin
            # itself is bad, which only flash corruption does
            if bad and self._bad_main():
                return STATE_CORRUPT, 0, 0, 0, 0
            return STATE_NONE, 0, 0, 0, 0
        self.gen = best[0]
        self.alive = best[5]
        self.esc = best[6]
        self.saved = (best[1], best[2], best[3], best[4], best[5], best[6])
        return STATE_OK, best[1], best[2], best[3], best[4]

    def _bad_main(self):
        try:
            self._read(self.file)
        except Exception:
            return 1
        return 0

    def save(self, shown, acked, paused, cfg_crc, alive=-1, esc=0):
        """Write the state if it changed; True when it is on flash. Never
        raises. alive: the last alive time (-1: keep the saved one); esc:
        how long the escalation timer has run (manager.escalation_s)."""
        acked &= shown
        s = self.saved
        if alive < 0:
            alive = s[4] if s is not None else 0
        if s is not None and s[0] == shown and s[1] == acked and s[2] == paused \
                and s[3] == cfg_crc and s[4] == alive and s[5] == esc and not self.failed:
            return True
        gen = (self.gen + 1) & 0xFFFFFFFF
        buf = self.buf
        struct.pack_into(_FMT, buf, 0, _MAGIC, 2, paused & 0xFF, shown & 0xFFFF,
                         acked & 0xFFFF, esc & 0xFFFF, gen, cfg_crc & 0xFFFFFFFF)
        struct.pack_into("<I", buf, 20, alive & 0xFFFFFFFF)
        struct.pack_into("<I", buf, 24, crc32(memoryview(buf)[:24]) & 0xFFFFFFFF)
        fs = self.fs
        try:
            with fs.open(self.tmp, "wb") as f:
                n = f.write(buf)
                if n is not None and n != SIZE:
                    raise OSError(5)
                f.flush()
                fs.sync(f)
            fs.rename(self.tmp, self.file)
        except Exception:
            self.failed = 1
            return False
        self.gen = gen
        self.saved = (shown, acked, paused, cfg_crc, alive, esc)
        self.failed = 0
        return True
