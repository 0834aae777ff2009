"""`pumpmon board serve`: a virtual MicroPython board that unmodified mpremote
talks to, for machines (and CI) with no board attached. docs/virtual-board.md.

The board is the real MicroPython unix port (the venv's `micropython`), one
process per power-on / reset, running boards/sim/rom/bios.py (the board's "ROM")
and then its own REPL, friendly and raw. This host process:
  - serves the board's console on a pty (symlinked where you like, e.g. a
    fake /dev/ttyACM0) and on socket://127.0.0.1:PORT, relaying bytes to the
    VM's own pty; turns Ctrl-C into SIGINT while code runs (as a board's UART
    interrupt does), and emulates the resets the unix port cannot do itself:
    Ctrl-D / sys.exit -> "MPY: soft reboot" and a new VM, back in raw REPL if
    it was raw; machine.reset() or the watchdog -> a new VM, main.py again;
  - is the one authority on board time, which is virtual: the VM's clock
    moves when its firmware sleeps, as far as this host grants (a trace row
    is delivered exactly once, at its board time, however slow the host);
    --speed is a ceiling the VM paces itself to (None: as fast as it goes);
  - is the peripherals: plays the trace into the sensors, takes the
    button from the trace, keys or the control socket, records every buzzer
    and LED change (and the firmware's event log records) in the timeline;
  - runs the watchdog and injects faults (sensor silent/stuck/out of range,
    flash failure or full, a hang, a power cut now or in the middle of a
    flash write).
"""
import collections
import math
import os
import selectors
import shutil
import tempfile
import time
from pathlib import Path

from host_tools.vboard.console import Console
from host_tools.vboard.control import Control
from host_tools.vboard.faults import UsageError, parse_scheduled
from host_tools.vboard.hwlink import HardwareLink
from host_tools.vboard.oled import DisplayWatch
from host_tools.vboard.playback import Playback
from host_tools.vboard.timeline import Timeline
from host_tools import paths
from host_tools.vboard.vm import VMPower, micropython_path


DEFAULT_EPOCH = 1767225600    # 2026-01-01 00:00:00 UTC: the board's clock at board time 0
# start-up (wait_ready), judged by the VM's progress: no CPU used for STALL_S
# of wall time is a hang; START_CPU_S of its CPU time without starting is a
# loop; START_LIMIT_S bounds it all (a VM starts in well under 1 s of CPU)
STALL_S = 30.0
START_CPU_S = 20.0
START_LIMIT_S = 300.0


def parse_speed(speed):
    """--speed: a number above 0 (times real time, a ceiling) or 'max'/None
    (no ceiling) -> float or None."""
    if speed is None or speed == "max":
        return None
    try:
        v = float(speed)
    except (TypeError, ValueError):
        v = 0.0
    if not v > 0 or math.isinf(v):
        raise UsageError("--speed must be above 0, or max")
    return v


# a selector tag -> the method that serves that endpoint when it is ready
READY = {"vm_out": "_vm_out", "client": "_client_read", "tcp_accept": "_tcp_accept",
         "hw_accept": "_hw_accept", "hw_new": "_hw_new", "hw_data": "_hw_data",
         "hw_ctl": "_hw_ctl", "ctl_accept": "_ctl_accept", "ctl_conn": "_ctl_conn",
         "wake": "_woken"}


