"""One MicroPython unix-port process per power-on or reset of the virtual
board, on its own pty (VM), and the board's power (Power): start, kill, reap,
and the resets the unix port cannot do itself."""
import ctypes
import os
import pty
import random
import selectors
import signal
import subprocess
import termios
import time

from host_tools import paths
from host_tools.vboard.faults import UsageError

HANG_CPU_S = 2.0              # CPU seconds the VM may compute without sleeping: then hung
BIOS = paths.ROM / "bios.py"
W = paths.rom_module("wire")


def micropython_path():
    try:
        return paths.micropython()
    except FileNotFoundError as e:
        raise UsageError(str(e))


def _set_pdeathsig():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)       # PR_SET_PDEATHSIG: die with the host
    except (OSError, AttributeError):
        pass


class Machine:
    """What a VM is started with: the port and its heap, the ROM's sockets,
    the flash, the speed ceiling (per mille, 0: none) and the epoch."""

    def __init__(self, micropython, heap, sock_path, flash, flash_size, block, speed_m, epoch):
        self.micropython = micropython
        self.heap = heap
        self.sock_path = sock_path
        self.flash = flash
        self.flash_size = flash_size
        self.block = block
        self.speed_m = speed_m
        self.epoch = epoch


class VM:
    """One unix-port process: one power-on or reset of the board."""

    def __init__(self, m, mode, cause, world):
        self.mode = mode
        self.cause = cause
        self.token = random.randrange(1, 2 ** 31)
        self.master, slave = pty.openpty()
        a = termios.tcgetattr(slave)
        # raw, no signals from the line discipline (Ctrl-C is the host's job),
        # one harmless flag (ECHOCTL) to tell "code runs" (the port restores
        # this) from "the REPL reads" (the port clears every lflag)
        a[0] = 0
        a[1] = 0
        a[2] = (a[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
        a[3] = termios.ECHOCTL
        a[6][termios.VMIN] = 1
        a[6][termios.VTIME] = 0
        termios.tcsetattr(slave, termios.TCSANOW, a)
        os.set_blocking(self.master, False)
        argv = [m.micropython, "-X", "heapsize=%s" % m.heap, "-i", str(BIOS),
                "sock=%s" % m.sock_path, "flash=%s" % m.flash,
                "size=%d" % m.flash_size, "block=%d" % m.block,
                "world=%d" % world, "speed=%d" % m.speed_m,
                "epoch=%d" % m.epoch, "mode=" + mode,
                "cause=" + cause, "token=%d" % self.token]
        env = {k: v for k, v in os.environ.items() if k != "MICROPYPATH"}

        def pre():
            os.setsid()
            import fcntl
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            _set_pdeathsig()

        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     preexec_fn=pre, cwd=m.flash, env=env,
                                     close_fds=True)
        os.close(slave)
        self.pid = self.proc.pid
        self.started = time.monotonic()
        self.hello = False           # bios connected
        self.data = None             # data link socket
        self.ctl = None              # control link socket
        self.ctl_buf = b""
        self.data_buf = b""
        self.data_out = bytearray()      # records for the VM not yet taken by its socket
        self.urgent = None               # faults "now" (never behind queued samples)
        self.wdt_ms = 0              # its watchdog's timeout (board ms), 0: off
        self.fed_ms = None           # board ms of its last feed, as of its last ADVANCE
        self.asked = self.started    # when it last asked for board time (monotonic)
        self.cpu_mark = None         # its CPU seconds when it was first seen not asking
        self.cpu_checked = 0.0
        self.killed = None           # why the host ended it
        self.last_sigint = 0.0
        self.replay = b""            # input written since the last SIGINT
        self.first_read = None       # world ms of the firmware's first sensor read
        self.repl = False            # the ROM has handed over to the REPL
        self.repl_at = 0.0           # when (monotonic)
        self.in_q = b""              # console input not yet written to the VM
        self.typed = b""             # written before the REPL, unread: the ROM gave it back

    def lflag(self):
        try:
            return termios.tcgetattr(self.master)[3]
        except termios.error:
            return -1

    def cpu_s(self):
        """CPU seconds the process has used (user + system)."""
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def sigint_caught(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("SigCgt:"):
                        return int(line.split()[1], 16) & 2 != 0
        except OSError:
            pass
        return False

    def send(self, rec):
        """A record for the VM (playback.Rec), in order; written as its
        data link takes it."""
        if len(self.data_out) < 50 * 2 ** 20:      # a VM that stopped reading: keep order
            self.data_out += W.pack_in(*rec[:7])
        self.flush()

    def flush(self):
        while self.data_out and self.data is not None:
            try:
                n = self.data.send(self.data_out)
            except BlockingIOError:
                return
            except OSError:
                self.data_out = bytearray()
                return
            del self.data_out[:n]

    def send_now(self, rec):
        """A fault "now" on the urgent link (never behind queued samples)."""
        if self.urgent is not None:
            try:
                self.urgent.sendall(W.pack_in(*rec[:7]))
            except OSError:
                pass


class Power:
    """The board's power and resets: one VM at a time (self.vm), started on
    power-on, ended and restarted on a reset, a crash, a power cut; and the
    watchdog's two cases board time cannot see (a hang, a REPL). The console
    is attached to each new VM; `stopping()` says the host is shutting down."""

    def __init__(self, machine, sel, console, timeline, clock, counts, stopping):
        self.machine = machine
        self.sel = sel
        self.console = console
        self.timeline = timeline
        self.clock = clock
        self.counts = counts
        self.stopping = stopping
        self.vm = None
        self.boots = 0
        # the watchdog as a real board's: armed once, it survives Ctrl-C and
        # soft resets until a hard reset or a power cut (repl_watchdog)
        self.wdt_keep_ms = 0
        self.on_at = None            # a power cut: when it comes back (monotonic)
        self.on_world = None         # ... and at which board time

    def spawn(self, mode="normal", cause="power_on"):
        vm = VM(self.machine, mode, cause, self.clock.board_ms)
        self.vm = vm
        self.boots += 1
        self.console.attach(vm)
        self.sel.register(vm.master, selectors.EVENT_READ, (self.console.vm_out, vm))
        self.timeline.note("boot", cause=cause, mode=mode, pid=vm.pid)
        return vm

    def watchdog_armed(self, ms):
        self.wdt_keep_ms = ms        # until a hard reset (repl_watchdog)

    def kill_vm(self, why):
        vm = self.vm
        if vm is None:
            return None
        vm.killed = why
        try:
            vm.proc.kill()
        except OSError:
            pass
        vm.proc.wait()
        self._reap(vm)
        return vm

    def _reap(self, vm):
        self.console.drain(vm)          # forward what it printed last, then forget it
        for s in (vm.master, vm.data, vm.ctl, vm.urgent):
            if s is None:
                continue
            try:
                self.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            try:
                s.close() if hasattr(s, "close") else os.close(s)
            except OSError:
                pass
        if self.vm is vm:
            self.vm = None
        self.console.detach(vm)

    def check(self):
        """After each round of the loop: the VM ended by itself, hangs, or
        sits at its REPL with the watchdog armed."""
        vm = self.vm
        if vm is not None and vm.proc.poll() is not None and vm.killed is None:
            self._exited(vm)
        vm = self.vm
        if vm is not None and vm.wdt_ms:
            self._hung(vm)
        vm = self.vm
        if vm is not None and self.wdt_keep_ms and vm.repl:
            self._repl_watchdog(vm)

    def _exited(self, vm):
        """The VM ended by itself: a soft reset (Ctrl-D, sys.exit) or a crash."""
        rc = vm.proc.poll()
        self._reap(vm)
        if self.stopping():
            return
        note = self.timeline.note
        if rc == -signal.SIGINT and time.monotonic() - vm.last_sigint < 2.0:
            # our Ctrl-C reached the port just after it had left running code
            # (its SIGINT handler gone): the interrupt was meant for the REPL,
            # so bring up the same REPL mode and give it what was sent since
            note("crash", signal=-rc, recovered=True)
            self.console.interrupt_boot()
            new = self.spawn("raw" if self.console.raw else "normal", vm.cause)
            new.in_q = vm.replay + vm.in_q
            return
        if rc is not None and rc < 0:
            note("crash", signal=-rc)
            self.spawn("normal", "hard")
            return
        self.counts["soft_reset"] += 1
        self.console.to_clients(b"MPY: soft reboot\r\n")
        self.spawn("raw" if self.console.raw else "normal", "soft")

    def hard_reset(self, cause):
        self.wdt_keep_ms = 0            # a hard reset stops a real board's watchdog too
        self.counts[cause] += 1
        self.timeline.note("reset", cause=cause)
        self.timeline.check_log(self.vm)    # what the firmware logged up to now, in order
        self.kill_vm(cause)
        self.spawn("normal", cause)

    def power_cut(self, off_s, speed):
        """Off for off_s seconds of board time: the world goes on meanwhile
        (paced to the speed ceiling, at once without one: speed None)."""
        self.wdt_keep_ms = 0
        self.counts["power_cut"] += 1
        self.timeline.note("power", what="off", off_s=off_s)
        self.timeline.check_log(self.vm)
        self.kill_vm("power")
        self.on_world = self.clock.board_ms + int(round(off_s * 1000))
        self.on_at = time.monotonic() + (off_s / speed if speed else 0.0)

    def power_on_due(self, now):
        """The board time at which power comes back, when it is due now, else None."""
        if self.on_at is None or now < self.on_at or self.stopping():
            return None
        self.on_at = None
        return self.on_world

    def power_on(self):
        self.timeline.note("power", what="on")
        self.spawn("normal", "power_on")

    def _hung(self, vm):
        """A firmware that computes without ever sleeping (a loop that hangs)
        moves no board time, so its watchdog would never fire: after
        HANG_CPU_S of the VM's own CPU time (not wall time: a loaded host
        cannot fake it) with no time asked for, board time jumps to the
        watchdog's deadline and the board resets there."""
        now = time.monotonic()
        if now - vm.asked < 1.0 or now - vm.cpu_checked < 0.5:
            return
        vm.cpu_checked = now
        cpu = vm.cpu_s()
        if vm.cpu_mark is None:
            vm.cpu_mark = cpu
        elif cpu - vm.cpu_mark > HANG_CPU_S:
            fed = vm.fed_ms if vm.fed_ms is not None else self.clock.board_ms
            self.clock.reach(fed + vm.wdt_ms)
            self.timeline.note("watchdog", what="hung: no sleep for %.0f s of CPU" % HANG_CPU_S)
            self.hard_reset("watchdog")

    def _repl_watchdog(self, vm):
        """A real board's watchdog is not stopped by a Ctrl-C nor by a soft
        reset, and its REPL does not feed it: a board left at its REPL (plain
        mpremote done, a session killed, a service request abandoned after
        the host took the REPL) resets within its timeout and monitors again.
        Board time stands still at the REPL, so here it counts in real time
        from the last sign of a tool at work: a console byte from a client,
        a feed (host sessions feed before every exchange), the REPL's start.
        Only while the REPL waits for input (code running is _hung's)."""
        now = time.monotonic()
        con = self.console
        last = max(con.console_in, vm.asked, vm.repl_at)
        if now - last < self.wdt_keep_ms / 1000.0 or vm.in_q or con.hold:
            return
        if vm.lflag() != 0:
            return
        self.timeline.note("watchdog",
                           what="not fed for %d s at the REPL" % (self.wdt_keep_ms // 1000))
        self.hard_reset("watchdog")
