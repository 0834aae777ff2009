# The virtual board (pumpmon board serve) driven by unmodified mpremote, the
# real unix port and the real firmware: every mpremote command the issue
# names, resets, the flash size limit, faults, the monitor raising no_flow and
# malfunction from a trace (from the recorded timeline), the watchdog.
import hashlib
import os
import re
import signal
import subprocess
import time

import pytest

from host_tools.vboard.control import control

from tests.support import ROOT
from tests.vboard_helpers import MPREMOTE, _flash_firmware, _trace


# ---- mpremote's commands ------------------------------------------------------------------------
def test_fs_commands_run_exec_sha256sum_over_the_pty(start_board, tmp_path):
    b = start_board()
    data = bytes(range(256)) * 40 + b"\x03\x04\r\n\x18" * 50   # Ctrl-C/D, CR/LF, 0x18 inside
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    b.mp("fs", "mkdir", ":lib")
    b.mp("fs", "cp", str(src), ":lib/blob.bin")
    assert (b.flash / "lib" / "blob.bin").read_bytes() == data     # on the board's flash
    out = b.mp("fs", "ls", ":lib").stdout.decode()
    assert re.search(r"\b%d blob.bin" % len(data), out), out
    r = b.mp("sha256sum", ":lib/blob.bin").stdout.decode()
    assert hashlib.sha256(data).hexdigest() in r
    back = tmp_path / "back.bin"
    b.mp("fs", "cp", ":lib/blob.bin", str(back))
    assert back.read_bytes() == data
    (tmp_path / "hello.txt").write_text("one\ntwo\n")
    b.mp("fs", "cp", str(tmp_path / "hello.txt"), ":hello.txt")
    assert b.mp("fs", "cat", ":hello.txt").stdout.decode().replace("\r\n", "\n").endswith(
        "one\ntwo\n")
    b.mp("fs", "rm", ":lib/blob.bin")
    assert not (b.flash / "lib" / "blob.bin").exists()
    assert "blob.bin" not in b.mp("fs", "ls", ":lib").stdout.decode()
    out = b.mp("exec", "import os; print(sorted(os.listdir('/')), os.getcwd())").stdout
    assert b"['hello.txt', 'lib'] /" in out         # the flash is the whole filesystem
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint('ran', sys.platform, 6 * 7)\n")
    assert b"ran linux 42" in b.mp("run", str(script)).stdout
    # an error on the board is mpremote's error
    r = b.mp("exec", "raise ValueError('boom')", check=False)
    assert r.returncode != 0 and b"ValueError: boom" in r.stdout + r.stderr


def test_socket_endpoint_and_mount(start_board, tmp_path):
    b = start_board()
    assert b.socket.startswith("socket://127.0.0.1:")
    assert b"via socket 3" in b.mp("exec", "print('via socket', 1 + 2)", port=b.socket).stdout
    # a lot of output at once: nothing lost on either endpoint (flow control)
    for port in (b.socket, b.port):
        out = b.mp("exec", "print('x' * 200000)", port=port).stdout
        assert out.count(b"x") == 200000
    b.mp("fs", "cp", str(ROOT / "README.md"), ":readme.txt", port=b.socket)
    assert (b.flash / "readme.txt").read_bytes() == (ROOT / "README.md").read_bytes()
    local = tmp_path / "local"
    local.mkdir()
    (local / "mod_on_host.py").write_text("VALUE = 'from the host'\n")
    (local / "data.bin").write_bytes(bytes(range(256)))
    out = b.mp("mount", str(local), "exec",
               "import mod_on_host, os\nprint(mod_on_host.VALUE, os.getcwd())\n"
               "d = open('data.bin', 'rb').read()\nprint(len(d), d == bytes(range(256)))\n"
               "open('made_on_board.txt', 'w').write('x' * 1000)").stdout
    assert b"from the host /remote" in out and b"256 True" in out
    assert (local / "made_on_board.txt").read_text() == "x" * 1000


