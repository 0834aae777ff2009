# The virtual board's flash: a host folder mounted as "/" through VfsPosix,
# with the size limit of a real flash counted in blocks as littlefs does
# (OSError(ENOSPC) past it), and the faults the host can inject through the
# link (writes fail, flash full, power cut after N bytes: wire.py's FLASH_*
# and FAULT_CUT).
import io
import vfs

import wire as W

_EIO = 5
_ENOSPC = 28


class FlashFile(io.IOBase):
    """A file open for writing on the flash: every write is checked
    against the free space (and the faults) first."""

    def __init__(self, fs, f, path, size):
        self.fs = fs
        self.f = f
        self.path = path
        self.size = size

    def write(self, buf):
        fs = self.fs
        link = fs.link
        n = len(buf)
        if n == 0:
            return 0
        link.poll()
        if link.flash_mode == W.FLASH_FAIL:
            raise OSError(_EIO)
        pos = self.f.tell()
        end = pos + n
        if end > self.size:
            need = fs.blocks(end) - fs.blocks(self.size)
            if link.flash_mode == W.FLASH_FULL or (need > 0 and fs.used + need > fs.total):
                raise OSError(_ENOSPC)
        else:
            need = 0
        if link.cut_bytes >= 0:
            if n >= link.cut_bytes:     # the power goes mid-write
                k = link.cut_bytes
                if k:
                    self.f.write(memoryview(buf)[:k])
                self.f.flush()
                link.power_cut()
            link.cut_bytes -= n
        r = self.f.write(buf)
        if end > self.size:
            fs.used += need
            self.size = end
        return r

    def readinto(self, buf):
        return self.f.readinto(buf)

    def read(self, n=-1):
        return self.f.read(n)

    def readline(self):
        return self.f.readline()

    def seek(self, off, whence=0):
        return self.f.seek(off, whence)

    def tell(self):
        return self.f.tell()

    def flush(self):
        return self.f.flush()

    def close(self):
        return self.f.close()

    def fileno(self):
        return self.f.fileno()

    def ioctl(self, req, arg):
        if req == 4:
            self.f.close()
        return 0

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.f.close()

    def __iter__(self):
        return self

    def __next__(self):
        line = self.f.readline()
        if not line:
            raise StopIteration
        return line

class FlashFS:
    """The board's flash: a host folder seen through VfsPosix, with a size
    limit counted in blocks as littlefs does (a file takes ceil(size /
    block) blocks, a folder one block, the root two)."""

    def __init__(self, root, size, bs, link):
        self.link = link        # its faults: writes fail, flash full, power cut
        self.v = vfs.VfsPosix(root)
        self.hostfs = vfs.VfsPosix()
        self.root = root.rstrip("/")
        self.bs = bs
        self.total = size // bs
        self.used = 2 + self._walk("/")

    def blocks(self, nbytes):
        return (nbytes + self.bs - 1) // self.bs

    def _walk(self, path):
        n = 0
        for e in self.v.ilistdir(path):
            p = path + e[0]
            if e[1] == 0x4000:
                n += 1 + self._walk(p + "/")
            else:
                n += self.blocks(self.v.stat(p)[6])
        return n

    def _fsize(self, path):
        try:
            st = self.v.stat(path)
        except OSError:
            return -1
        if st[0] & 0x4000:
            return -2
        return st[6]

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def ilistdir(self, path):
        # (name, type, inode, size) as littlefs gives
        v = self.v
        base = path if path.endswith("/") else path + "/"
        for e in v.ilistdir(path):
            if e[1] == 0x4000:
                yield (e[0], 0x4000, 0, 0)
            else:
                try:
                    size = v.stat(base + e[0])[6]
                except OSError:
                    size = 0
                yield (e[0], e[1], 0, size)

    def chdir(self, path):
        return self.v.chdir(path)

    def getcwd(self):
        return self.v.getcwd()

    def stat(self, path):
        return self.v.stat(path)

    def statvfs(self, path):
        free = self.total - self.used
        if free < 0:
            free = 0
        return (self.bs, self.bs, self.total, free, free, 0, 0, 0, 0, 255)

    def mkdir(self, path):
        if self.used + 1 > self.total:
            raise OSError(_ENOSPC)
        if self.link.flash_mode == W.FLASH_FAIL:
            raise OSError(_EIO)
        self.v.mkdir(path)
        self.used += 1

    def rmdir(self, path):
        self.v.rmdir(path)
        self.used -= 1

    def remove(self, path):
        s = self._fsize(path)
        self.v.remove(path)
        if s > 0:
            self.used -= self.blocks(s)

    def _host(self, path):
        if not path.startswith("/"):
            cwd = self.v.getcwd()
            path = cwd + ("" if cwd.endswith("/") else "/") + path
        return self.root + path

    def rename(self, a, b):
        # VfsPosix(root).rename loses the first path (it shares one path
        # buffer): rename the host paths with a root-less VfsPosix instead
        s = self._fsize(b)
        if self._fsize(a) == -1:
            raise OSError(2)
        self.hostfs.rename(self._host(a), self._host(b))
        if s > 0:
            self.used -= self.blocks(s)

    def open(self, path, mode):
        if "w" in mode or "a" in mode or "+" in mode or "x" in mode:
            if self.link.flash_mode == W.FLASH_FAIL:
                raise OSError(_EIO)
            s = self._fsize(path)
            f = self.v.open(path, mode)
            if s > 0 and "w" in mode:
                self.used -= self.blocks(s)     # truncated
                s = 0
            if s < 0:
                s = 0
            return FlashFile(self, f, path, s)
        return self.v.open(path, mode)
