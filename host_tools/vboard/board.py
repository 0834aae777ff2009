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

VirtualBoard is the composition of parts that each own their state and get
what they need when made: Clock and Timeline (timeline.py), Console
(console.py), Power and its VMs (vm.py), Playback (playback.py),
HardwareLink (hwlink.py), Control (control.py). The selector's keys carry
the bound method that serves each endpoint.
"""
import collections
import math
import os
import selectors
import shutil
import tempfile
import time
from pathlib import Path

from host_tools import paths
from host_tools.vboard.console import Console
from host_tools.vboard.control import Control
from host_tools.vboard.faults import UsageError, parse_scheduled
from host_tools.vboard.hwlink import HardwareLink, W
from host_tools.vboard.oled import DisplayWatch
from host_tools.vboard.playback import Playback
from host_tools.vboard.timeline import Clock, Timeline
from host_tools.vboard.vm import Machine, Power, micropython_path


DEFAULT_EPOCH = 1767225600    # 2026-01-01 00:00:00 UTC: the board's clock at board time 0
# --pico-heap: the board's ROM (its flash, clock, sockets: boards/sim/rom/)
# lives in the VM's heap, where a Pico has nothing (33,072 B measured at boot
# on the 32-bit build; status "heap.rom" gives it each boot): the VM's heap is
# the Pico's free heap plus this, so the firmware has what a Pico leaves it
ROM_HEAP = 36864
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


def _part(part, name, doc=None):
    """A read-only attribute of a part, as the views read the board."""
    return property(lambda self: getattr(getattr(self, part), name), doc=doc)


class VirtualBoard:
    """The board: its parts, its endpoints and the loop that serves them."""

    # what the views, `pumpmon run` and the benchmarks read of the board
    led = _part("link", "led")
    tone = _part("link", "tone")
    current = _part("playback", "current")
    rows = _part("playback", "rows")
    trace = _part("playback", "trace")
    trace_done = _part("playback", "trace_done")
    trace_end_world = _part("playback", "trace_end_world")
    trace_wall = _part("playback", "trace_wall")
    world_faults = _part("playback", "world_faults")
    trace_world0 = _part("clock", "trace_world0")
    board_ms = _part("clock", "board_ms")
    world_ms = _part("clock", "world_ms", "board time: a method")
    trace_t = _part("clock", "trace_t")
    world_of = _part("clock", "world_of")
    alarm_events = _part("timeline", "alarm_events")
    timeline_rows = _part("timeline", "rows")
    display_lines = _part("display_watch", "lines")
    vm = _part("power", "vm")
    boots = _part("power", "boots")
    raw = _part("console", "raw")
    pty_name = _part("console", "pty_name")
    tcp = _part("console", "tcp")
    tcp_port = _part("console", "tcp_port")

    def __init__(self, flash, pty_path=None, tcp_port=0, flash_size=1048576, block=4096,
                 trace=None, speed=1.0, timeline=None, faults=(), control=None,
                 heap="512K", exit_at_end=False, display=None, log=None, epoch=None,
                 pico_heap=False):
        micropython = micropython_path()
        if pico_heap:
            # the 32-bit build (`make mp32`) with the Pico's free heap: the
            # monitor runs in what a Pico leaves it (docs/virtual-board.md)
            from host_tools.mcu.qemu import PICO_HEAP
            mp32 = paths.BUILD / "mp32" / "micropython"
            if not mp32.exists():
                raise UsageError("--pico-heap needs the 32-bit build %s: run `make mp32`" % mp32)
            micropython = str(mp32)
            heap = str(PICO_HEAP + ROM_HEAP)
        self.pico_heap = bool(pico_heap)
        self.flash = str(Path(flash).resolve())
        os.makedirs(self.flash, exist_ok=True)
        if int(flash_size) < 8 * int(block):
            raise UsageError("--flash-size must be at least 8 blocks of %d bytes" % int(block))
        self.speed = parse_speed(speed)     # a ceiling; None: as fast as possible
        speed_m = 0 if self.speed is None else max(1, int(round(self.speed * 1000)))
        # the board's wall clock at board time 0 (Unix s): an input, so runs repeat
        epoch = DEFAULT_EPOCH if epoch is None else int(epoch)
        scheduled = sorted(parse_scheduled(f) for f in faults)
        tr = None
        if trace:
            from host_tools.formats.trace import read_trace
            tr = read_trace(trace)
        self.rundir = tempfile.mkdtemp(prefix="pumpmon-vboard-")
        sock_path = os.path.join(self.rundir, "hw.sock")
        self.control_path = control or os.path.join(self.rundir, "control.sock")
        if pty_path is None:
            d = os.path.join(tempfile.gettempdir(), "pumpmon-vboard-%d" % os.getuid())
            os.makedirs(d, exist_ok=True)
            pty_path = os.path.join(d, "ttyACM0")
        self.pty_path = pty_path
        self.display = display      # callable(board) drawing the live view, or None
        self.stopping = False
        self.start_failure = None    # why wait_ready() gave up, in words
        self.counts = collections.Counter()
        sel = self.sel = selectors.DefaultSelector()
        self.machine = Machine(micropython, heap, sock_path, self.flash, int(flash_size),
                               int(block), speed_m, epoch)
        self.clock = Clock()
        self.display_watch = DisplayWatch(self.rundir)
        self.timeline = Timeline(self.clock, timeline, self.flash, self.display_watch, log)
        note = self.timeline.note
        stopping = self._is_stopping
        self.console = Console(sel, pty_path, tcp_port, note)
        self.power = Power(self.machine, sel, self.console, self.timeline, self.clock,
                           self.counts, stopping)
        self.playback = Playback(self.clock, self.power, self.timeline, self.counts, tr,
                                 scheduled, self.speed, self.stop if exit_at_end else None)
        self.link = HardwareLink(sel, sock_path, self.clock, self.power, self.console,
                                 self.playback, self.timeline)
        self.control = Control(sel, self.control_path, self.clock, self.timeline, self.status,
                               self.stop, self.playback.apply_fault, stopping)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        sel.register(self._wake_r, selectors.EVENT_READ, (self._woken, None))

    # what a caller sets: the port to run (a test's stand-in), the log lines'
    # sink, the display's PNG folder
    @property
    def micropython(self):
        return self.machine.micropython

    @micropython.setter
    def micropython(self, path):
        self.machine.micropython = path

    @property
    def log(self):
        return self.timeline.log

    @log.setter
    def log(self, fn):
        self.timeline.log = fn

    @property
    def display_frames(self):
        return self.display_watch.frames

    @display_frames.setter
    def display_frames(self, folder):
        self.display_watch.frames = folder

    def _is_stopping(self):
        return self.stopping

    def stop(self):
        self.stopping = True

    def apply_fault(self, spec):
        self.playback.apply_fault(spec)

    def endpoints_line(self):
        parts = ["pty=%s" % self.pty_path, "tty=%s" % self.pty_name]
        if self.tcp:
            parts.append("socket=socket://127.0.0.1:%d" % self.tcp_port)
        parts += ["control=%s" % self.control_path, "flash=%s" % self.flash]
        return "vboard ready " + " ".join(parts)

    def status(self):
        vm = self.vm
        cur = self.current
        return {
            "world_ms": self.world_ms(), "t_ms": self.trace_t(self.world_ms()),
            "speed": self.speed or "max",
            "vm": None if vm is None else {"pid": vm.pid, "mode": vm.mode, "cause": vm.cause,
                                           "hello": vm.hello, "watchdog_ms": vm.wdt_ms},
            "raw": self.raw, "led": self.led, "tone": self.tone, "boots": self.boots,
            "trace_started": self.trace_world0 is not None, "trace_done": self.trace_done,
            "sample": None if cur is None else list(cur), "faults": dict(self.world_faults),
            "counts": dict(self.counts), "heap": dict(self.link.heap),
        }

    def heap_text(self):
        """How much of a Pico's free heap the monitor holds, in words: the
        high-water of gc.mem_alloc() at the firmware's sleeps inside the VM
        (live data plus at most 10 s of garbage: wire.HEAP), less what the
        board's ROM holds (a Pico has none); None until the VM has said."""
        from host_tools.mcu.qemu import PICO_HEAP as PICO
        h = self.link.heap
        if h["peak"] is None or h["rom"] is None or h["size"] is None:
            return None
        used = h["peak"] - h["rom"]
        return "monitor peak {:,} B = {:.0f} % of a Pico's {:,} B free heap (live plus at " \
            "most {} s of garbage); {:,} B free at the lowest, of {:,}{}".format(
                used, 100.0 * used / PICO, PICO, W.HEAP_COLLECT_MS // 1000,
                h["size"] - h["peak"], h["size"],
                " (32-bit build, the Pico's heap)" if self.pico_heap else
                " (64-bit unix port: larger objects than a Pico's; --pico-heap for the "
                "32-bit figure)")

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
        self.power.spawn("normal", "power_on")

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
                                                             self.console.tail[-80:]))
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
        return (self.board_ms, self.boots, self.rows, self.power.on_at,
                round(vm.cpu_s(), 2) if vm is not None else None)

    def step(self, timeout=0.02):
        now = time.monotonic()
        on_world = self.power.power_on_due(now)
        if on_world is not None:
            self.playback.deliver_until(on_world, None)   # the world went on meanwhile
            self.clock.reach(on_world)
            self.power.power_on()
        console = self.console
        if console.backlog() > 262144:
            timeout = min(timeout, 0.005)
            console.flush_clients()
            if console.backlog() > 262144:
                time.sleep(0.002)       # the board waits on its full pty meanwhile
        for key, _mask in self.sel.select(timeout):
            handler, arg = key.data      # the bound method that serves it, and its object
            handler(arg)
        console.flush_clients()
        console.poll(now)
        vm = self.vm
        if vm is not None and vm.data_out:
            vm.flush()
        for what, arg in self.link.take_later():
            if what == "hard":
                self.power.hard_reset("hard")
            elif what == "cut":
                self.power.power_cut(arg, self.speed)
        self.power.check()
        self.timeline.flush()
        self.control.serve_waiters()     # (after the flush: the rows are in the file)

    def serve(self, should_stop=lambda: False):
        while not self.stopping and not should_stop():
            self.step(0.02)
            if self.display:
                self.display(self)

    def close(self):
        self.stopping = True
        if self.vm is not None:
            self.power.kill_vm("stop")
        try:
            self.timeline.check_log(None)
        except Exception:
            pass
        self.timeline.close()
        self.link.close()
        self.control.close()
        self.console.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.rundir, ignore_errors=True)