def test_soft_reset_stays_in_raw_repl_and_keeps_files(start_board):
    from mpremote.transport_serial import SerialTransport
    b = start_board()
    b.mp("exec", "open('keep.txt', 'w').write('kept')")
    t = SerialTransport(b.port, baudrate=115200)
    try:
        t.enter_raw_repl(soft_reset=False)
        t.exec("x = 5")
        assert t.eval("x") == 5
        pid1 = b.status()["vm"]["pid"]
        t.serial.write(b"\x04")                  # Ctrl-D at the raw prompt: soft reset
        data = t.read_until(1, b"raw REPL; CTRL-B to exit\r\n", timeout=10)
        assert data.endswith(b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n"), data
        # still raw: exec works with no Ctrl-A; a new VM (x is gone), same flash
        assert t.eval("'x' in globals()") is False
        assert t.eval("open('keep.txt').read()") == "kept"
        assert t.eval("__import__('machine').reset_cause()") == 5      # SOFT_RESET
        assert b.status()["vm"]["pid"] != pid1
        # Ctrl-B: the friendly REPL, with a board's banner
        t.exit_raw_repl()
        data = t.read_until(1, b">>> ", timeout=10)
        assert b'Type "help()" for more information.' in data
    finally:
        t.close()
    r = b.mp("soft-reset")
    assert r.returncode == 0
    assert b"kept" in b.mp("exec", "print(open('keep.txt').read())").stdout


def test_hard_reset_runs_boot_then_main(start_board, tmp_path):
    b = start_board()
    boot = tmp_path / "boot.py"
    boot.write_text("open('order.txt', 'a').write('boot ')\n")
    main = tmp_path / "main.py"
    main.write_text("import machine, time\n"
                    "open('order.txt', 'a').write('main:%d ' % machine.reset_cause())\n"
                    "while True:\n    time.sleep_ms(50)\n")
    b.mp("fs", "cp", str(boot), ":boot.py")
    b.mp("fs", "cp", str(main), ":main.py")
    order = b.flash / "order.txt"
    if order.exists():
        order.unlink()
    b.mp("reset")                        # machine.reset(): a new VM, boot.py then main.py
    b.wait(lambda: order.exists() and "main" in order.read_text(), 20, "main.py after reset")
    # mpremote soft-resets first (boot.py only: raw REPL), then machine.reset()
    # (boot.py, then main.py, with HARD_RESET as the cause)
    assert order.read_text() == "boot boot main:2 "
    # main.py loops forever: mpremote interrupts it (Ctrl-C), as on a board
    assert b"ok" in b.mp("exec", "print('ok')").stdout
    assert any(r["kind"] == "reset" and r["cause"] == "hard" for r in b.timeline())


def test_flash_size_limit_gives_enospc(start_board, tmp_path):
    b = start_board(flash_size=64 * 1024)            # 16 blocks of 4 KiB
    out = b.mp("exec", "import os\nprint(os.statvfs('/'))").stdout.decode()
    assert "(4096, 4096, 16, 14," in out
    r = b.mp("exec", "f = open('big.bin', 'wb')\n"
             "try:\n"
             "    for i in range(100):\n"
             "        f.write(bytes(1024))\n"
             "except OSError as e:\n"
             "    print('errno', e.errno, 'after', i)\n"
             "f.close()").stdout.decode()
    assert "errno 28 after 56" in r, r           # 14 free blocks = 56 KiB
    assert (b.flash / "big.bin").stat().st_size == 14 * 4096
    # a copy that does not fit fails; removing frees the space again
    big = tmp_path / "big2.bin"
    big.write_bytes(os.urandom(30000))
    r = b.mp("fs", "cp", str(big), ":big2.bin", check=False)
    assert r.returncode != 0
    b.mp("fs", "rm", ":big.bin")
    b.mp("fs", "rm", ":big2.bin", check=False)
    b.mp("fs", "cp", str(big), ":big2.bin")
    assert (b.flash / "big2.bin").read_bytes() == big.read_bytes()
    # the limit holds across a reset (the usage is counted again at boot)
    b.mp("soft-reset")
    r = b.mp("exec", "import os\nprint(os.statvfs('/')[3])").stdout.decode()
    assert int(r.split()[-1]) == 14 - 8


# Each `mpremote exec` soft-resets the board: a new VM, which the host then
# sends the faults in force and then the trace row in force, in that order.
# Wait (up to 5 min of board time) until the row is there, so the faults are
# too; a loaded machine can take longer than any fixed sleep.
LINKED = ("import simhw, time\nl = simhw.link\nfor _ in range(600):\n    l.read_flow()\n"
          "    if l.read_level() is not None:\n        break\n    time.sleep_ms(500)\n")


def test_faults_on_demand(start_board, tmp_path):
    cfg = _trace(tmp_path / "t.csv", duration_s=3000, level_every_s=1)
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "20")
    read = LINKED + "print(l.read_flow(), l.read_level(), l.flow_flags())"
    base = b.mp("exec", read).stdout.decode().split()
    assert base[0] != "None" and base[1] != "None"     # the trace plays into the sensors
    for spec, want in (("flow=silent", "None"), ("flow=range", "999990"),
                       ("level=range", "250000")):
        assert control(b.control, spec) == "ok"
        out = b.mp("exec", read).stdout.decode().split()
        assert want in out, (spec, out)
    assert control(b.control, "flow=air") == "ok"
    assert b.mp("exec", read).stdout.decode().split()[2] == "1"
    assert control(b.control, "flow=ok") == "ok"
    assert control(b.control, "level=ok") == "ok"
    assert control(b.control, "bogus").startswith("error: bad fault")
    # the button, held and released (resume: no soft reset in between)
    # (the board takes the change at its next poll: wait up to 100 s of board time)
    btn = ("import simhw, time\nfor _ in range(400):\n    if simhw.link.button() == %d:\n"
           "        break\n    time.sleep_ms(250)\nprint(simhw.link.button())")
    assert control(b.control, "button=hold") == "ok"
    assert b.mp("resume", "exec", btn % 1).stdout.split() == [b"1"]
    assert control(b.control, "button=release") == "ok"
    assert b.mp("resume", "exec", btn % 0).stdout.split() == [b"0"]
    # board time is virtual: a sleep of 20 s is 20 s of board time exactly,
    # however loaded the machine; --speed 20 is a ceiling: no less than 1 s
    t0 = time.monotonic()
    out = b.mp("exec", "import time\na = time.ticks_ms()\ntime.sleep_ms(20000)\n"
               "print(time.ticks_diff(time.ticks_ms(), a))").stdout
    took = time.monotonic() - t0
    assert int(out.split()[-1]) == 20000, out
    assert 1.0 <= took < 10, took
    # flash faults
    write = LINKED + ("try:\n    open('f.txt', 'w').write('abc')\n"
                      "    print('wrote')\nexcept OSError as e:\n    print('errno', e.errno)")
    assert control(b.control, "flash=fail") == "ok"
    assert b"errno 5" in b.mp("exec", write).stdout
    assert control(b.control, "flash=full") == "ok"
    assert b"errno 28" in b.mp("exec", write).stdout
    assert control(b.control, "flash=ok") == "ok"
    assert b"wrote" in b.mp("exec", write).stdout
    # a power cut in the middle of a flash write: 10 bytes reach the flash
    assert control(b.control, "cut-after=10") == "ok"
    # (mpremote waits for the end of its exec: it would wait forever, as on a
    # board whose power went; a real board's USB port vanishes instead)
    p = subprocess.Popen([MPREMOTE, "connect", b.port, "exec",
                          LINKED + "f = open('cut.bin', 'wb')\n"
                          "f.write(bytes(range(100)))\nf.close()"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        b.wait(lambda: any(r["kind"] == "power" and r["what"] == "on" for r in b.timeline()),
               20, "power back on")
    finally:
        p.kill()
        p.wait()
    assert (b.flash / "cut.bin").read_bytes() == bytes(range(10))
    boots = [r for r in b.timeline() if r["kind"] == "boot"]
    assert boots[-1]["cause"] == "power_on"
    assert b"power_on" in b.mp("resume", "exec",
                               "import simhw\nprint(simhw.link.reset_cause())").stdout
    assert cfg


def _durations(rows, kind, key, start, end):
    """[(value, duration ms)] of a signal between two world times."""
    sel = [r for r in rows if r["kind"] == kind]
    out = []
    for a, nxt in zip(sel, sel[1:]):
        if start <= a["world_ms"] and nxt["world_ms"] <= end:
            out.append((a[key], nxt["world_ms"] - a["world_ms"]))
    return out


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def test_monitor_on_the_board_plays_no_flow_then_malfunction(start_board, tmp_path):
    # normal delivery, a stop at 300 s (no_flow after the 2-minute window),
    # delivery back at 480 s, a long press at 640 s (acknowledges the latched
    # alarm), the flow sensor silent from 760 s (malfunction)
    cfg = _trace(tmp_path / "t.csv", duration_s=900, factor=[(300, 0.0), (480, 1.0)],
                 button=[(640, 3)], flow_fault=("silent", 760))
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "40")
    _flash_firmware(b, cfg, tmp_path)
    b.wait(lambda: b.status()["trace_done"], 90, "the trace to end")
    rows = b.timeline()
    ev = [r for r in rows if r["kind"] == "event"]
    raised = [(r["alarm"], r["cause"], r["t_ms"]) for r in ev if r["event"] == "alarm_raised"]
    nf = [r for r in raised if r[:2] == ("no_flow", "low_flow")]
    mf = [r for r in raised if r[:2] == ("malfunction", "flow_sensor")]
    assert nf and mf, raised
    assert 300000 < nf[0][2] < 300000 + 200000
    assert 760000 < mf[0][2] < 760000 + 30000
    ack = [r for r in ev if r["event"] == "alarm_cleared" and r.get("alarm") == "no_flow"]
    assert ack and 640000 <= ack[0]["t_ms"] < 660000
    t0 = rows[0]["world_ms"]
    w_nf = next(r["world_ms"] for r in ev if r["event"] == "alarm_raised"
                and r["alarm"] == "no_flow")
    w_ack = ack[0]["world_ms"]
    w_mf = next(r["world_ms"] for r in ev if r["event"] == "alarm_raised"
                and r["alarm"] == "malfunction")
    end = rows[-1]["world_ms"]
    assert t0 < w_nf
    # no_flow: red 2 Hz 50 % (250 ms on), melody C5 D4 G4 - C5 D4
    led = _durations(rows, "led", "colour", w_nf, w_ack)
    red_on = [d for c, d in led if c == "red"]
    assert len(red_on) > 20 and 180 <= _median(red_on) <= 320, led[:20]
    tones = _durations(rows, "tone", "hz", w_nf, w_ack)
    assert {hz for hz, d in tones if hz} == {523, 294, 392}
    assert 100 <= _median([d for hz, d in tones if hz]) <= 220
    # malfunction: red short blips (140 ms on, 560 off), melody C5 C4 C4 - C5 C4
    led = _durations(rows, "led", "colour", w_mf, end)
    red_on = [d for c, d in led if c == "red"]
    off = [d for c, d in led if c == "off"]
    assert len(red_on) > 20 and 90 <= _median(red_on) <= 200 and _median(off) >= 450, led[:20]
    tones = _durations(rows, "tone", "hz", w_mf, end)
    assert {hz for hz, d in tones if hz} == {523, 262}
    # start-up: steady yellow until the flow is judged (issue 11), then before
    # the stop: steady green, silent
    leds = [r for r in rows if r["kind"] == "led" and r["t_ms"] is not None]
    assert leds and leds[0]["colour"] == "yellow", leds[:3]
    green = [r for r in leds if r["colour"] == "green"]
    assert green and green[0]["t_ms"] <= 60000, leds[:3]
    quiet = [r for r in rows if r["kind"] in ("led", "tone") and r["world_ms"] < w_nf - 5000
             and r["t_ms"] is not None and r["world_ms"] >= green[0]["world_ms"]]
    assert quiet and all(r.get("colour", "green") == "green" and r.get("hz", 0) == 0
                         for r in quiet)


@pytest.mark.req("R-033")
def test_watchdog_resets_a_hung_firmware_and_the_alarm_returns(start_board, tmp_path):
    # the flow sensor is silent from 30 s: malfunction; the firmware hangs at
    # 200 s; the watchdog resets the board; the monitor comes back and sounds
    cfg = _trace(tmp_path / "t.csv", duration_s=600, flow_fault=("silent", 30))
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "20", "--fault", "200:hang")
    _flash_firmware(b, cfg, tmp_path)
    b.wait(lambda: any(r["kind"] == "reset" and r["cause"] == "watchdog"
                       for r in b.timeline()), 60, "the watchdog reset")
    # (the board notes the reset, stops the VM, then starts one: the boot line follows)
    b.wait(lambda: any(r["kind"] == "boot" and r["cause"] == "watchdog"
                       for r in b.timeline()), 30, "the boot after the watchdog reset")
    rows = b.timeline()
    w_reset = next(r["world_ms"] for r in rows if r["kind"] == "reset")
    hang = next(r for r in rows if r["kind"] == "fault" and r["spec"] == "hang")
    assert hang["t_ms"] == 200000
    # not fed for the watchdog's 8 s of board time, counted from the last feed:
    # the firmware's pass before the hang (its loop sleeps 10 ms), exactly
    assert 8000 - 10 <= w_reset - hang["world_ms"] <= 8000, w_reset - hang["world_ms"]
    boot = [r for r in rows if r["kind"] == "boot" and r["world_ms"] >= w_reset]
    assert boot and boot[0]["cause"] == "watchdog" and boot[0]["mode"] == "normal"
    # the firmware comes up again (watchdog reset cause in its log) and the alarm sounds again
    b.wait(lambda: any(r["kind"] == "event" and r["event"] == "boot"
                       and r.get("reset_cause") == "watchdog" for r in b.timeline()), 30,
           "the firmware's boot record after the watchdog reset")
    b.wait(lambda: any(r["kind"] == "tone" and r["hz"] and r["world_ms"] > w_reset
                       for r in b.timeline()), 30, "the alarm sound after the reset")
    # (sound and light change in the same tick, but are written one after the other)
    b.wait(lambda: any(r["kind"] == "led" and r["colour"] == "red" and r["world_ms"] > w_reset
                       for r in b.timeline()), 30, "the red light after the reset")
    rows = b.timeline()
    before = [r for r in rows if r["kind"] == "led" and r["colour"] == "red"
              and r["world_ms"] < hang["world_ms"]]
    after = [r for r in rows if r["kind"] == "led" and r["colour"] == "red"
             and r["world_ms"] > w_reset]
    assert before and after


