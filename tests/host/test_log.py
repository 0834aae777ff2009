"""`pumpmon log decode`: logs written by the firmware's own writer
(pumpmon.eventlog, and the Runner on a fake board), read back by the host's
independent reader; damage is reported, not fatal."""
import csv
import io
import json
import os
import zlib

import pytest
from fakeboard import FakeBoard

from host_tools.formats import eventlog as logtool
from host_tools.cli import main
from pumpmon import VERSION
from pumpmon import alarms as A
from pumpmon import eventlog as L
import logread
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.runner import Runner


def _seconds(r, n):
    b = r.board
    for _ in range(n * 10):
        r.step()
        b.t = ticks_add(b.t, 100)


@pytest.fixture(scope="module")
def board_log(tmp_path_factory):
    """A log from the Runner: boot, config, no_flow raised, acknowledged, cleared,
    refill, hourly status."""
    d = tmp_path_factory.mktemp("flash")
    b = FakeBoard(ticks_add(0, -20000))
    b.wall = 1790000000
    r = Runner(b, Config({"rate_ul_h": 30}), flash=str(d), rec_segments=0)
    r.note_config(Config({"rate_ul_h": 30}))
    _seconds(r, 11 * 60)
    b.flow = 0
    _seconds(r, 11 * 60)
    b.btn = 1
    _seconds(r, 3)
    b.btn = 0
    b.flow = 300
    _seconds(r, 15 * 60)
    b.refill_mode = 1
    _seconds(r, 5)
    b.refill_mode = 0
    _seconds(r, 30 * 60)
    r.log.close()
    return d / "log"


def _run(capsys, *argv):
    code = main(["log", "decode"] + [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.req("R-029")
def test_table_shows_every_record(board_log, capsys):
    code, out, err = _run(capsys, board_log)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["seq", "uptime", "d+h:m:s"]
    body = lines[1:]
    events = [ln.split()[3] for ln in body]
    # the firmware's identity right after every boot (issue 27)
    assert events[:3] == ["boot", "firmware", "config"]
    assert "firmware=%s manifest=none change=first" % VERSION in body[1], body[1]
    for name in ("alarm_raised", "alarm_acknowledged", "alarm_cleared", "refill_start",
                 "refill_end", "status"):
        assert name in events, name
    raised = [ln for ln in body if " alarm_raised " in ln][0]
    assert "no_flow/low_flow (high)" in raised and "2026-09-21T14:13:20" in raised
    assert "reset_cause=power_on" in body[0]
    assert "problem" in err and " 0 problems" in err


@pytest.mark.req("R-029")
def test_json_lines(board_log, capsys):
    code, out, err = _run(capsys, "--json", board_log)
    assert code == 0
    recs = [json.loads(ln) for ln in out.splitlines()]
    assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
    boot = recs[0]
    assert boot["event"] == "boot" and boot["state_file"] == "none" and boot["uptime_ms"] == 0
    raised = [r for r in recs if r["event"] == "alarm_raised"][0]
    assert (raised["alarm"], raised["priority"], raised["cause"]) == ("no_flow", "high",
                                                                      "low_flow")
    assert raised["programmed_ul_h"] == 30.0 and raised["flow_ul_h"] < 7.5
    assert raised["shown"] == ["no_flow/low_flow"]
    assert 660 * 1000 < raised["uptime_ms"] < 1400 * 1000
    status = [r for r in recs if r["event"] == "status"][0]
    assert status["uptime_ms"] == 3600 * 1000 and status["level_ul"] == 18000
    assert status["days_to_empty"] == 25.0      # 18 mL at 0.72 mL/day
    assert recs[1]["event"] == "firmware" and recs[1]["firmware"] == VERSION
    cfg = recs[2]
    assert cfg["changed"] is True and cfg["daily_ul"] == 720 and cfg["rate_ul_h"] == 30.0
    assert all(r["wall"] == "2026-09-21T14:13:20" for r in recs)


def test_csv(board_log, capsys):
    code, out, err = _run(capsys, "--csv", board_log)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0].keys()) == list(logtool.CSV_COLUMNS)
    assert rows[0]["event"] == "boot" and rows[0]["seq"] == "1"
    raised = [r for r in rows if r["event"] == "alarm_raised"][0]
    assert raised["alarm"] == "no_flow" and raised["cause"] == "low_flow"
    assert "programmed_ul_h=30" in raised["values"]


