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
  - is the peripherals: plays the trace into the sensors at --speed, takes the
    button from the trace, keys or the control socket, records every buzzer
    and LED change (and the firmware's event log records) in the timeline;
  - runs the watchdog and injects faults (sensor silent/stuck/out of range,
    flash failure or full, a hang, a power cut now or in the middle of a
    flash write).
"""
import collections
import ctypes
import json
import os
import pty
import random
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
import tty
from pathlib import Path

from host_tools import paths

BIOS = paths.ROM / "bios.py"
SIM_BOARD = paths.BOARDS / "sim" / "board.py"

RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_MARK = b'Type "help()" for more information.'
NONE32 = -2147483648
REC_IN = struct.Struct("<BBBBqiii")   # host -> VM, 24 bytes
REC_OUT = struct.Struct("<BBxxqi")    # VM -> host, 16 bytes
COLOURS = ("off", "green", "yellow", "red")

FLOW_MODES = {"ok": 0, "silent": 1, "stuck": 2, "range": 3, "air": 4}
LEVEL_MODES = {"ok": 0, "silent": 1, "stuck": 2, "range": 3}
FLASH_MODES = {"ok": 0, "fail": 1, "full": 2}
BUTTON_MS = {"press": 300, "long": 3000, "hold": 10 ** 9, "release": 0}
KEYS = {"p": "button=press", "a": "button=long", "h": "hang", "r": "reset",
        "c": "power-cut", "s": "flow=silent", "o": "flow=ok", "f": "flash=fail",
        "g": "flash=ok"}
FAULT_HELP = ("flow=ok|silent|stuck|range|air, level=ok|silent|stuck|range, "
              "flash=ok|fail|full, hang, button=press|long|hold|release, reset, "
              "power-cut[=OFF_S], cut-after=BYTES")


class UsageError(Exception):
    pass


def micropython_path():
    try:
        return paths.micropython()
    except FileNotFoundError as e:
        raise UsageError(str(e))


def parse_fault(spec):
    """A fault spec -> (name, value); UsageError when it is not one."""
    spec = spec.strip()
    name, _, val = spec.partition("=")
    if name == "flow" and val in FLOW_MODES:
        return name, FLOW_MODES[val]
    if name == "level" and val in LEVEL_MODES:
        return name, LEVEL_MODES[val]
    if name == "flash" and val in FLASH_MODES:
        return name, FLASH_MODES[val]
    if name == "button" and val in BUTTON_MS:
        return name, BUTTON_MS[val]
    if name in ("hang", "reset") and not val:
        return name, 0
    if name == "power-cut":
        try:
            return name, float(val) if val else 1.0
        except ValueError:
            pass
    if name == "cut-after":
        try:
            return name, int(val)
        except ValueError:
            pass
    raise UsageError("bad fault %r (one of: %s)" % (spec, FAULT_HELP))


def parse_scheduled(text):
    """'T:SPEC' (T = trace seconds from the trace's start) -> (t_ms, spec)."""
    t, sep, spec = text.partition(":")
    try:
        if not sep:
            raise ValueError
        t_ms = int(round(float(t) * 1000))
    except ValueError:
        raise UsageError("bad --fault %r: give SECONDS:FAULT, e.g. 600:flow=silent" % text)
    parse_fault(spec)
    return t_ms, spec


def _set_pdeathsig():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)       # PR_SET_PDEATHSIG: die with the host
    except (OSError, AttributeError):
        pass


class VM:
    """One unix-port process: one power-on or reset of the board."""

    def __init__(self, board, mode, cause):
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
        argv = [board.micropython, "-X", "heapsize=%s" % board.heap, "-i", str(BIOS),
                "sock=%s" % board.sock_path, "flash=%s" % board.flash,
                "size=%d" % board.flash_size, "block=%d" % board.block,
                "mono0=%d" % board.mono0_us, "speed=%d" % board.speed_m, "mode=" + mode,
                "cause=" + cause, "token=%d" % self.token]
        env = {k: v for k, v in os.environ.items() if k != "MICROPYPATH"}

        def pre():
            os.setsid()
            import fcntl
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            _set_pdeathsig()

        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     preexec_fn=pre, cwd=board.flash, env=env,
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
        self.wdt_ms = 0
        self.fed = 0.0
        self.killed = None           # why the host ended it
        self.last_sigint = 0.0
        self.replay = b""            # input written since the last SIGINT
        self.first_read = None       # world ms of the firmware's first sensor read
        self.repl = False            # the ROM has handed over to the REPL
        self.in_q = b""              # console input not yet written to the VM

    def lflag(self):
        try:
            return termios.tcgetattr(self.master)[3]
        except termios.error:
            return -1

    def sigint_caught(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("SigCgt:"):
                        return int(line.split()[1], 16) & 2 != 0
        except OSError:
            pass
        return False


class VirtualBoard:
    def __init__(self, flash, pty_path=None, tcp_port=0, flash_size=1048576, block=4096,
                 trace=None, speed=1.0, timeline=None, faults=(), control=None,
                 heap="512K", watchdog_floor_s=0.5, exit_at_end=False, display=None,
                 log=None):
        self.micropython = micropython_path()
        self.flash = str(Path(flash).resolve())
        os.makedirs(self.flash, exist_ok=True)
        self.flash_size = int(flash_size)
        self.block = int(block)
        if self.flash_size < 8 * self.block:
            raise UsageError("--flash-size must be at least 8 blocks of %d bytes" % self.block)
        if speed <= 0:
            raise UsageError("--speed must be above 0")
        self.speed = float(speed)
        self.speed_m = max(1, int(round(speed * 1000)))
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
        self.watchdog_floor = watchdog_floor_s
        self.exit_at_end = exit_at_end
        self.display = display      # callable(board) drawing the live view, or None
        self.log = log or (lambda text: None)
        self.timeline_path = timeline
        self.timeline = open(timeline, "w") if timeline else None
        self.timeline_rows = []      # kept for callers in the same process (run)
        self.scheduled = sorted(parse_scheduled(f) for f in faults)
        self.trace = None
        self.meta = {}
        if trace:
            from host_tools.formats.trace import read_trace
            self.trace = read_trace(trace)
            self.meta = dict(self.trace.meta)
            self.samples = self.trace.samples()
        self.mono0_us = time.monotonic_ns() // 1000
        self.sel = selectors.DefaultSelector()
        self.vm = None
        self.raw = False
        self.mount = False
        self.swallow = None          # bytes seen while waiting for the raw prompt
        self.hold = False            # console input held (raw restart in progress)
        self.pending_interrupt = False
        self.prev_out = b""
        self.tail = b""
        self.clients = []            # (kind, fd/socket, out buffer)
        self.stopping = False
        self.power_on_at = None      # a power cut: when it comes back (monotonic)
        # the world: trace playback, faults in force, outputs
        self.trace_world0 = None     # world ms at which the trace's first row plays
        self.t_first = None
        self.next_sample = None
        self.sent = collections.deque()   # records sent and maybe not yet due
        self.current = None          # the sample in force (t, level, flow, flags, button, refill)
        self.trace_done = False
        self.trace_end_world = None
        self.rows = 0
        self.world_faults = {}       # flow/level/flash modes: persist across resets
        self.led = None
        self.tone = 0
        self.last_tone_world = None   # the buzzer's last note (board time)
        self.alarm_events = []       # firmware event log records seen (dicts)
        self.log_seen = 0
        self.log_check = 0.0
        self.boots = 0
        self.counts = collections.Counter()
        self._later = []
        self._setup_endpoints()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))

    # ---- time -----------------------------------------------------------------
    def world_ms(self):
        return (time.monotonic_ns() // 1000 - self.mono0_us) * self.speed_m // 1000000

    def trace_t(self, world):
        if self.trace_world0 is None or world is None:
            return None
        return self.t_first + (world - self.trace_world0)

    def world_of(self, t_ms):
        return self.trace_world0 + (t_ms - self.t_first)

    # ---- endpoints ----------------------------------------------------------------
    def _setup_endpoints(self):
        self.hw_listen = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.hw_listen.bind(self.sock_path)
        self.hw_listen.listen(8)
        self.hw_listen.setblocking(False)
        self.sel.register(self.hw_listen, selectors.EVENT_READ, ("hw_accept", None))
        if os.path.exists(self.control_path):
            os.unlink(self.control_path)
        self.ctl_listen = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ctl_listen.bind(self.control_path)
        self.ctl_listen.listen(4)
        self.ctl_listen.setblocking(False)
        self.sel.register(self.ctl_listen, selectors.EVENT_READ, ("ctl_accept", None))
        # the pty a serial client opens; the host keeps the slave open itself
        # so the master never reads EIO between clients
        self.pty_master, slave = pty.openpty()
        tty.setraw(slave)
        self.pty_keep = slave
        self.pty_name = os.ttyname(slave)
        os.set_blocking(self.pty_master, False)
        try:
            if os.path.islink(self.pty_path) or os.path.exists(self.pty_path):
                os.unlink(self.pty_path)
            os.makedirs(os.path.dirname(os.path.abspath(self.pty_path)), exist_ok=True)
            os.symlink(self.pty_name, self.pty_path)
        except OSError as e:
            raise UsageError("cannot create the pty link %s: %s" % (self.pty_path, e))
        self.pty_client = ["pty", self.pty_master, bytearray()]
        self.clients.append(self.pty_client)
        self.sel.register(self.pty_master, selectors.EVENT_READ, ("client", self.pty_client))
        self.tcp = None
        if self.tcp_port is not None and self.tcp_port >= 0:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.tcp_port))
            except OSError as e:
                raise UsageError("cannot listen on 127.0.0.1:%d: %s" % (self.tcp_port, e))
            s.listen(2)
            s.setblocking(False)
            self.tcp = s
            self.tcp_port = s.getsockname()[1]
            self.sel.register(s, selectors.EVENT_READ, ("tcp_accept", None))
        self.tcp_client = None

    def endpoints_line(self):
        parts = ["pty=%s" % self.pty_path, "tty=%s" % self.pty_name]
        if self.tcp:
            parts.append("socket=socket://127.0.0.1:%d" % self.tcp_port)
        parts += ["control=%s" % self.control_path, "flash=%s" % self.flash]
        return "vboard ready " + " ".join(parts)

    def wake(self):
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    # ---- timeline ---------------------------------------------------------------
    def note(self, kind, world=None, **fields):
        if world is None:
            world = self.world_ms()
        row = {"world_ms": world, "t_ms": self.trace_t(world), "kind": kind}
        row.update(fields)
        self.timeline_rows.append(row)
        if len(self.timeline_rows) > 100000:
            del self.timeline_rows[:50000]
        if self.timeline:
            self.timeline.write(json.dumps(row, separators=(",", ":")) + "\n")
        if kind not in ("led", "tone"):
            self.log(self._describe(row))

    def _describe(self, row):
        t = row["t_ms"]
        when = "t=%s" % fmt_t(t) if t is not None else "w=%s" % fmt_t(row["world_ms"])
        rest = " ".join("%s=%s" % (k, v) for k, v in row.items()
                        if k not in ("world_ms", "t_ms", "kind"))
        return "%s %s %s" % (when, row["kind"], rest)

    # ---- the VM -----------------------------------------------------------------
    def spawn(self, mode="normal", cause="power_on"):
        vm = VM(self, mode, cause)
        self.vm = vm
        self.boots += 1
        self.raw = mode == "raw"
        self.mount = False
        self.prev_out = b""
        self.tail = b""
        self.swallow = None
        self.hold = mode == "raw"
        self.sel.register(vm.master, selectors.EVENT_READ, ("vm_out", vm))
        self.note("boot", cause=cause, mode=mode, pid=vm.pid)
        return vm

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
        # forward what it printed last, then forget it
        while True:
            try:
                data = os.read(vm.master, 65536)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            self.vm_output(data)
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

    def vm_exited(self, vm):
        """The VM ended by itself: a soft reset (Ctrl-D, sys.exit) or a crash."""
        rc = vm.proc.poll()
        self._reap(vm)
        if self.stopping:
            return
        if rc == -signal.SIGINT and time.monotonic() - vm.last_sigint < 2.0:
            # our Ctrl-C reached the port just after it had left running code
            # (its SIGINT handler gone): the interrupt was meant for the REPL,
            # so bring up the same REPL mode and give it what was sent since
            self.note("crash", signal=-rc, recovered=True)
            self.pending_interrupt = True
            new = self.spawn("raw" if self.raw else "normal", vm.cause)
            new.in_q = vm.replay + vm.in_q
            return
        if rc is not None and rc < 0:
            self.note("crash", signal=-rc)
            self.spawn("normal", "hard")
            return
        self.counts["soft_reset"] += 1
        self.to_clients(b"MPY: soft reboot\r\n")
        self.spawn("raw" if self.raw else "normal", "soft")

    def hard_reset(self, cause):
        self.counts[cause] += 1
        self.note("reset", cause=cause)
        self.kill_vm(cause)
        self.spawn("normal", cause)

    def power_cut(self, off_s):
        self.counts["power_cut"] += 1
        self.note("power", what="off", off_s=off_s)
        self.kill_vm("power")
        self.power_on_at = time.monotonic() + max(0.05, off_s / self.speed)

    # ---- console relay ---------------------------------------------------------------
    def to_clients(self, data):
        if not data:
            return
        for c in self.clients:
            self._client_write(c, data)

    def _client_write(self, c, data):
        c[2] += data
        self._client_flush(c)

    def _client_flush(self, c):
        """Write what a client can take. A client that reads slowly holds the
        board back (flow control, as USB does); one that has read nothing for
        2 s is taken as absent (a pty nobody has open): its backlog is
        dropped, the newest 4 KiB kept."""
        buf = c[2]
        while buf:
            try:
                if c[0] == "pty":
                    n = os.write(c[1], bytes(buf[:4096]))
                else:
                    n = c[1].send(bytes(buf[:65536]))
            except BlockingIOError:
                now = time.monotonic()
                if len(c) < 4:
                    c.append(now)
                elif c[3] is None:
                    c[3] = now
                elif now - c[3] > 2.0:
                    if c[0] == "pty":
                        termios.tcflush(self.pty_keep, termios.TCIFLUSH)
                    del buf[:max(0, len(buf) - 4096)]
                    c[3] = None
                    continue
                break
            except OSError:
                if c[0] == "tcp":
                    self._drop_tcp()
                return
            if len(c) >= 4:
                c[3] = None
            del buf[:n]

    def _backlog(self):
        return max((len(c[2]) for c in self.clients), default=0)

    def vm_output(self, data):
        if 0x18 in data:
            self.mount = True           # mpremote mount's binary protocol from now on
        tail = self.tail + data
        r = tail.rfind(RAW_BANNER)
        f = tail.rfind(FRIENDLY_MARK)
        if r >= 0 or f >= 0:
            self.raw = r > f
        self.tail = tail[-64:]
        if self.swallow is not None:
            self.swallow += data
            i = self.swallow.find(RAW_PROMPT)
            if i < 0:
                return
            data = RAW_PROMPT + self.swallow[i + len(RAW_PROMPT):]
            self.swallow = None
            self.raw = True
            self.hold = False
            self.to_clients(data)
            if self.vm is not None and self.vm.in_q:
                self._vm_write(self.vm, b"")
            return
        if not self.raw and not self.mount:
            # a board prints "\r\n" for "\n"; the unix port leaves it to the tty
            out = bytearray()
            prev = self.prev_out
            for i, b in enumerate(data):
                if b == 10 and (prev if i == 0 else data[i - 1:i]) != b"\r":
                    out += b"\r\n"
                else:
                    out.append(b)
            data = bytes(out)
        if data:
            self.prev_out = data[-1:]
        self.to_clients(data)

    def client_input(self, data):
        vm = self.vm
        if vm is None:
            return                      # powered off: the bytes are lost
        while data:
            i = data.find(b"\x03")
            if i < 0:
                self._queue_in(vm, data)
                return
            if i:
                self._queue_in(vm, data[:i])
            data = data[i + 1:]
            self._ctrl_c(vm)

    def _queue_in(self, vm, data):
        vm.in_q += data
        if not self.hold:
            self._vm_write(vm, b"")

    def _vm_write(self, vm, data):
        vm.in_q += data
        while vm.in_q:
            chunk = vm.in_q[:4096]
            try:
                n = os.write(vm.master, chunk)
            except BlockingIOError:
                break
            except OSError:
                vm.in_q = b""
                break
            if vm.last_sigint and time.monotonic() - vm.last_sigint < 2.0:
                vm.replay += chunk[:n]
            vm.in_q = vm.in_q[n:]

    def _ctrl_c(self, vm):
        if self.hold:
            vm.in_q += b"\x03"
            return
        if not vm.hello:
            self.pending_interrupt = True     # booting: main.py will not start
            return
        if vm.lflag() == 0:                   # the REPL reads: a plain byte
            self._vm_write(vm, b"\x03")
            return
        if vm.sigint_caught():
            now = time.monotonic()
            if now - vm.last_sigint > 0.3:    # a second SIGINT too soon kills the port
                self._vm_write(vm, b"")       # what came before the Ctrl-C first
                vm.last_sigint = now
                vm.replay = b""
                os.kill(vm.pid, signal.SIGINT)
                if vm.wdt_ms:
                    vm.wdt_ms = 0
                    self.note("watchdog", what="stopped by Ctrl-C")
            return
        self._vm_write(vm, b"\x03")            # kbd_intr(-1): Ctrl-C is data

    # ---- the hardware links -----------------------------------------------------------
    def _accept(self, listen, tag):
        """A new connection on a listening socket, registered as tag."""
        try:
            conn, _ = listen.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self.sel.register(conn, selectors.EVENT_READ, (tag, [conn, b""]))

    def _receive(self, st):
        """Append what st's connection sent to st[1]; False when there is
        nothing new (closed connections are unregistered and closed)."""
        conn = st[0]
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(conn)
            conn.close()
            return False
        st[1] += data
        return True

    def _hw_accept(self):
        self._accept(self.hw_listen, "hw_new")

    def _hw_new(self, st):
        if not self._receive(st):
            return
        conn = st[0]
        buf = st[1]
        vm = self.vm
        if buf[:2] == b"h\x00" and len(buf) >= 16:
            kind, _s, _t, token = REC_OUT.unpack(buf[:16])
            self.sel.unregister(conn)
            if vm is None or token != vm.token:
                conn.close()
                return
            vm.data = conn
            vm.data_buf = buf[16:]
            self.sel.register(conn, selectors.EVENT_READ, ("hw_data", vm))
            if vm.hello:
                self._resend_world(vm)
        elif buf[:2] == b"u\x00" and len(buf) >= 16:
            kind, _s, _t, token = REC_OUT.unpack(buf[:16])
            self.sel.unregister(conn)
            if vm is None or token != vm.token:
                conn.close()
                return
            vm.urgent = conn           # the host only writes to it
        elif buf.startswith(b"hello ") and buf.endswith(b"\n"):
            self.sel.unregister(conn)
            tok = buf.split()[1].decode()
            if vm is None or tok != str(vm.token):
                conn.close()
                return
            vm.ctl = conn
            self.sel.register(conn, selectors.EVENT_READ, ("hw_ctl", vm))
            self._vm_hello(vm)

    def _vm_hello(self, vm):
        vm.hello = True
        skip = self.pending_interrupt
        self.pending_interrupt = False
        self._send_ctl(vm, "ok skip_main=%d started=%d" % (skip, self.trace_world0 is not None))
        self.log_check = 0.0
        if vm.data is not None:
            self._resend_world(vm)

    def _resend_world(self, vm):
        """A new VM: the sensors' state and what is queued for it."""
        for name, value in self.world_faults.items():
            self._send_fault(vm, name, value, 0)
        if self.current is not None:
            self._send_sample(vm, self.current, 0)
        for rec in self.sent:
            self._send_raw(vm, rec)

    def _send_ctl(self, vm, line):
        try:
            vm.ctl.sendall((line + "\n").encode())
        except OSError:
            pass

    def _hw_ctl(self, vm):
        try:
            data = vm.ctl.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(vm.ctl)
            vm.ctl.close()
            vm.ctl = None
            return
        vm.ctl_buf += data
        while b"\n" in vm.ctl_buf:
            line, vm.ctl_buf = vm.ctl_buf.split(b"\n", 1)
            self._vm_request(vm, line.decode().strip())

    def _vm_request(self, vm, line):
        if line == "repl":
            self._repl_starts(vm)
            self._send_ctl(vm, "ok")
            self._vm_write(vm, b"")
        elif line == "reset":
            self._send_ctl(vm, "ok")
            self._later.append(("hard", "hard"))
        elif line == "cut":
            self.world_faults.pop("cut-after", None)
            self._send_ctl(vm, "ok")
            self._later.append(("cut", 1.0))
        else:
            self._send_ctl(vm, "error")

    def _repl_starts(self, vm):
        # all the board printed before is in its pty: pass it on, then (raw
        # mode after a soft reset) enter raw REPL for the client
        vm.repl = True
        self._drain(vm)
        if vm.mode == "raw":
            self.swallow = b""
            self.hold = False
            vm.in_q = b"\x01" + vm.in_q

    def _drain(self, vm):
        while True:
            try:
                data = os.read(vm.master, 65536)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self.vm_output(data)

    def _hw_data(self, vm):
        try:
            data = vm.data.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(vm.data)
            vm.data.close()
            vm.data = None
            return
        buf = vm.data_buf + data
        n = len(buf) // 16 * 16
        for off in range(0, n, 16):
            kind, small, world, value = REC_OUT.unpack_from(buf, off)
            self._vm_event(vm, kind, world, value)
        vm.data_buf = buf[n:]

    def _vm_event(self, vm, kind, world, value):
        if kind == 76:                          # 'L'
            name = COLOURS[value] if 0 <= value < 4 else str(value)
            if name != self.led:
                self.led = name
                self.note("led", world, colour=name)
        elif kind == 90:                        # 'Z'
            if value:
                self.last_tone_world = world
            if value != self.tone:
                self.tone = value
                self.note("tone", world, hz=value)
        elif kind == 87:                        # 'W'
            vm.fed = time.monotonic()
        elif kind == 75:                        # 'K'
            vm.wdt_ms = value
            vm.fed = time.monotonic()
            self.note("watchdog", world, what="armed", timeout_ms=value)
        elif kind == 66:                        # 'B': the firmware reads its sensors
            vm.first_read = world
            if self.trace is not None and self.trace_world0 is None:
                self._start_trace(world)

    # ---- trace playback ---------------------------------------------------------------
    def _start_trace(self, world):
        first = next(self.samples, None)
        if first is None:
            self.trace_done = True
            return
        self.t_first = first[0]
        self.trace_world0 = world
        self.next_sample = first
        self.note("trace", world, what="start", path=str(self.trace.path))

    def _pump(self, now_world):
        """Send the VM what falls due within the lookahead; faults on time."""
        if self.trace_world0 is None:
            return
        vm = self.vm
        ahead = max(2000, int(0.3 * self.speed * 1000))
        while self.sent and self.sent[0][4] <= now_world:
            rec = self.sent.popleft()
            if rec[0] == 83:
                self.current = (rec[7], None if rec[5] == NONE32 else rec[5],
                                None if rec[6] == NONE32 else rec[6], rec[1], rec[2], rec[3])
        while self.scheduled and self.world_of(self.scheduled[0][0]) <= now_world + ahead:
            t_ms, spec = self.scheduled[0]
            w = self.world_of(t_ms)
            name, value = parse_fault(spec)
            if name in ("flow", "level", "flash", "button", "hang", "cut-after"):
                self.scheduled.pop(0)
                self.apply_fault(spec, at_world=w)
            elif w <= now_world:
                self.scheduled.pop(0)
                self.apply_fault(spec)
            else:
                break
        while self.next_sample is not None:
            s = self.next_sample
            w = self.world_of(s[0])
            if w > now_world + ahead:
                break
            rec = (83, s[3] & 255, s[4] & 1, s[5] & 1, w,
                   NONE32 if s[1] is None else max(NONE32 + 1, min(s[1], 2 ** 31 - 1)),
                   NONE32 if s[2] is None else max(NONE32 + 1, min(s[2], 2 ** 31 - 1)),
                   s[0])
            self.sent.append(rec)
            if vm is not None and vm.data is not None:
                self._send_raw(vm, rec)
            self.rows += 1
            try:
                self.next_sample = next(self.samples, None)
            except Exception as e:  # a bad row: the trace ends there, said once
                self.next_sample = None
                self.note("trace", what="error", error=str(e))
            if self.next_sample is None:
                self.trace_end_world = w + 1000
        if (self.next_sample is None and not self.trace_done and self.trace_end_world is not None
                and now_world >= self.trace_end_world):
            self.trace_done = True
            self.note("trace", what="end", rows=self.rows)
            if self.exit_at_end:
                self.stopping = True

    def _send_raw(self, vm, rec):
        if len(vm.data_out) < 50 * 2 ** 20:      # a VM that stopped reading: keep order
            vm.data_out += REC_IN.pack(*rec[:7], 0)
        self._flush_data(vm)

    def _flush_data(self, vm):
        while vm.data_out and vm.data is not None:
            try:
                n = vm.data.send(vm.data_out)
            except BlockingIOError:
                return
            except OSError:
                vm.data_out = bytearray()
                return
            del vm.data_out[:n]

    def _send_sample(self, vm, cur, due):
        t, level, flow, flags, button, refill = cur
        self._send_raw(vm, (83, flags, button, refill, due, NONE32 if level is None else level,
                            NONE32 if flow is None else flow))

    def _send_fault(self, vm, name, value, due):
        key = {"flow": 1, "level": 2, "flash": 3, "hang": 4, "button": 5, "cut-after": 6}[name]
        if vm is not None and vm.data is not None:
            self._send_raw(vm, (70, key, 0, 0, due, int(min(value, 2 ** 31 - 1)), 0))

    def apply_fault(self, spec, at_world=None):
        """Apply a fault now (or at a world time, for the in-VM ones)."""
        name, value = parse_fault(spec)
        w = self.world_ms() if at_world is None else at_world
        self.counts["fault"] += 1
        self.note("fault", max(w, 0) if at_world is not None else None, spec=spec)
        vm = self.vm
        if name in ("flow", "level", "flash"):
            if value:
                self.world_faults[name] = value
            else:
                self.world_faults.pop(name, None)
            self._queue_fault(vm, name, value, w)
        elif name == "cut-after":        # armed until it cuts, across resets
            self.world_faults[name] = value
            self._queue_fault(vm, name, value, w)
        elif name in ("hang", "button"):
            self._queue_fault(vm, name, value, w)
        elif name == "reset":
            self.hard_reset("hard")
        elif name == "power-cut":
            self.power_cut(value)

    def _queue_fault(self, vm, name, value, w):
        key = {"flow": 1, "level": 2, "flash": 3, "hang": 4, "button": 5, "cut-after": 6}[name]
        rec = (70, key, 0, 0, w, int(min(value, 2 ** 31 - 1)), 0, None)
        if self.trace_world0 is not None and w > self.world_ms():
            self.sent.append(rec)
            self.sent = collections.deque(sorted(self.sent, key=lambda r: r[4]))
        elif vm is not None and vm.urgent is not None:
            try:
                vm.urgent.sendall(REC_IN.pack(*rec[:7], 0))
            except OSError:
                pass
            return
        if vm is not None and vm.data is not None:
            self._send_raw(vm, rec)

    # ---- control socket ---------------------------------------------------------------
    def _ctl_accept(self):
        self._accept(self.ctl_listen, "ctl_conn")

    def _ctl_conn(self, st):
        if not self._receive(st):
            return
        conn = st[0]
        while b"\n" in st[1]:
            line, st[1] = st[1].split(b"\n", 1)
            reply = self.command(line.decode(errors="replace").strip())
            try:
                conn.sendall((reply + "\n").encode())
            except OSError:
                pass

    def command(self, line):
        if line == "status":
            return json.dumps(self.status())
        if line == "stop":
            self.stopping = True
            return "ok"
        try:
            self.apply_fault(line)
        except UsageError as e:
            return "error: %s" % e
        return "ok"

    def status(self):
        vm = self.vm
        cur = self.current
        return {
            "world_ms": self.world_ms(), "t_ms": self.trace_t(self.world_ms()),
            "vm": None if vm is None else {"pid": vm.pid, "mode": vm.mode, "cause": vm.cause,
                                           "hello": vm.hello, "watchdog_ms": vm.wdt_ms},
            "raw": self.raw, "led": self.led, "tone": self.tone, "boots": self.boots,
            "trace_started": self.trace_world0 is not None, "trace_done": self.trace_done,
            "sample": None if cur is None else list(cur), "faults": dict(self.world_faults),
            "counts": dict(self.counts),
        }

    # ---- TCP clients --------------------------------------------------------------------
    def _tcp_accept(self):
        try:
            conn, _ = self.tcp.accept()
        except BlockingIOError:
            return
        self._drop_tcp()                       # one serial client at a time: the newest
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = ["tcp", conn, bytearray()]
        self.tcp_client = c
        self.clients.append(c)
        self.sel.register(conn, selectors.EVENT_READ, ("client", c))

    def _drop_tcp(self):
        c = self.tcp_client
        if c is None:
            return
        self.tcp_client = None
        if c in self.clients:
            self.clients.remove(c)
        try:
            self.sel.unregister(c[1])
        except (KeyError, ValueError):
            pass
        c[1].close()

    def _client_read(self, c):
        try:
            if c[0] == "pty":
                data = os.read(c[1], 65536)
            else:
                data = c[1].recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            if c[0] == "tcp":
                self._drop_tcp()
            return
        self.client_input(data)

    # ---- the firmware's event log (for the view and the timeline) ------------------------
    def _check_log(self):
        logdir = os.path.join(self.flash, "log")
        if not os.path.isdir(logdir):
            return
        try:
            from pumpmon import alarms as A
            from pumpmon import eventlog as L
            recs, _bad = L.read_all(logdir, _HostFlash())
        except Exception:  # a log being written: next time
            return
        new = [r for r in recs if r[2][3] > self.log_seen]
        for _seg, _off, f in sorted(new, key=lambda r: r[2][3]):
            code, cond, detail, seq, up_s, up_ms = f[0], f[1], f[2], f[3], f[4], f[5]
            self.log_seen = max(self.log_seen, seq)
            row = {"event": L.NAMES.get(code, str(code)), "seq": seq, "up_s": up_s}
            vm = self.vm
            # when it happened: the board's uptime counts from about its first
            # sensor read (the Runner starts then); else when it was seen
            world = None
            if vm is not None and vm.first_read is not None:
                world = vm.first_read + up_s * 1000 + up_ms
                if world > self.world_ms():
                    world = None
            if cond != L.NO_COND and 0 <= cond < len(A.TABLE):
                kind, prio, cause = A.TABLE[cond]
                row["alarm"] = A.KIND_NAMES[kind]
                row["cause"] = cause
            if code == L.BOOT:
                row["reset_cause"] = L.RESET_CAUSES[detail] if detail < len(L.RESET_CAUSES) \
                    else str(detail)
            elif detail and detail < len(A.DETAIL_NAMES) and code < 16:
                row["detail"] = A.DETAIL_NAMES[detail]
            self.alarm_events.append(dict(row, world_ms=self.world_ms() if world is None
                                          else world))
            self.note("event", world, **row)

    # ---- the loop -----------------------------------------------------------------------
    def start(self):
        self.spawn("normal", "power_on")

    def wait_ready(self, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.step(0.02)
            if self.vm is not None and self.vm.hello:
                return True
        return False

    def step(self, timeout=0.02):
        vm = self.vm
        now = time.monotonic()
        if self.power_on_at is not None and now >= self.power_on_at and not self.stopping:
            self.power_on_at = None
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
            what, arg = key.data
            if what == "vm_out":
                if self._backlog() > 262144:
                    continue            # clients behind: the board's output waits
                try:
                    data = os.read(arg.master, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    self.vm_output(data)
                else:
                    try:
                        self.sel.unregister(arg.master)
                    except (KeyError, ValueError):
                        pass
            elif what == "client":
                self._client_read(arg)
            elif what == "hw_accept":
                self._hw_accept()
            elif what == "hw_new":
                self._hw_new(arg)
            elif what == "hw_data":
                if arg is self.vm and arg.data is not None:
                    self._hw_data(arg)
            elif what == "hw_ctl":
                if arg is self.vm and arg.ctl is not None:
                    self._hw_ctl(arg)
            elif what == "ctl_accept":
                self._ctl_accept()
            elif what == "ctl_conn":
                self._ctl_conn(arg)
            elif what == "tcp_accept":
                self._tcp_accept()
            elif what == "wake":
                try:
                    os.read(self._wake_r, 4096)
                except OSError:
                    pass
            elif what == "stdin":
                arg()
        for c in self.clients:
            if c[2]:
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
            limit = max(vm.wdt_ms / 1000.0 / self.speed, self.watchdog_floor) + 0.1
            if time.monotonic() - vm.fed > limit:
                self.hard_reset("watchdog")
        self._pump(self.world_ms())
        now = time.monotonic()
        if now - self.log_check > 0.5:
            self.log_check = now
            self._check_log()
        if self.timeline:
            self.timeline.flush()

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


class _HostFlash:
    """pumpmon.eventlog's file operations on the host folder."""

    def open(self, path, mode):
        return open(path, mode)

    def listdir(self, path):
        return os.listdir(path)


def fmt_t(ms):
    if ms is None:
        return "-"
    s = ms // 1000
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


# ---- control client (tests, scripts) -------------------------------------------------------
def control(path, line, timeout=5.0):
    """Send one line to a running board's control socket; its reply."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall((line + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf.decode().strip()
    finally:
        s.close()


# ---- the terminal view -----------------------------------------------------------------------
class LiveView:
    """One status line redrawn on a terminal; plain lines otherwise."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0

    def __call__(self, board):
        now = time.monotonic()
        if not self.tty or now - self.last < 0.1:
            return
        self.last = now
        cur = board.current
        if cur is not None:
            lv = "-" if cur[1] is None else "%.2f mL" % (cur[1] / 1000.0)
            fl = "-" if cur[2] is None else "%.1f uL/h" % (cur[2] / 10.0)
        else:
            lv = fl = "-"
        w = board.world_ms()
        t = board.trace_t(w)
        vm = board.vm
        state = "off" if vm is None else ("raw REPL" if board.raw else "running")
        if board.trace is not None and board.trace_world0 is None:
            state += ", trace waits for the firmware's first sensor read"
        led = board.led or "-"
        faults = ",".join("%s=%s" % kv for kv in board.world_faults.items()) or "none"
        line = "t=%s level %s flow %s | LED %s | buzzer %s | %s | faults %s" % (
            fmt_t(t), lv, fl, _led_mark(led), ("%d Hz" % board.tone) if board.tone else "-",
            state, faults)
        self.stream.write("\r\x1b[K" + line[:200])
        self.stream.flush()

    def message(self, text):
        if self.tty:
            self.stream.write("\r\x1b[K" + text + "\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _led_mark(name):
    codes = {"red": "31", "green": "32", "yellow": "33"}
    c = codes.get(name)
    return "\x1b[%sm●\x1b[0m %s" % (c, name) if c else name


# ---- the command ------------------------------------------------------------------------------
def add_arguments(p):
    sub = p.add_subparsers(dest="board_cmd", metavar="SUBCOMMAND")
    sub.required = True
    s = sub.add_parser("serve", help="run a virtual board until stopped (SIGINT/SIGTERM)",
                       description="Run a virtual MicroPython board (the unix port) that "
                       "mpremote talks to. First line of output: the endpoints.")
    s.add_argument("--pty", metavar="PATH", help="symlink to the board's serial pty "
                   "(default /tmp/pumpmon-vboard-UID/ttyACM0)")
    s.add_argument("--socket", metavar="PORT", type=int, default=0,
                   help="serve socket://127.0.0.1:PORT too (0: any free port, -1: none)")
    s.add_argument("--flash", metavar="DIR", help="the board's flash: a host folder "
                   "(default: a new temporary folder)")
    s.add_argument("--flash-size", metavar="BYTES", type=int, default=1048576,
                   help="flash size (default 1 MiB; 4 KiB blocks as littlefs)")
    s.add_argument("--trace", metavar="FILE", help="sensor trace to play (trace format v1)")
    s.add_argument("--speed", metavar="X", type=float, default=1.0,
                   help="board time runs X times real time (default 1)")
    s.add_argument("--timeline", metavar="FILE", help="write every buzzer/LED change, "
                   "reset, fault and log event here (JSON Lines)")
    s.add_argument("--fault", metavar="T:FAULT", action="append", default=[],
                   help="apply FAULT at T trace seconds: " + FAULT_HELP)
    s.add_argument("--control", metavar="PATH", help="control socket path (faults, status)")
    s.add_argument("--heap", default="512K", help="MicroPython heap (default 512K)")
    s.add_argument("--exit-at-end", action="store_true",
                   help="stop when the trace has played")
    s.add_argument("--quiet", action="store_true", help="only the first line")
    c = sub.add_parser("ctl", help="send a fault or 'status' to a running board",
                       description="Send a command to a running virtual board.")
    c.add_argument("--control", metavar="PATH", required=True)
    c.add_argument("line", nargs="+", help="a fault (%s), 'status' or 'stop'" % FAULT_HELP)


def run(args):
    if args.board_cmd == "ctl":
        try:
            print(control(args.control, " ".join(args.line)))
        except OSError as e:
            print("pumpmon board ctl: %s: %s" % (args.control, e), file=sys.stderr)
            return 2
        return 0
    return serve(args)


def serve(args):
    from host_tools.formats.trace import TraceError
    tmp_flash = None
    flash = args.flash
    if not flash:
        tmp_flash = flash = tempfile.mkdtemp(prefix="pumpmon-flash-")
    view = LiveView() if not args.quiet else None
    if args.fault and not args.trace:
        print("pumpmon board serve: --fault needs --trace (its times are trace times)",
              file=sys.stderr)
        return 2
    try:
        board = VirtualBoard(
            flash, pty_path=args.pty, tcp_port=args.socket, flash_size=args.flash_size,
            trace=args.trace, speed=args.speed, timeline=args.timeline, faults=args.fault,
            control=args.control, heap=args.heap, exit_at_end=args.exit_at_end,
            display=view)
    except (UsageError, TraceError, OSError) as e:
        print("pumpmon board serve: %s" % e, file=sys.stderr)
        return 2
    stop = []

    def on_signal(signum, frame):
        stop.append(signum)
        board.wake()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    keys = _Keys(board) if (view and sys.stdin.isatty()) else None
    try:
        board.start()
        if not board.wait_ready():
            print("pumpmon board serve: the MicroPython VM did not start", file=sys.stderr)
            return 1
        print(board.endpoints_line(), flush=True)
        if view:
            board.log = view.message
        if keys:
            keys.start()
            view.message("keys: p short press, a long press, h hang, r reset, c power cut, "
                         "s/o flow silent/ok, f/g flash fail/ok, q quit")
        board.serve(lambda: bool(stop) or (keys is not None and keys.quit))
    finally:
        if keys:
            keys.stop()
        board.close()
        for s, h in old.items():
            signal.signal(s, h)
        if view and view.tty:
            sys.stdout.write("\n")
        if tmp_flash:
            shutil.rmtree(tmp_flash, ignore_errors=True)
    return 0


class _Keys:
    def __init__(self, board):
        self.board = board
        self.quit = False
        self.old = None

    def start(self):
        fd = sys.stdin.fileno()
        self.old = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self.board.sel.register(fd, selectors.EVENT_READ, ("stdin", self.read))

    def read(self):
        ch = os.read(sys.stdin.fileno(), 16).decode(errors="ignore")
        for c in ch:
            if c == "q":
                self.quit = True
            elif c in KEYS:
                self.board.apply_fault(KEYS[c])

    def stop(self):
        if self.old is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.old)
            self.old = None