def test_a_crashed_vm_comes_back(start_board):
    b = start_board()
    b.mp("exec", "open('x.txt', 'w').write('still here')")
    pid = b.status()["vm"]["pid"]
    os.kill(pid, signal.SIGKILL)              # the VM dies under the board
    b.wait(lambda: b.status()["vm"] is not None and b.status()["vm"]["pid"] != pid
           and b.status()["vm"]["hello"], 10, "a new VM")
    assert b"still here" in b.mp("exec", "print(open('x.txt').read())").stdout
    crash = [r for r in b.timeline() if r["kind"] == "crash"]
    assert crash and crash[0]["signal"] == signal.SIGKILL


def test_board_time_is_virtual_and_its_clock_is_the_epoch_given(start_board):
    # an hour of sleep is an hour of board time exactly, at once with
    # --speed max; the wall clock is --epoch plus board time
    b = start_board("--speed", "max", "--epoch", "1800000000")
    t0 = time.monotonic()
    out = b.mp("exec", "import time\na, t = time.time(), time.ticks_ms()\n"
               "time.sleep(3600)\n"
               "print(time.time() - a, time.ticks_diff(time.ticks_ms(), t), time.gmtime()[0])"
               ).stdout.split()
    assert out == [b"3600", b"3600000", b"2027"], out
    assert time.monotonic() - t0 < 30
    assert b.status()["world_ms"] >= 3600000


@pytest.mark.req("R-033")
def test_a_loop_that_never_sleeps_is_reset_by_the_watchdog(start_board, tmp_path):
    # no sleep, no board time: the watchdog would never fire; after 2 s of
    # the VM's CPU time without a request for time the host resets it at the
    # watchdog's deadline
    b = start_board()
    main = tmp_path / "main.py"
    main.write_text("import machine\nw = machine.WDT(timeout=3000)\nwhile True:\n    pass\n")
    b.mp("fs", "cp", str(main), ":main.py")
    control(b.control, "reset")
    b.wait(lambda: any(r["kind"] == "reset" and r["cause"] == "watchdog" for r in b.timeline()),
           60, "the watchdog reset")
    rows = b.timeline()
    armed = [r for r in rows if r["kind"] == "watchdog" and r["what"] == "armed"]
    reset = next(r for r in rows if r["kind"] == "reset" and r["cause"] == "watchdog")
    assert armed and reset["world_ms"] == armed[0]["world_ms"] + 3000
    b.mp("fs", "rm", ":main.py")
