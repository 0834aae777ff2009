# The console service channel (firmware/pumpmon/service.py) on a fake board
# and a fake console: reads never pause monitoring, every request gets an
# answer, a service request and Ctrl-C are logged and leave the board
# sounding. Runs on CPython and on the MicroPython unix port.
import binascii

from fakeboard import FakeBoard
from test_eventlog import _read, _rmtree, _tmpdir, in_tmpdir

from pumpmon import alarms as A
from pumpmon import eventlog as L
import logread
from pumpmon import patterns as P
from pumpmon import service as S
from pumpmon import servicehold as H
from pumpmon.clock import ticks_add, ticks_diff
from pumpmon.config import Config
from pumpmon.runner import Runner


class FakeConsole(S.Console):
    """Console input the test queues; replies collected as lines."""

    def __init__(self):
        self.inbuf = bytearray()
        self.pos = 0
        self.text = ""
        S.Console.__init__(self, stream=self, out=self, poll=self._poll)

    def _poll(self, timeout):
        return ((self, 1),) if self.pos < len(self.inbuf) else ()

    def readinto(self, b):
        b[0] = self.inbuf[self.pos]
        self.pos += 1
        return 1

    def send(self, data):
        self.inbuf += data

    def write(self, text):       # the Console writes here (out=self)
        self.text += text

    def replies(self):
        out = []
        for line in self.text.split("\n"):
            r = S.parse_reply(line)
            if r is not None:
                out.append(r)
        self.text = ""
        return out


def _setup(d, client=True):
    b = FakeBoard(ticks_add(0, -20000))
    r = Runner(b, Config({"rate_ul_h": 30}), flash=d, rec_segments=4,
               rec_seg_bytes=200 * 10)
    c = None
    if client:
        c = FakeConsole()
        r.attach_service(S.Service(r, c, root=d))
    return b, r, c


def _pull(r, c, d, path_dir="log"):
    """A client's log pull over the channel, one request per pass: the
    segment list, then every segment in chunks. {name: bytes}."""
    c.send(S.request("ls", "ls", path_dir))
    r.run(2)
    rid, ok, payload = c.replies()[-1]
    assert rid == "ls" and ok, payload
    files = {}
    for item in payload.split():
        name, size = item.split(":")
        data = b""
        off = 0
        while True:
            c.send(S.request("r%d" % off, "read", path_dir + "/" + name, off, 300))
            r.run(2)
            rid, ok, p = c.replies()[-1]
            assert ok and rid == "r%d" % off, p
            parts = p.split(" ")
            k = int(parts[2])
            if not k:
                break
            data += binascii.a2b_base64(parts[3])
            off += k
        files[name] = data
    return files


def test_request_and_reply_lines():
    assert S.request("7", "read", "log/ev00000001.bin", 0, 512) == \
        b"PM 7 read log/ev00000001.bin 0 512\n"
    assert S.parse_reply(b"#PM 7 OK 40 0 0 \r\n") == ("7", True, "40 0 0 ")
    assert S.parse_reply("#PM x ERR bad_path z") == ("x", False, "bad_path z")
    assert S.parse_reply("#S 12 18000 300 0 0 0") is None
    assert S.parse_reply("PM 7 status") is None
    for bad in (("a b", "status"), ("1", "read", "x\ny")):
        try:
            S.request(*bad)
        except ValueError:
            pass
        else:
            raise AssertionError(bad)
    assert S.valid_path("log/ev00000001.bin") and S.valid_path("config.json")
    for p in ("log/../state.bin", "/etc/passwd", "log/ev1.bin", "rec/ev00000001.bin",
              "main.py", "log/", "x/ev00000001.bin"):
        assert not S.valid_path(p), p


