# The board's persistent memory on its own (firmware/pumpmon/store.py): a
# Store driven by a stand-in for the Runner (only what store.py says it
# uses: the board, the monitor, the uptime, the board's clock and the event
# path), then the Runner's wiring (the log's sink first, the collaborators
# main.py attaches). Records are checked by name through the log's reader
# (EventLog.records). Real files in a temporary directory; runs on CPython
# and on the MicroPython unix ports.
import os

from fakeboard import FakeBoard
from test_eventlog import FailingFlash, _rmtree, _tmpdir, in_tmpdir

from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon import store as ST
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.manager import EV_RAISED
from pumpmon.monitor import Monitor

NO_FLOW = 1 << A.NO_FLOW
INTERNAL = 1 << A.INTERNAL
CFG = {"rate_ul_h": 30}


class Loop:
    """What a Store uses of the Runner, and nothing else."""

    def __init__(self, board):
        self.board = board
        self.up_s = 0
        self.up_ms = 0
        self.store = None
        self.events = []
        self.monitor = Monitor(Config(CFG), board.ticks_ms(), self.on_event)

    def wall_now(self):
        return 0

    def on_event(self, code, cond, detail):
        self.events.append((code, cond, detail))
        if self.store is not None:
            self.store.sink(code, cond, detail, self)


def _store(d, cause="power_on", fs=None):
    b = FakeBoard(ticks_add(0, -20000))
    b.cause = cause
    lp = Loop(b)
    st = ST.Store(lp, d, 4, 16 * L.REC, fs)
    lp.store = st
    st.start(0)                 # no recording
    return lp, st


def _records(log):
    """(code, cond, detail, v0, v1, v2) of every valid record, by name."""
    return [(r.code, r.cond, r.detail, r.v0, r.v1, r.v2) for r in log.records() if r.ok]


def _codes(log):
    return [r[0] for r in _records(log)]


@in_tmpdir("store1")
def test_boot_restores_the_latched_alarm_from_the_state_file(d):
    """req: R-024"""
    lp, st = _store(d)
    assert st.boot == ("power_on", L.STATE_NONE) and lp.monitor.manager.shown == 0
    lp.monitor.manager.shown = NO_FLOW      # latched when the board resets
    st.save_state()
    st.log.close()
    lp2, st2 = _store(d, "watchdog")
    mg = lp2.monitor.manager
    assert st2.boot == ("watchdog", L.STATE_OK)
    assert mg.shown & NO_FLOW and mg.shown & INTERNAL   # back, and the reset is a fault
    assert (EV_RAISED, A.INTERNAL, A.D_WATCHDOG) in lp2.events
    boots = [r for r in _records(st2.log) if r[0] == L.BOOT]
    assert boots[-1] == (L.BOOT, L.NO_COND, L.reset_code("watchdog"), NO_FLOW, 0,
                         L.STATE_OK)
    assert L.INTERRUPTED in _codes(st2.log)
    st2.log.close()


@in_tmpdir("store2")
def test_a_lost_state_file_brings_the_alarms_back_from_the_last_record(d):
    """req: R-036"""
    lp, st = _store(d)
    lp.monitor.manager.shown = NO_FLOW
    st.write(L.SNAPSHOT, L.NO_COND, 0, 1, 2, 3, 4)   # carries shown
    assert ST.last_shown(st.log) == NO_FLOW
    st.log.close()
    os.remove(d + "/state.bin")
    lp2, st2 = _store(d)
    assert st2.boot == ("power_on", L.STATE_NONE)
    assert lp2.monitor.manager.shown & NO_FLOW
    assert lp2.monitor.manager.shown & INTERNAL      # state_missing says why
    st2.log.close()


@in_tmpdir("store3")
def test_the_store_fault_latch_raises_and_clears_with_the_next_good_write(d):
    """req: R-036"""
    fs = FailingFlash()
    lp, st = _store(d, fs=fs)
    m = lp.monitor
    assert not m.internal
    fs.full = 1
    assert not st.write(L.SNAPSHOT)
    assert m.internal and m.internal_detail == A.D_LOG
    fs.full = 0
    lp.up_s = 59
    st.tick(0)                              # not yet: retried a minute later
    assert m.internal and st.log.lost == 1
    lp.up_s = 60
    st.tick(0)
    assert not m.internal and st.log.lost == 0
    resumed = [r for r in _records(st.log) if r[0] == L.LOG_RESUMED]
    assert resumed and resumed[-1][3] == 1 and resumed[-1][4] == 28   # 1 lost, ENOSPC
    st.log.close()


@in_tmpdir("store4")
def test_tick_logs_faults_once_a_minute_and_the_status_hourly_without_bursts(d):
    lp, st = _store(d)
    for _ in range(3):
        st.count_fault(A.D_OUTPUT)
    lp.up_s = 1
    st.tick(0)
    st.count_fault(A.D_OUTPUT)
    lp.up_s = 30
    st.tick(0)
    lp.up_s = 61
    st.tick(0)
    faults = [r for r in _records(st.log) if r[0] == L.FAULT]
    assert faults == [(L.FAULT, L.NO_COND, A.D_OUTPUT, 3, 0, 0),
                      (L.FAULT, L.NO_COND, A.D_OUTPUT, 1, 0, 0)]
    lp.up_s = 3600
    st.tick(0)
    lp.up_s = 3 * 3600 + 5                  # the loop fell far behind
    st.tick(0)
    st.tick(0)
    lp.up_s = 4 * 3600
    st.tick(0)                              # the next one an hour after the late one
    assert _codes(st.log).count(L.SNAPSHOT) == 2
    lp.up_s = 4 * 3600 + 1
    st.tick(1)
    assert _codes(st.log)[-1] == L.REFILL_START
    st.log.close()