class VirtualBoard(Console, HardwareLink, Playback, Control, Timeline, VMPower, DisplayWatch):
    """The board: its endpoints, its world clock and the loop that serves
    them. The concerns live in the parts it is made of: console.py (the
    serial console), hwlink.py (the ROM's sockets), playback.py (trace and
    faults), control.py, timeline.py, vm.py (power and resets)."""

    def __init__(self, flash, pty_path=None, tcp_port=0, flash_size=1048576, block=4096,
                 trace=None, speed=1.0, timeline=None, faults=(), control=None,
                 heap="512K", exit_at_end=False, display=None, log=None, epoch=None,
                 pico_heap=False):
        self.micropython = micropython_path()
        if pico_heap:
            # the 32-bit build (`make mp32`) with the Pico's free heap: the
            # monitor runs in what a Pico leaves it (docs/virtual-board.md)
            from host_tools.mcu.qemu import PICO_HEAP
            mp32 = paths.BUILD / "mp32" / "micropython"
            if not mp32.exists():
                raise UsageError("--pico-heap needs the 32-bit build %s: run `make mp32`" % mp32)
            self.micropython = str(mp32)
            heap = str(PICO_HEAP)
        self.flash = str(Path(flash).resolve())
        os.makedirs(self.flash, exist_ok=True)
        self.flash_size = int(flash_size)
        self.block = int(block)
        if self.flash_size < 8 * self.block:
            raise UsageError("--flash-size must be at least 8 blocks of %d bytes" % self.block)
        self.speed = parse_speed(speed)     # a ceiling; None: as fast as possible
        self.speed_m = 0 if self.speed is None else max(1, int(round(self.speed * 1000)))
        # the board's wall clock at board time 0 (Unix s): an input, so runs repeat
        self.epoch = DEFAULT_EPOCH if epoch is None else int(epoch)
        self.heap = heap
        self.rundir = tempfile.mkdtemp(prefix="pumpmon-vboard-")
        self.sock_path = os.path.join(self.rundir, "hw.sock")
        self.control_path = control or os.path.join(self.rundir, "control.sock")
        if pty_path is None:
            d = os.path.join(tempfile.gettempdir(), "pumpmon-vboard-%d" % os.getuid())
            os.makedirs(d, exist_ok=True)
            pty_path = os.path.join(d, "ttyACM0")
        self.pty_path = pty_path
        self.tcp_port = tcp_port
        self.exit_at_end = exit_at_end
        self.display = display      # callable(board) drawing the live view, or None
        self.log = log or (lambda text: None)
        self.timeline_path = timeline
        self.timeline = open(timeline, "w") if timeline else None
        self.timeline_rows = []      # kept for callers in the same process (run)
        self.noted = 0               # rows noted so far
        self.scheduled = sorted(parse_scheduled(f) for f in faults)
        self.trace = None
        self.meta = {}
        if trace:
            from host_tools.formats.trace import read_trace
            self.trace = read_trace(trace)
            self.meta = dict(self.trace.meta)
            self.samples = self.trace.samples()
        self.board_ms = 0            # board time as far as the host knows (granted, or stamped)
        self.sel = selectors.DefaultSelector()
        self.vm = None
        self.raw = False
        self.mount = False
        self.swallow = None          # bytes seen while waiting for the raw prompt
        self.hold = False            # console input held (raw restart in progress)
        # the watchdog as a real board's: armed once, it survives Ctrl-C and
        # soft resets until a hard reset or a power cut (_repl_watchdog)
        self.wdt_keep_ms = 0
        self.console_in = 0.0        # when a client last sent a console byte (monotonic)
        self.pending_interrupt = False
        self.prev_out = b""
        self.tail = b""
        self.clients = []            # (kind, fd/socket, out buffer)
        self.stopping = False
        self.power_on_at = None      # a power cut: when it comes back (monotonic)
        self.power_on_world = None   # ... and at which board time
        # the world: trace playback, faults in force, outputs
        self.trace_world0 = None     # world ms at which the trace's first row plays
        self.t_first = None
        self.next_sample = None
        self.current = None          # the sample in force (t, level, flow, flags, button, refill)
        self.trace_done = False
        self.trace_end_world = None
        self.rows = 0
        self.world_faults = {}       # flow/level/flash modes: persist across resets
        self.led = None
        self.tone = 0
        self.duty = 0                # the buzzer PWM's duty_u16 (its tones are recorded with it)
        self.last_tone_world = None   # the buzzer's last note (board time)
        self.alarm_events = []       # firmware event log records seen (dicts)
        self.log_seen = 0
        self.log_sig = None
        self.boots = 0
        self.start_failure = None    # why wait_ready() gave up, in words
        self.counts = collections.Counter()
        self._later = []
        self._setup_endpoints()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))

    # ---- time -----------------------------------------------------------------
    def world_ms(self):
        """Board time: what the host granted last (or the newest stamp the
        VM sent); it stands still while the VM does not sleep."""
        return self.board_ms

    def trace_t(self, world):
        if self.trace_world0 is None or world is None:
            return None
        return self.t_first + (world - self.trace_world0)

    def world_of(self, t_ms):
        return self.trace_world0 + (t_ms - self.t_first)

    # ---- endpoints ----------------------------------------------------------------
    def _setup_endpoints(self):
        self._setup_hw_link()
        self._setup_control()
        self._setup_console()

    def endpoints_line(self):
        parts = ["pty=%s" % self.pty_path, "tty=%s" % self.pty_name]
        if self.tcp:
            parts.append("socket=socket://127.0.0.1:%d" % self.tcp_port)
        parts += ["control=%s" % self.control_path, "flash=%s" % self.flash]
        return "vboard ready " + " ".join(parts)

    def _woken(self, _arg):
        try:
            os.read(self._wake_r, 4096)
        except OSError:
            pass

    def wake(self):
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    # ---- the loop -----------------------------------------------------------------------
    def start(self):
        self.spawn("normal", "power_on")

    def wait_ready(self, stall_s=STALL_S, limit_s=START_LIMIT_S):
        """Until the VM's ROM says hello: True. Judged by the VM's progress,
        not a wall-clock limit a busy machine can miss: it may take as long
        as it goes on using CPU. False (and self.start_failure says why, in
        words) when the VM keeps exiting, uses no CPU for `stall_s` (hung,
        blocked), computes START_CPU_S without saying hello, or, a bound
        for everything, `limit_s` passes."""
        t0 = last = time.monotonic()
        boots0 = self.boots
        cpu = -1.0
        self.start_failure = None
        while True:
            self.step(0.02)
            vm = self.vm
            if vm is not None and vm.hello:
                return True
            now = time.monotonic()
            if self.boots - boots0 > 3:
                self.start_failure = ("its MicroPython VM exited %d times before it started "
                                      "(last output: %r)" % (self.boots - boots0,
                                                             self.tail[-80:]))
            elif vm is not None and now - vm.cpu_checked >= 0.5:
                vm.cpu_checked = now
                c = vm.cpu_s()
                if c > cpu:
                    cpu, last = c, now          # it computes: it is starting
                if c > START_CPU_S:
                    self.start_failure = ("its MicroPython VM used %.0f s of CPU without "
                                          "starting (a loop in its ROM?)" % c)
            if self.start_failure is None and now - last > stall_s:
                self.start_failure = ("its MicroPython VM made no progress for %.0f s "
                                      "(no CPU used: hung or blocked)" % stall_s)
            if self.start_failure is None and now - t0 > limit_s:
                self.start_failure = "it did not start within %.0f s" % limit_s
            if self.start_failure:
                return False

    def progress(self):
        """What moves while the board works: board time, its boots, the rows
        played, the VM's CPU seconds (a loaded host slows all of them down;
        none of them moves in a board that hangs blocked)."""
        vm = self.vm
        return (self.board_ms, self.boots, self.rows, self.power_on_at,
                round(vm.cpu_s(), 2) if vm is not None else None)

    def step(self, timeout=0.02):
        vm = self.vm
        now = time.monotonic()
        if self.power_on_at is not None and now >= self.power_on_at and not self.stopping:
            self.power_on_at = None
            self._deliver_until(self.power_on_world, None)   # the world went on meanwhile
            self.board_ms = max(self.board_ms, self.power_on_world)
            self.note("power", what="on")
            self.spawn("normal", "power_on")
        if self._backlog() > 262144:
            timeout = min(timeout, 0.005)
            for c in self.clients:
                self._client_flush(c)
            if self._backlog() > 262144:
                time.sleep(0.002)       # the board waits on its full pty meanwhile
        events = self.sel.select(timeout)
        for key, _mask in events:
            what, arg = key.data         # what was registered: (tag, its object)
            if what == "stdin":
                arg()                    # the view's keys
            else:
                getattr(self, READY[what])(arg)
        for c in self.clients:
            if c.out:
                self._client_flush(c)
        vm = self.vm
        if (vm is not None and self.hold and not vm.repl and now - vm.started > 2.0
                and vm.lflag() == 0):
            self._repl_starts(vm)      # the ROM never said so (it broke): the REPL reads
        if vm is not None and vm.in_q and not self.hold:
            self._vm_write(vm, b"")
        if vm is not None and vm.data_out:
            self._flush_data(vm)
        while self._later:
            what, arg = self._later.pop(0)
            if what == "hard":
                self.hard_reset("hard")
            elif what == "cut":
                self.power_cut(arg)
        vm = self.vm
        if vm is not None and vm.proc.poll() is not None and vm.killed is None:
            self.vm_exited(vm)
        vm = self.vm
        if vm is not None and vm.wdt_ms:
            self._hung(vm)
        vm = self.vm
        if vm is not None and self.wdt_keep_ms and vm.repl:
            self._repl_watchdog(vm)
        if self.timeline:
            self.timeline.flush()
        self._serve_waiters()           # (after the flush: the rows are in the file)

    def serve(self, should_stop=lambda: False):
        while not self.stopping and not should_stop():
            self.step(0.02)
            if self.display:
                self.display(self)

    def close(self):
        self.stopping = True
        if self.vm is not None:
            self.kill_vm("stop")
        try:
            self._check_log()
        except Exception:
            pass
        if self.timeline:
            self.timeline.close()
            self.timeline = None
        for s in (self.hw_listen, self.ctl_listen, self.tcp):
            if s is not None:
                s.close()
        if self.tcp_client:
            self._drop_tcp()
        for fd in (self.pty_master, self.pty_keep, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            if os.path.islink(self.pty_path) and os.readlink(self.pty_path) == self.pty_name:
                os.unlink(self.pty_path)
        except OSError:
            pass
        try:
            if os.path.exists(self.control_path):
                os.unlink(self.control_path)
        except OSError:
            pass
        shutil.rmtree(self.rundir, ignore_errors=True)