def test_reads_never_pause_monitoring_and_status_answers_while_alarming():
    # the same stop, without and with a client that pulls the whole log and
    # asks the status every 30 s of board time: the alarm comes at the same
    # moment and the sound is the same, pass for pass
    """req: R-038"""
    runs = []
    for client in (False, True):
        d = _tmpdir("svc")
        try:
            b, r, c = _setup(d, client)
            raised = []

            def sink(code, cond, detail, runner, raised=raised):
                if code == 1:
                    raised.append((runner.up_s, runner.up_ms, cond))
            r.add_sink(sink)
            statuses = []
            t0 = b.t
            for sec in range(23 * 60):
                if sec == 11 * 60:
                    b.flow = 0                 # the drug stops
                if client and sec % 30 == 0:
                    c.send(S.request("st", "status"))
                    r.run(1)
                    rid, ok, payload = c.replies()[-1]
                    assert rid == "st" and ok
                    statuses.append((sec, payload))
                    files = _pull(r, c, d)
                    for name in files:         # what the client got is the file
                        assert files[name] == _read(d + "/log/" + name)[:len(files[name])]
                while ticks_diff(b.t, t0) < (sec + 1) * 1000:
                    r.run(1)                   # the same passes at the same times
            runs.append((raised, list(b.tones), statuses, r.monitor.manager.shown))
        finally:
            _rmtree(d)
    (raised0, tones0, _s0, shown0), (raised1, tones1, statuses, shown1) = runs
    assert raised0 and raised0[0][2] == A.NO_FLOW
    assert raised1 == raised0                  # on time: the same second and ms
    assert tones1 == tones0                    # no gap in the sound, no change at all
    assert shown1 == shown0 == 1 << A.NO_FLOW
    alarming = [p for s, p in statuses if s > raised0[0][0]]
    assert alarming and all('"alarms":["no_flow/low_flow"]' in p for p in alarming)
    assert all('"monitoring":true' in p for s, p in statuses)
    # at 0 s nothing is judged yet: no alarm, the steady yellow "starting" light
    assert '"alarms":[]' in statuses[0][1] and '"led":"yellow"' in statuses[0][1]
    assert any('"alarms":[]' in p and '"led":"green"' in p for s, p in statuses)


@in_tmpdir("svc2")
def test_log_and_recording_pulled_over_the_channel_equal_the_files(d):
    """req: R-038"""
    b, r, c = _setup(d)
    r.run(100 * 60 * 5)
    got = _pull(r, c, d, "log")
    assert got and sorted(got) == sorted(
        n for n in __import__("os").listdir(d + "/log"))
    for name in got:
        assert got[name] == _read(d + "/log/" + name)
    rec = _pull(r, c, d, "rec")
    assert rec
    for name in rec:
        assert rec[name] == _read(d + "/rec/" + name)
    c.send(S.request("cf", "read", "config.json", 0))
    r.run(2)
    assert c.replies()[-1][:2] == ("cf", False)   # no config.json in this folder
    with open(d + "/config.json", "w") as f:
        f.write('{"rate_ul_h": 30}')
    c.send(S.request("cf", "read", "config.json", 0))
    r.run(2)
    rid, ok, p = c.replies()[-1]
    assert ok and binascii.a2b_base64(p.split(" ")[3]) == b'{"rate_ul_h": 30}'


@in_tmpdir("svc3")
def test_bad_requests_get_an_error_and_never_an_alarm(d):
    """req: R-038"""
    b, r, c = _setup(d)
    r.run(100 * 20)
    c.send(b"PM 1 launch missiles\n")
    c.send(b"PM 2 read ../../etc/passwd 0\n")
    c.send(b"PM 3 read log/ev00000001.bin x\n")
    c.send(b"PM 4 read log/ev00000001.bin -5 10\n")
    c.send(b"PM 5 ls /\n")
    c.send(b"PM 6 service reboot-now\n")
    c.send(b"PM waytoolongid status\n")
    c.send(b"PM " + b"x" * 300 + b"\n")           # over-long: dropped whole
    c.send(b"PM 7 read log/ev00000001.bin 0 99999\n")
    c.send(b"hello board\r\n\xff\xfe\x80 PM\n\n\r")  # stray bytes: ignored
    c.send(b"PM \xff\xfe status\n")
    c.send(b"PM 8 status\r\n")
    r.run(100 * 5)
    rep = c.replies()
    ids = [x[0] for x in rep]
    assert ids[:6] == ["1", "2", "3", "4", "5", "6"], rep
    assert all(not ok for _i, ok, _p in rep[:7])
    assert rep[0][2].startswith("unknown_verb")
    assert rep[1][2].startswith("bad_path") and rep[4][2].startswith("bad_path")
    assert rep[6][0] == "?"
    size, off, k = [int(x) for x in rep[7][2].split(" ")[:3]]
    assert rep[7][0] == "7" and k == min(size, S.CHUNK)   # capped at a chunk
    assert rep[-2] == ("?", False, "bad_request PM ID VERB [ARG ...]")
    assert rep[-1][0] == "8" and rep[-1][1] and len(rep) == 10
    assert r.service.errors == 0            # every case handled, none by accident
    assert r.monitor.manager.shown == 0 and not r.stop and b.tone == 0