def _log(tmp_path, n, per_seg=5, segments=8):
    p = tmp_path / "log"
    log = L.EventLog(str(p), segments, per_seg * L.REC)
    for i in range(n):
        assert log.append(1, A.NO_FLOW, 0, i, 0, 1, 0, 1000 + i, 0, 300, 0)
    log.close()
    return p


@pytest.mark.req("R-028")
def test_a_log_from_before_the_firmware_record_decodes(tmp_path, capsys):
    """A log written by a firmware before issue 27 (no `firmware` record after
    its boot records) decodes as before: the same records, no problem; and a
    code this decoder does not know yet is shown with its values, not refused."""
    old = tmp_path / "old"
    old.mkdir()
    log = L.EventLog(str(old), 8, 16384)
    for code, cond, detail, v in ((L.BOOT, L.NO_COND, 1, (0, 0, L.STATE_NONE, 0)),
                                  (L.CONFIG, L.NO_COND, 0, (12345, 1, 720, 300)),
                                  (L.SNAPSHOT, L.NO_COND, 0, (18000, 300, 300, 250)),
                                  (99, L.NO_COND, 0, (1, 2, 3, 4))):
        assert log.append(code, cond, detail, 0, 0, 0, 0, *v)
    log.close()
    code, out, err = _run(capsys, "--json", old)
    assert code == 0, err
    recs = [json.loads(ln) for ln in out.splitlines()]
    assert [r["event"] for r in recs] == ["boot", "config", "status", "code_99"]
    assert recs[0]["state_file"] == "none" and recs[1]["config_crc"] == "00003039"
    assert recs[3]["values"] == [1, 2, 3, 4]


@pytest.mark.req("R-028")
def test_torn_tail_and_corrupt_record_are_reported_not_fatal(tmp_path, capsys):
    p = _log(tmp_path, 12)                  # segments of 5, 5, 2 records
    last = p / L.seg_name(3)
    last.write_bytes(last.read_bytes() + b"\xa5\x01\x00" * 5)   # a write cut after 15 bytes
    mid = p / L.seg_name(2)
    data = bytearray(mid.read_bytes())
    data[2 * L.REC + 9] ^= 0x40             # seq 8 damaged
    mid.write_bytes(bytes(data))
    code, out, err = _run(capsys, "--json", p)
    assert code == 1                        # problems reported: not a whole log
    seqs = [json.loads(ln)["seq"] for ln in out.splitlines()]
    assert seqs == [s for s in range(1, 13) if s != 8]
    assert "ev00000002.bin @80: bad record (checksum)" in err
    assert "1 record missing: seq 8" in err
    assert "ev00000003.bin @80: torn record at the end (15 of 40 bytes)" in err
    assert "11 records, seq 1..12, 3 problems" in err
    # the table says the same in place
    code, out, err = _run(capsys, p)
    assert code == 1
    lines = out.splitlines()
    i = [k for k, ln in enumerate(lines) if "bad record" in ln][0]
    assert lines[i - 1].split()[0] == "7" and lines[i + 2].split()[0] == "9"
    assert "!! ev00000003.bin @80: torn record" in lines[-1]


@pytest.mark.req("R-028")
def test_missing_segment_is_a_gap(tmp_path, capsys):
    p = _log(tmp_path, 14)
    os.remove(p / L.seg_name(2))            # seq 6..10 gone
    code, out, err = _run(capsys, "--csv", p / L.seg_name(1), p / L.seg_name(3))
    assert code == 1
    assert "5 records missing: seq 6..10" in err
    # files given in any order are read in segment order
    code, out2, err2 = _run(capsys, "--csv", p / L.seg_name(3), p / L.seg_name(1))
    assert out2 == out


@pytest.mark.req("R-028")
def test_rotated_log_starts_late_without_complaint(tmp_path, capsys):
    p = _log(tmp_path, 30, per_seg=4, segments=3)
    assert sorted(os.listdir(p)) == [L.seg_name(6), L.seg_name(7), L.seg_name(8)]
    code, out, err = _run(capsys, "--json", tmp_path)   # the folder above log/ works too
    assert code == 0
    seqs = [json.loads(ln)["seq"] for ln in out.splitlines()]
    assert seqs == list(range(21, 31)) and "0 problems" in err


