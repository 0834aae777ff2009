"""The emulated microcontroller: MicroPython's qemu port (`make mcu`:
build/mcu/firmware.elf, Cortex-M3 on QEMU's MPS2-AN385 board) with its REPL on
a pty that mpremote and `pumpmon` talk to (docs/mcu.md).

    with Qemu() as q:                  # QEMU started; q.pty: /dev/pts/N
        ...                            # stopped (by its pid) on leaving

Every user stops the QEMU it started, by its process id: an idle one still
wakes a thousand times a second (docs/mcu.md gives its cost).
"""
import os
import re
import shutil
import signal
import subprocess
import time

from host_tools.paths import BUILD

ELF = BUILD / "mcu" / "firmware.elf"
PICO_HEAP = 209936          # the heap `make mcu` builds in (bytes)
QEMU = "qemu-system-arm"


class McuError(Exception):
    pass


def _die_with_parent():
    # PR_SET_PDEATHSIG: a QEMU whose starter died (a killed test worker) ends too
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def available():
    """None when the emulated board can start, else what is missing."""
    if not ELF.exists():
        return "no %s: run `make mcu`" % ELF
    if not shutil.which(QEMU):
        return "no %s: run `make mcu` (it installs qemu-system-arm)" % QEMU
    return None


FLASH_ADDR = 0x21000000     # the board's flash, in PSRAM (mcu/usermod/mcuflash)


def command(heap=None, elf=ELF, extra=(), image=None, flash=None):
    """QEMU's command line; heap: a larger heap in bytes than the built-in
    Pico-sized one (tests), written by QEMU's loader where main.c reads it;
    flash: the flash's size in bytes (default 1 MiB), where mcuflash reads it;
    image: a littlefs image file (host_tools/mcu/image.py) the flash starts
    with (without one it starts blank and the firmware formats it)."""
    cmd = [QEMU, "-machine", "mps2-an385", "-nographic", "-monitor", "null",
           "-semihosting", "-serial", "pty", "-kernel", str(elf)]
    if heap:
        cmd += ["-device", "loader,addr=0x20000000,data=%d,data-len=4" % heap]
    if flash:
        cmd += ["-device", "loader,addr=0x20000004,data=%d,data-len=4" % flash]
    if image:
        cmd += ["-device", "loader,file=%s,addr=0x%x,force-raw=on" % (image, FLASH_ADDR)]
    return cmd + list(extra)


class Qemu:
    """One running QEMU; .pty is its REPL's serial port, .pid its process."""

    def __init__(self, heap=None, elf=ELF, extra=(), image=None, flash=None):
        missing = available() if elf == ELF else None
        if missing:
            raise McuError(missing)
        self.proc = subprocess.Popen(command(heap, elf, extra, image, flash), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        self.pty = None
        deadline = time.monotonic() + 20
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(rb"char device redirected to (/dev/pts/\d+)", line)
            if m:
                self.pty = m.group(1).decode()
                break
            if not line and self.proc.poll() is not None:
                break
        if self.pty is None:
            self.stop()
            raise McuError("QEMU did not open a pty: %s" % line.decode(errors="replace"))

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """Stop this QEMU (by its pid) and wait for it."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