def _run_to_ctrl_c(r):
    try:
        r.run()
    except KeyboardInterrupt:
        return
    raise AssertionError("Ctrl-C must reach the REPL")


def _records(d):
    recs, bad = logread.read_all(d + "/log")
    return [f for _s, _o, f in recs], bad


@in_tmpdir("svc4")
def test_service_request_logs_the_stop_and_sounds_until_the_reset(d):
    """req: R-038"""
    b, r, c = _setup(d)
    r.run(100 * 30)
    c.send(S.request("sv", "service", "flash"))
    # the monitor stops and waits for the host's Ctrl-C (service.hold),
    # which comes 2 s later, in the hold's sleep: not a second stop record
    seen = []
    real_sleep = b.sleep_ms

    def sleep_ms(ms):
        real_sleep(ms)
        if r.stop:
            seen.append((b.tone, b.led))
            if len(seen) == 200:
                raise KeyboardInterrupt
    b.sleep_ms = sleep_ms
    _run_to_ctrl_c(r)
    assert r.stop == S.STOP_SERVICE
    assert c.replies()[-1] == ("sv", True, "service flash")
    assert b.tone == P.SERVICE_TONE and b.led == P.SERVICE_LED
    assert set(seen) == {(P.SERVICE_TONE, P.SERVICE_LED)}   # held all through
    recs, bad = _records(d)
    last = recs[-1]
    assert last[0] == L.MONITORING_STOPPED and last[2] == S.STOP_SERVICE
    assert last[8] == S.SERVICE_WHY.index("flash") and not bad
    # the next boot (the reset that ends service) logs as usual after it
    r2 = Runner(FakeBoard(), Config({"rate_ul_h": 30}), flash=d)
    recs, bad = _records(d)
    k = recs.index(last)              # then the boot (and what it logs)
    assert recs[k + 1][0] == L.BOOT and recs[k + 1][3] == last[3] + 1
    assert not bad and r2.log.ring.damaged == 0


class _CtrlCBoard(FakeBoard):
    """Ctrl-C arrives in the loop's sleep at a given time (a board raises
    KeyboardInterrupt wherever the code is)."""

    def __init__(self, t0, after_ms):
        FakeBoard.__init__(self, t0)
        self.left = after_ms

    def sleep_ms(self, ms):
        FakeBoard.sleep_ms(self, ms)
        self.left -= ms
        if self.left == 0:
            raise KeyboardInterrupt


@in_tmpdir("svc5")
def test_ctrl_c_is_logged_and_the_board_keeps_sounding(d):
    """req: R-038"""
    b = _CtrlCBoard(ticks_add(0, -20000), 13 * 60 * 1000)
    r = Runner(b, Config({"rate_ul_h": 30}), flash=d)
    r.attach_service(S.Service(r, FakeConsole(), root=d))
    _run_to_ctrl_c(r)
    assert r.stop == S.STOP_INTERRUPT
    assert b.tone == P.SERVICE_TONE and b.led == P.SERVICE_LED   # never silent
    recs, bad = _records(d)
    assert recs[-1][0] == L.MONITORING_STOPPED and recs[-1][2] == S.STOP_INTERRUPT
    assert 13 * 60 - 1 <= recs[-1][4] <= 13 * 60 and not bad


