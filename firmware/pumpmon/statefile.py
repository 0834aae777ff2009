# The alarm state that must survive a reset: the latched alarms
# (manager.shown, .acked), whether the sound was paused, and the checksum of
# the configuration last used (so a changed configuration is logged).
#
# 24 bytes, written atomically: the new state goes to `state.new` (flushed),
# which is then renamed over `state.bin`. A cut before the rename leaves the
# old state.bin; on FAT, where rename first removes the target, a cut in
# between leaves only state.new: load() takes the valid copy with the higher
# generation, so either way one whole state survives. Neither valid (flash
# corruption): STATE_CORRUPT, the caller boots with no alarm restored and
# raises malfunction/internal so someone looks.
#
# layout (little-endian): 0 "PMST" | 4 u8 version 1 | 5 u8 paused |
#   6 u16 shown | 8 u16 acked | 10 u16 0 | 12 u32 generation |
#   16 u32 config crc | 20 u32 CRC32 of bytes 0..19
import struct

from pumpmon.eventlog import FLASH, STATE_CORRUPT, STATE_NONE, STATE_OK, crc32

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SIZE = const(24)
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
        self.saved = None      # (shown, acked, paused, cfg_crc) on flash
        self.failed = 0        # 1 after a failed save (retry later)

    def _read(self, path):
        """(gen, shown, acked, paused, cfg_crc), None if absent; raises ValueError if bad."""
        if self.fs.size(path) < 0:
            return None
        buf = self.buf
        with self.fs.open(path, "rb") as f:
            n = f.readinto(buf)
            extra = f.read(1)
        if n != SIZE or extra:
            raise ValueError("size")
        magic, ver, paused, shown, acked, _z, gen, cfg = struct.unpack_from(_FMT, buf, 0)
        if magic != _MAGIC or ver != 1:
            raise ValueError("magic")
        if crc32(memoryview(buf)[:20]) & 0xFFFFFFFF != struct.unpack_from("<I", buf, 20)[0]:
            raise ValueError("crc")
        return gen, shown, acked & shown, paused, cfg

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
        self.saved = (best[1], best[2], best[3], best[4])
        return STATE_OK, best[1], best[2], best[3], best[4]

    def _bad_main(self):
        try:
            self._read(self.file)
        except Exception:
            return 1
        return 0

    def save(self, shown, acked, paused, cfg_crc):
        """Write the state if it changed; True when it is on flash. Never raises."""
        acked &= shown
        s = self.saved
        if s is not None and s[0] == shown and s[1] == acked and s[2] == paused \
                and s[3] == cfg_crc and not self.failed:
            return True
        gen = (self.gen + 1) & 0xFFFFFFFF
        buf = self.buf
        struct.pack_into(_FMT, buf, 0, _MAGIC, 1, paused & 0xFF, shown & 0xFFFF,
                         acked & 0xFFFF, 0, gen, cfg_crc & 0xFFFFFFFF)
        struct.pack_into("<I", buf, 20, crc32(memoryview(buf)[:20]) & 0xFFFFFFFF)
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
        self.saved = (shown, acked, paused, cfg_crc)
        self.failed = 0
        return True