@pytest.mark.req("R-028")
def test_an_unreadable_segment_is_one_problem_and_the_rest_is_decoded(tmp_path, capsys):
    p = _log(tmp_path, 12)                  # segments of 5, 5, 2 records
    os.remove(p / L.seg_name(2))
    (p / L.seg_name(2)).mkdir()             # a folder where segment 2 should be
    code, out, err = _run(capsys, "--json", p)
    assert code == 1 and "Traceback" not in err
    seqs = [json.loads(ln)["seq"] for ln in out.splitlines()]
    assert seqs == [1, 2, 3, 4, 5, 11, 12]
    assert "ev00000002.bin: cannot read this segment" in err
    assert "5 records missing: seq 6..10" in err


@pytest.mark.req("R-028")
def test_a_whole_log_exits_0_and_a_damaged_newest_segment_is_reported(tmp_path, capsys):
    # the firmware keeps a damaged newest segment (docs/log-format.md): the
    # reader reports its records, and the numbers they held are not reused
    p = _log(tmp_path, 7)                   # segments of 5, 2
    code, _out, err = _run(capsys, p)
    assert code == 0 and "7 records, seq 1..7, 0 problems" in err
    seg = p / L.seg_name(2)
    data = bytearray(seg.read_bytes())
    data[9] ^= 0x40
    data[L.REC + 9] ^= 0x40
    seg.write_bytes(bytes(data))
    log = L.EventLog(str(p), 8, 5 * L.REC)  # a boot
    assert log.ring.damaged == 2 and log.append(L.LOG_DAMAGED, 255, 0, 0, 0, 0, 0, 2, 2, 0)
    log.close()
    code, out, err = _run(capsys, "--json", p)
    assert code == 1
    recs = [json.loads(ln) for ln in out.splitlines()]
    assert [r["seq"] for r in recs] == [1, 2, 3, 4, 5, 8]
    assert recs[-1]["event"] == "log_damaged"
    assert err.count("bad record (checksum)") == 2 and "2 records missing: seq 6..7" in err


@pytest.mark.req("R-028")
def test_reader_checks_the_crc_itself(tmp_path):
    # an independent reader: the record's last 4 bytes are zlib's CRC-32 of the first 36
    p = _log(tmp_path, 1)
    data = (p / L.seg_name(1)).read_bytes()
    assert len(data) == 40 and data[0] == 0xA5
    assert int.from_bytes(data[36:], "little") == zlib.crc32(data[:36])
    recs, probs = logtool.parse_segment(p / L.seg_name(1))
    assert len(recs) == 1 and not probs and recs[0].v == (1000, 0, 300, 0)


@pytest.mark.parametrize("what", ["missing", "text", "empty_dir"])
@pytest.mark.req("R-054")
def test_unreadable_input_exits_2_with_one_line(tmp_path, capsys, what):
    if what == "missing":
        target = tmp_path / "nope.bin"
    elif what == "text":
        target = tmp_path / "ev00000001.bin"
        target.write_text("this is not a log, just some text of forty or more bytes\n")
    else:
        target = tmp_path / "empty"
        target.mkdir()
    code, out, err = _run(capsys, target)
    assert code == 2
    assert err.count("\n") == 1 and str(target) in err and "Traceback" not in err


# ---- pull: mpremote's transport (one board session) against the real unix port --------------------------
# A minimal board stand-in: the MicroPython unix port's REPL on a pty, its
# "flash" a folder (its current directory), reached by mpremote through
# socket:// (mpremote opens it with pyserial's serial_for_url). The virtual
# board (`pumpmon board serve`, issue 5) is the full version of this; the
# test below it runs when that command exists.
import pty        # noqa: E402
import select     # noqa: E402
import socket     # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import tty        # noqa: E402

from tests.support import BIN  # noqa: E402


class PtyBoard:
    def __init__(self, flash):
        m, s = pty.openpty()
        tty.setraw(s)               # no \n -> \r\n: a board's USB serial is raw
        self.proc = subprocess.Popen([str(BIN / "micropython")], stdin=s, stdout=s, stderr=s,
                                     cwd=flash, start_new_session=True)
        os.close(s)
        self.m = m
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(2)
        self.srv.settimeout(0.2)
        self.port = "socket://127.0.0.1:%d" % self.srv.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while not self.stop and self.proc.poll() is None:
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            self.connections += 1
            with c:
                while not self.stop:
                    r, _, _ = select.select([c, self.m], [], [], 0.1)
                    if c in r:
                        d = c.recv(4096)
                        if not d:
                            break
                        os.write(self.m, d)
                    if self.m in r:
                        try:
                            d = os.read(self.m, 4096)
                        except OSError:   # the unix port ended (Ctrl-D)
                            return
                        c.sendall(d)

    def close(self):
        self.stop = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.t.join(5)
        self.srv.close()
        os.close(self.m)