class _CutFile:
    def __init__(self, fs, f):
        self.fs = fs
        self.f = f

    def write(self, data):
        if self.fs.cut:
            self.fs.cut = 0
            self.f.write(bytes(data)[:13])   # part of the record, then Ctrl-C
            self.f.flush()
            raise KeyboardInterrupt
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.f.close()


class _CutFlash(L.Flash):
    cut = 0

    def open(self, path, mode):
        f = open(path, mode)
        return f if "r" in mode else _CutFile(self, f)


@in_tmpdir("svc6")
def test_ctrl_c_in_the_middle_of_a_log_write_never_misaligns_the_log(d):
    """req: R-038"""
    fs = _CutFlash()
    b = FakeBoard(ticks_add(0, -20000))
    r = Runner(b, Config({"rate_ul_h": 30}), flash=d, fs=fs, rec_segments=0)
    r.run(100 * 10)
    fs.cut = 1
    try:
        r.write(L.SNAPSHOT, L.NO_COND, 0, 1, 2, 3, 4)
    except KeyboardInterrupt:
        H.stop_interrupted(r)
    recs, bad = _records(d)
    assert recs[-1][0] == L.MONITORING_STOPPED, recs[-1]
    assert [x[0] for x in recs[:2]] == [L.BOOT, L.CONFIG] or recs[0][0] == L.BOOT
    assert len(bad) == 1                # the cut record, reported, nothing else
    seqs = [x[3] for x in recs]
    assert seqs == sorted(seqs)


@in_tmpdir("svc7")
def test_an_abandoned_service_request_resumes_monitoring_by_itself(d):
    # issue 28: one line, "PM s1 service other", from a client that then
    # disappears: the monitor stops (logged, service indication) and, nobody
    # taking the REPL within service.HOLD_S, monitors again: logged
    # (monitoring_resumed service_timeout), monitoring_interrupted shown, and
    # a stop of the drug afterwards raises no_flow as usual
    """req: R-069"""
    b, r, c = _setup(d)
    r.run(100 * 11 * 60)                 # the flow window filled
    assert r.monitor.manager.shown == 0
    c.send(b"PM s1 service other\n")
    t_req = b.t
    stopped = []
    real_sleep = b.sleep_ms

    def sleep_ms(ms):
        real_sleep(ms)
        if r.stop:
            stopped.append(b.t)
    b.sleep_ms = sleep_ms
    r.run(100 * 5)
    assert c.replies()[-1] == ("s1", True, "service other")
    assert r.stop == 0                   # back: run() went on
    held_ms = ticks_diff(stopped[-1], stopped[0])
    assert H.HOLD_S * 1000 - 20 <= held_ms <= H.HOLD_S * 1000, held_ms
    recs, bad = _records(d)
    codes = [x[0] for x in recs]
    k = codes.index(L.MONITORING_STOPPED)
    assert codes[k + 1] == L.MONITORING_RESUMED, codes[k:]
    res = recs[k + 1]
    assert res[2] == H.RESUME_TIMEOUT and res[8] == H.HOLD_S and not bad
    assert res[9] == S.SERVICE_WHY.index("other")
    assert res[4] - recs[k][4] in (H.HOLD_S - 1, H.HOLD_S, H.HOLD_S + 1)  # its own time
    assert r.monitor.manager.shown & (1 << A.INTERRUPTED)
    n_leds = len(b.leds)
    n_tones = len(b.tones)
    r.run(100 * 60)
    # no longer the steady service indication: the patterns play again
    # (monitoring_interrupted sounds; the light: starting, flow not judged)
    assert len(b.tones) > n_tones + 2 and b.leds[-1][1] == P.YELLOW and n_leds
    after = [x for x in _records(d)[0][k + 2:] if x[0] == 1]
    assert [x[1] for x in after] == [A.INTERRUPTED], after   # nothing misjudged
    # monitoring for real: the flow stops, no_flow within its window
    b.flow = 0
    t0 = b.t
    r.run(100 * 11 * 60)
    raised = [x for x in _records(d)[0] if x[0] == 1 and x[1] == A.NO_FLOW]
    assert raised, "no_flow not raised after the service mode ended"
    assert ticks_diff(b.t, t_req) > 0 and ticks_diff(b.t, t0) > 0
    assert r.service.errors == 0