def _flip_last(log):
    """Damage the newest record on flash (its CRC no longer matches)."""
    log.close()
    p = log.ring.file(log.ring.segments()[-1])
    with open(p, "rb") as f:
        data = bytearray(f.read())
    data[-1] ^= 0xFF
    with open(p, "wb") as f:
        f.write(data)


@in_tmpdir("store5")
def test_the_bad_config_latch_reads_the_records_by_name(d):
    log = L.EventLog(d + "/log", 4, 16 * L.REC)
    assert ST.bad_config_latch(log) == 0    # nothing latched
    log.append(EV_RAISED, A.INTERNAL, A.D_CONFIG)
    assert ST.bad_config_latch(log) == 1
    log.append(L.BOOT, L.NO_COND, L.reset_code("power_on"), v2=L.STATE_OK)
    assert ST.bad_config_latch(log) == 1    # an expected reset: still only bad_config
    log.append(L.BOOT, L.NO_COND, L.reset_code("power_on"), v2=L.STATE_NONE)
    assert ST.bad_config_latch(log) == 0    # the state file was lost meanwhile
    log.append(EV_RAISED, A.INTERNAL, A.D_CONFIG)
    log.append(L.BOOT, L.NO_COND, L.reset_code("watchdog"), v2=L.STATE_OK)
    assert ST.bad_config_latch(log) == 0
    log.append(EV_RAISED, A.INTERNAL, A.D_CONFIG)
    log.append(L.FAULT, L.NO_COND, A.D_EXCEPTION, 1)
    assert ST.bad_config_latch(log) == 0
    log.append(EV_RAISED, A.INTERNAL, A.D_CONFIG)
    log.append(L.SNAPSHOT)
    assert ST.bad_config_latch(log) == 1
    _flip_last(log)                         # a damaged record: it cannot tell
    assert ST.bad_config_latch(log) == 0


@in_tmpdir("store6")
def test_records_gives_every_field_by_name(d):
    log = L.EventLog(d + "/log", 4, 3 * L.REC)
    log.append(L.SNAPSHOT, 7, 200, 100000, 999, 0x1234, 1767225600, -5, 6, 7, L.UNKNOWN)
    log.append(EV_RAISED, A.NO_FLOW, 0, 1, 2, 3)
    log.append(L.CONFIG)
    log.append(L.REFILL_END, v0=42)       # the next segment
    got = []
    for r in log.records():
        got.append((r.ok, r.seg, r.code, r.seq))
        if r.code == L.SNAPSHOT:
            assert (r.cond, r.detail, r.up_s, r.up_ms, r.shown, r.wall) == (
                7, 200, 100000, 999, 0x1234, 1767225600)
            assert (r.v0, r.v1, r.v2, r.v3) == (-5, 6, 7, L.UNKNOWN)
    assert got == [(1, 1, L.SNAPSHOT, 1), (1, 1, EV_RAISED, 2), (1, 1, L.CONFIG, 3),
                   (1, 2, L.REFILL_END, 4)]
    assert [r.code for r in log.records([2])] == [L.REFILL_END]
    _flip_last(log)
    assert [r.ok for r in log.records()] == [1, 1, 1, 0]


class _Quiet:
    """A console with nothing to read."""
    line = bytearray(4)

    def read_line(self):
        return 0


class _Polled:
    def __init__(self):
        self.polls = 0
        self.seen = []

    def poll(self):
        self.polls += 1

    def on_event(self, code, cond, detail, runner):
        self.seen.append(code)


def test_the_runner_wires_the_log_first_and_what_main_attaches_after_it():
    from pumpmon import service as S
    from pumpmon.runner import Runner
    d = _tmpdir("store7")
    try:
        b = FakeBoard(ticks_add(0, -20000))
        r = Runner(b, Config(CFG), flash=d, rec_segments=0)
        order = []

        def sink(code, cond, detail, runner):
            # the log's sink ran first: the event is on flash already
            last = [x for x in runner.log.records() if x.ok][-1]
            order.append(("sink", code, last.code))

        r.add_sink(sink)
        link = _Polled()
        r.attach_carer(link)
        svc = S.Service(r, console=_Quiet())
        assert r.service is None                # nothing attaches itself
        r.attach_service(svc)
        assert r.service is svc and r.carer is link
        r.on_event(EV_RAISED, A.NO_FLOW, 0)
        assert order == [("sink", EV_RAISED, EV_RAISED)] and link.seen == [EV_RAISED]
        r.run(3)
        assert link.polls == 3                  # polled every pass
        r.log.close()
    finally:
        _rmtree(d)