@pytest.fixture
def pty_board():
    """Start a PtyBoard on a flash folder: pty_board(flash); each is closed
    after the test, pass or fail."""
    boards = []

    def start(flash):
        boards.append(PtyBoard(str(flash)))
        return boards[-1]
    yield start
    for b in boards:
        b.close()


def test_pull_over_mpremote_from_the_unix_port(tmp_path, capsys, pty_board):
    flash = tmp_path / "flash"
    flash.mkdir()
    log = L.EventLog(str(flash / "log"), 3, 4 * L.REC)
    for i in range(14):                     # rotated: segments 2..4 remain
        assert log.append(17, 255, 0, i * 3600, 0, 0, 0, 18000 - i, 300, 300, 250)
    log.close()
    dest = tmp_path / "pulled"
    dest.mkdir()
    (dest / L.seg_name(1)).write_bytes(b"stale copy of an earlier pull")
    board = pty_board(flash)
    code = main(["log", "pull", "--port", board.port, "--dest", str(dest),
                 "--remote-dir", "log", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    recs = [json.loads(ln) for ln in out.splitlines()]
    assert [r["seq"] for r in recs] == list(range(5, 15))
    assert recs[-1]["level_ul"] == 18000 - 13
    assert sorted(p.name for p in dest.iterdir()) == [L.seg_name(n) for n in (2, 3, 4)]
    for n in (2, 3, 4):                 # byte for byte
        assert (dest / L.seg_name(n)).read_bytes() == (flash / "log" / L.seg_name(n)).read_bytes()
    assert "3 segments copied to" in err
    # then the board is restarted (Ctrl-D at its friendly REPL: the unix port ends),
    # in the same session as the copy
    board.proc.wait(10)
    assert board.connections == 1


def test_status_of_a_board_where_no_monitor_runs_exits_1(tmp_path, capsys, pty_board):
    # the unix port's REPL takes the request line: no monitor answers, and
    # the command says so at once (the REPL's prompt), in one line
    import time
    flash = tmp_path / "flash"
    flash.mkdir()
    board = pty_board(flash)
    t0 = time.monotonic()
    code = main(["status", "--port", board.port])
    out, err = capsys.readouterr()
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "no monitor is running" in err or "no answer" in err, err
    assert time.monotonic() - t0 < 10


def test_pull_reports_a_board_without_a_log(tmp_path, capsys, pty_board):
    flash = tmp_path / "flash"
    flash.mkdir()
    board = pty_board(flash)
    code = main(["log", "pull", "--port", board.port, "--dest", str(tmp_path / "d"),
                 "--remote-dir", "log", "--no-restart"])
    out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert board.port in err


# ---- pull from the virtual board (always in the tree: a board that cannot start fails)
from tests.support import pumpmon as _pumpmon  # noqa: E402
from host_tools.vboard.control import wait_board_ms  # noqa: E402


def _flash_served(proc, tmp_path, tty_link):
    """Wait for a served board's ready line, then flash it (rate 30 uL/h)."""
    assert b"ready" in proc.stdout.readline()
    cfg = tmp_path / "config.json"
    cfg.write_text('{"rate_ul_h": 30}')
    r = _pumpmon("flash", "--port", tty_link, "--config", cfg)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.vboard
@pytest.mark.req("R-028")
def test_pull_from_the_virtual_board(tmp_path):
    import signal
    flash = tmp_path / "flash"
    flash.mkdir()
    tty_link = tmp_path / "tty"
    ctl = tmp_path / "ctl"
    proc = subprocess.Popen([str(BIN / "pumpmon"), "board", "serve", "--flash", str(flash),
                             "--pty", str(tty_link), "--socket", "-1", "--quiet",
                             "--control", str(ctl)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _flash_served(proc, tmp_path, tty_link)
        r = _pumpmon("log", "pull", "--port", tty_link, "--dest", tmp_path / "pulled", "--json")
        assert r.returncode == 0, r.stderr
        recs = [json.loads(ln) for ln in r.stdout.splitlines()]
        boots = [x for x in recs if x["event"] == "boot"]
        assert boots and recs[recs.index(boots[-1]) + 2]["event"] == "config"
        # which firmware runs: the flashed manifest's id, and a flash says what was there
        fw = [x for x in recs if x["event"] == "firmware"]
        assert len(fw) == len(boots) and fw[-1]["firmware"] == VERSION
        flashed = json.loads((flash / "manifest.json").read_text())["version"]
        assert fw[-1]["manifest"] == flashed[:7], fw
        # a fresh board's first log: nothing to compare with (test_bundle.py: a reflash)
        assert fw[0]["change"] == "first", fw
        assert recs[-1]["seq"] == len(recs)   # nothing missing
        assert "does not answer" not in r.stderr   # read through the console channel
        # the pull did not stop the monitor: no monitoring_stopped, no new boot
        wait_board_ms(str(ctl), 2000)          # 2 s of board time, the monitor running
        got, _bad = logread.read_all(str(flash / "log"))
        codes = [x[2][0] for x in got]
        assert codes.count(L.BOOT) == len(boots) and L.MONITORING_STOPPED not in codes
        # a monitor that does not answer (stopped at its REPL by mpremote,
        # Ctrl-C: logged) is read through the REPL, then restarted
        r = subprocess.run([str(BIN / "mpremote"), "connect", str(tty_link), "exec",
                            "print(1)"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        r = _pumpmon("log", "pull", "--port", tty_link, "--dest", tmp_path / "pulled2", "--json")
        assert r.returncode == 0, r.stderr
        assert "does not answer on its console channel" in r.stderr
        recs = [json.loads(ln) for ln in r.stdout.splitlines()]
        stop = [x for x in recs if x["event"] == "monitoring_stopped"]
        assert stop and stop[-1]["detail"] == "interrupted", stop
        rs = _wait_log(flash, lambda rs: len([x for x in rs if x[0] == L.BOOT]) > len(boots),
                       ctl)
        last_boot = [x for x in rs if x[0] == L.BOOT][-1]
        assert last_boot[10] == L.STATE_OK and L.RESET_CAUSES[last_boot[2]] == "soft"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)



def _wait_log(flash, pred, ctl, timeout=60):
    """Until the board's log satisfies pred, checked again as board time
    moves on (the board's `wait`; no wall-clock sleep)."""
    import time
    from host_tools.vboard.control import control
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got, _bad = logread.read_all(str(flash / "log"))
        recs = [x[2] for x in got]
        if pred(recs):
            return recs
        control(str(ctl), "wait 500")
    raise AssertionError("timed out; log: %r" % (recs,))


@pytest.mark.vboard
@pytest.mark.req("R-036")
def test_virtual_board_hang_watchdog_and_full_flash(tmp_path):
    """The firmware on the unix port, end to end: a hang -> watchdog reset ->
    the shown alarm is restored and malfunction/internal (watchdog) raised; a
    full flash loses records, raises internal (log_failure); once the flash
    works again the log resumes and says how many records were lost."""
    import signal
    flash = tmp_path / "flash"
    flash.mkdir()
    tty_link = tmp_path / "tty"
    ctl = tmp_path / "ctl"
    proc = subprocess.Popen([str(BIN / "pumpmon"), "board", "serve", "--flash", str(flash),
                             "--pty", str(tty_link), "--socket", "-1", "--control", str(ctl),
                             "--speed", "10", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)

    def ctl_(*lines):
        r = _pumpmon("board", "ctl", "--control", ctl, *lines, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout

    try:
        _flash_served(proc, tmp_path, tty_link)
        # no trace: the flow sensor is silent, malfunction/flow_sensor is raised
        _wait_log(flash, lambda rs: any(x[0] == 1 and x[1] == A.FLOW_SENSOR for x in rs), ctl)
        ctl_("hang")
        rs = _wait_log(flash, lambda rs: any(x[0] == L.BOOT and x[2] == 3 for x in rs), ctl)
        boot = [x for x in rs if x[0] == L.BOOT][-1]
        assert L.RESET_CAUSES[boot[2]] == "watchdog" and boot[8] & (1 << A.FLOW_SENSOR)
        rs = _wait_log(flash, lambda rs: any(x[0] == 1 and x[1] == A.INTERNAL for x in rs), ctl)
        internal = [x for x in rs if x[0] == 1 and x[1] == A.INTERNAL][-1]
        assert internal[2] == A.D_WATCHDOG
        n_before = len(rs)
        ctl_("flash=full")
        ctl_("button=long")              # acknowledge: events that cannot be written
        # the 3 s hold ends in board time: on a loaded machine the board may run
        # slower than --speed, and a flash=ok sent by the wall clock could come
        # before the acknowledgement (written then, nothing lost: CI saw it)
        wait_board_ms(str(ctl), 4000)
        from pumpmon.manager import EV_ACKNOWLEDGED
        since = [x[2] for x in logread.read_all(str(flash / "log"))[0][n_before:]]
        assert not any(x[0] == EV_ACKNOWLEDGED for x in since), since   # not written
        status = json.loads(ctl_("status"))
        ctl_("flash=ok")
        rs = _wait_log(flash, lambda rs: any(x[0] == L.LOG_RESUMED for x in rs), ctl)
        resumed = [x for x in rs if x[0] == L.LOG_RESUMED][0]
        assert resumed[8] >= 1 and resumed[9] == 28          # lost, ENOSPC
        before = rs[rs.index(resumed) - 1]
        assert resumed[3] == before[3] + resumed[8] + 1   # the gap is exactly the loss
        assert rs.index(resumed) >= n_before
        assert status["vm"]["cause"] == "watchdog"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


@pytest.mark.req("R-025")
def test_decode_shows_monitoring_interrupted_with_its_duration(tmp_path, capsys):
    # issue 12: a power cut of 2 h 5 min on a board with a clock, then a soft
    # reset on one without: the duration, and "unknown" when no clock knows
    b = FakeBoard(ticks_add(0, -20000))
    b.wall = 1790000000
    r = Runner(b, Config({"rate_ul_h": 30}), flash=str(tmp_path), rec_segments=0)
    _seconds(r, 61)
    r.log.close()
    b2 = FakeBoard(5000)
    b2.wall = 1790000000 + 7500
    r2 = Runner(b2, Config({"rate_ul_h": 30}), flash=str(tmp_path), rec_segments=0)
    r2.log.close()
    b3 = FakeBoard(9000)
    b3.cause = "soft"
    Runner(b3, Config({"rate_ul_h": 30}), flash=str(tmp_path), rec_segments=0).log.close()
    code, out, err = _run(capsys, tmp_path / "log")
    assert code == 0
    cuts = [ln for ln in out.splitlines() if " monitoring_interrupted " in ln]
    assert len(cuts) == 2
    assert "off=2h05m00s" in cuts[0] and "reset_cause=power_on" in cuts[0]
    assert "last_alive=2026-09-21T" in cuts[0]
    assert "off=unknown (no clock)" in cuts[1] and "reset_cause=soft" in cuts[1]
    raised = [ln for ln in out.splitlines() if " alarm_raised " in ln]
    assert any("monitoring_interrupted/reset (low)" in ln for ln in raised)


def _config_changes(tmp_path, capsys, old, new):
    """old in use, then new applied at a soft reset: the decoded output and
    its config_changed lines."""
    Runner(FakeBoard(0), old, flash=str(tmp_path), rec_segments=0).note_config(old)
    b = FakeBoard(5000)
    b.cause = "soft"
    r = Runner(b, new, flash=str(tmp_path), rec_segments=0)
    r.note_config(new)
    r.log.close()
    code, out, err = _run(capsys, tmp_path / "log")
    assert code == 0
    return out, [ln for ln in out.splitlines() if " config_changed " in ln]


@pytest.mark.req("R-026")
def test_decode_shows_config_changes_with_old_and_new_values(tmp_path, capsys):
    # issue 12: pumpmon config set rate_ul_h=45 pause_s=60, applied at the soft reset
    old, new = Config({"rate_ul_h": 30}), Config({"rate_ul_h": 45, "pause_s": 60})
    _out, ch = _config_changes(tmp_path, capsys, old, new)
    assert len(ch) == 2
    assert any("setting=rate_ul_h old=30 new=45" in ln for ln in ch), ch
    assert any("setting=pause_s old=120 new=60" in ln for ln in ch), ch


@pytest.mark.req("R-026", "R-047")
def test_decode_shows_the_carers_link_changes_and_never_a_secret(tmp_path, capsys):
    # issue 12 with issue 16's settings: the broker moved, a password given
    net = {"rate_ul_h": 30, "mqtt_host": "10.0.0.2"}
    old = Config(net)
    new = Config(dict(net, mqtt_host="10.0.0.3", mqtt_user="bed", mqtt_password="s3cret-pw",
                      mqtt_port=1884))
    out, ch = _config_changes(tmp_path, capsys, old, new)
    assert any("setting=mqtt_host old=set new=set changed=True" in ln for ln in ch), ch
    assert any("setting=mqtt_password old=unset new=set changed=True" in ln for ln in ch), ch
    assert any("setting=mqtt_user old=unset new=set" in ln for ln in ch), ch
    assert any("setting=mqtt_port old=1883 new=1884" in ln for ln in ch), ch
    assert len(ch) == 4, ch
    raw = b"".join(p.read_bytes() for p in (tmp_path / "log").iterdir())
    assert b"s3cret" not in raw and "s3cret" not in out


# issue 22: over_delivery became an alarm kind of its own; the condition kept
# its index (2), so logs and state files written before still decode and
# restore. These bytes were written by the firmware of commit eecbe58 (the
# last before the change: over_delivery was a malfunction cause there): a
# Runner at 30 uL/h whose flow went to 90 uL/h, its state file and its log
# (boot, alarm_raised over_delivery).
OLD_STATE = "UE1TVAIABAAAAAAAEQAAAAAAAAAAAAAAgMHMxQ=="
OLD_LOG = ("pRD/AQEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAABZn986UBAgACAAAAXAMAAAAABAAAAAAAUEYA"
           "APMBAAAsAQAA+gAAABV1KKY=")


def _old_flash(tmp_path, state=True):
    import base64
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "ev00000001.bin").write_bytes(base64.b64decode(OLD_LOG))
    if state:
        (tmp_path / "state.bin").write_bytes(base64.b64decode(OLD_STATE))
    return tmp_path


@pytest.mark.req("R-058")
def test_a_log_written_before_over_delivery_was_its_own_alarm_decodes(tmp_path, capsys):
    d = _old_flash(tmp_path)
    code, out, err = _run(capsys, d / "log", "--json")
    assert code == 0, err
    recs = [json.loads(line) for line in out.splitlines()]
    raised = [r for r in recs if r["event"] == "alarm_raised"]
    assert [(r["alarm"], r["priority"], r["cause"]) for r in raised] == [
        ("over_delivery", "high", "over_delivery")]


@pytest.mark.req("R-058")
@pytest.mark.parametrize("state", [True, False])
def test_an_old_latched_over_delivery_is_restored_at_boot(tmp_path, state):
    # from the old state.bin, or (state file lost) from the old log's last
    # record (`shown` at offset 14): the alarm comes back, as over_delivery
    d = _old_flash(tmp_path, state)
    b = FakeBoard(ticks_add(0, -20000))
    r = Runner(b, Config({"rate_ul_h": 30}), flash=str(d), rec_segments=0)
    mg = r.monitor.manager
    assert mg.shown & (1 << A.OVER_DELIVERY)
    assert mg.light_kind() == A.KIND_OVER_DELIVERY == A.kind_of(A.OVER_DELIVERY)
    r.log.close()


@pytest.mark.req("R-067")
def test_records_held_is_decoded_with_the_count_and_the_last_error(tmp_path):
    # issue 28: chatter held back (pumpmon/chatter.py) is one record with the count
    from pumpmon import eventlog as L
    log = L.EventLog(str(tmp_path / "log"))
    assert log.append(L.CARER_LINK, L.NO_COND, 0, 5, 0, 0, 0, 104, 1)
    assert log.append(L.RECORDS_HELD, L.NO_COND, L.CARER_LINK, 3600, 0, 0, 0,
                      7196, 3599, 0, 104)
    log.close()
    recs, probs = logtool.decode([str(tmp_path / "log")])
    assert not probs
    d = logtool.to_dict(recs[-1])
    assert d["event"] == "records_held" and d["held_event"] == "carer_link"
    assert d["held"] == 7196 and d["over_s"] == 3599
    assert d["last_link"] == "down" and d["last_error"].startswith("errno 104")
