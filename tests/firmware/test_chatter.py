# Issue 28: a flapping carers' link (a broker that accepts and drops every
# 0.5 s) wrote a carer_link record at every up and down and rotated every
# alarm out of the event log in about 40 minutes. The chatter limiter
# (pumpmon/chatter.py, docs/log-format.md "Chatter") holds such records back
# and summarises them, and a log segment takes at most SEG_BUDGET of them, so
# the evidence outlives any amount of chatter. These tests drive the
# firmware's link-record path (Runner.write(CARER_LINK), what carerlink calls)
# at the flapping broker's rate; tests/vboard has the real link against a
# flapping broker on loopback. Runs on CPython and the unix ports.
from fakeboard import FakeBoard
from test_eventlog import _rmtree, _tmpdir, in_tmpdir

from pumpmon import alarms as A
from pumpmon import chatter as C
from pumpmon import eventlog as L
import logread
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.manager import EV_ACKNOWLEDGED, EV_CLEARED, EV_CONDITION_CLEARED, EV_RAISED
from pumpmon.runner import Runner

import sys

# CPython runs the full day; the unix ports (several times slower a step)
# a shorter stretch of the same path (`make soak` style: the code is the same)
ON_MP = sys.implementation.name == "micropython"
HOURS = 2 if ON_MP else 24
SEEDS = 2 if ON_MP else 6
RND_HOURS = 2 if ON_MP else 6
UP = 4                      # carerlink.link.STATES: down, network, connecting, mqtt_connect, up
EVIDENCE = (EV_RAISED, EV_ACKNOWLEDGED, EV_CLEARED, L.CONFIG, L.MONITORING_STOPPED,
            L.INTERRUPTED, L.BOOT)


def _runner(d, segments=8, seg_bytes=16384, t0=-20000):
    b = FakeBoard(ticks_add(0, t0))
    r = Runner(b, Config({"rate_ul_h": 30}), flash=d, rec_segments=0,
               log_segments=segments, log_seg_bytes=seg_bytes)
    return r, b


def _records(d):
    return [x for x in logread.read_all(d + "/log")[0]]


def _evidence(r):
    """Records of every kind that must outlive chatter: an alarm episode,
    the configuration, a service stop (written as the firmware writes them)."""
    r.on_event(EV_RAISED, A.NO_FLOW, 0)
    r.on_event(EV_ACKNOWLEDGED, A.NO_FLOW, 0)
    r.on_event(EV_CLEARED, A.NO_FLOW, 0)
    r.on_event(EV_RAISED, A.INTERNAL, A.D_CONFIG)
    r.note_config(r.cfg)
    r.write(L.MONITORING_STOPPED, L.NO_COND, 1, 0)


def _flap(r, b, seconds, every_ms=500, errno=104):
    """The flapping broker: the link goes up and drops every every_ms (one
    carer_link record at each change), with the main loop passing between."""
    n = seconds * 1000 // every_ms
    state = 0
    written = 0
    i = 0
    while i < n:
        state = UP if state != UP else 0
        r.write(L.CARER_LINK, L.NO_COND, state, 0 if state == UP else errno, 1)
        written += 1
        r.step()
        b.t = ticks_add(b.t, every_ms)
        i += 1
        if not i % 7200:                     # the fake board's output history: an
            b.tones = b.tones[-4:]           # hour of it is enough (a port's 4 MB heap)
            b.leds = b.leds[-4:]
    return written


def _check_segments(d, per_seg, kinds=1):
    """Every segment: at most SEG_BUDGET - SEG_RESERVE carer_link records,
    and at most SEG_BUDGET chatter records but for one records_held of each
    kind every LONG_S of the time the segment spans."""
    per = {}
    for seg, _off, f in _records(d):
        c = per.setdefault(seg, [0, 0, f[4], f[4]])
        if f[0] == L.CARER_LINK:
            c[0] += 1
        if f[0] in L.CHATTER:
            c[1] += 1
        c[3] = f[4]
    for seg in per:
        link, chat, s0, s1 = per[seg]
        assert link <= C.SEG_BUDGET - C.SEG_RESERVE, (seg, per[seg])
        assert chat <= C.SEG_BUDGET + kinds * ((s1 - s0) // C.LONG_S + 1), (seg, per[seg])
    return per


def _held_total(d):
    return sum(f[8] for _s, _o, f in _records(d) if f[0] == L.RECORDS_HELD)


@in_tmpdir("chat24")
def test_a_day_of_flapping_broker_keeps_every_alarm_and_few_link_records(d):
    """req: R-067"""
    r, b = _runner(d)
    _evidence(r)
    before = [f for _s, _o, f in _records(d) if f[0] in EVIDENCE]
    raised = [f for f in before if f[0] == EV_RAISED]
    assert len(raised) == 2
    written = _flap(r, b, HOURS * 3600)  # 172 800 link changes in 24 h
    # it settles: the last summary a minute later
    i = 0
    while i < 70:
        r.step()
        b.t = ticks_add(b.t, 1000)
        i += 1
    recs = [f for _s, _o, f in _records(d)]
    for f in before:                     # every alarm_raised (and the rest) still there
        assert f in recs, f
    links = [f for f in recs if f[0] == L.CARER_LINK]
    per = _check_segments(d, r.log.ring.per_seg)
    assert len(links) <= len(per) * (C.SEG_BUDGET - C.SEG_RESERVE), len(links)
    # nothing is lost from the count: written + held back = every change
    assert r.store.chatter.link.held == 0
    assert len(links) + _held_total(d) == written, (len(links), _held_total(d), written)
    held = [f for f in recs if f[0] == L.RECORDS_HELD]
    assert held and held[-1][2] == L.CARER_LINK and held[-1][1] == L.NO_COND
    assert r.log.lost == 0 and not r.monitor.internal


@in_tmpdir("chatsmall")
def test_a_small_log_keeps_its_evidence_under_weeks_of_chatter(d):
    # a log of 4 segments of 48 records: the per-segment budget, not the
    # rate limit, is what keeps the evidence. 40 days of a flapping link (at a
    # change a minute, well under the rate limit: every one of them would be
    # written without the budget) beside the hourly status: the evidence
    # written first is there as long as fewer than 3 x (48 - 16) other records
    # came after it, i.e. 96 hours of status records; then it may go
    """req: R-067"""
    r, b = _runner(d, segments=4, seg_bytes=48 * L.REC)
    _evidence(r)
    first = [f for _s, _o, f in _records(d) if f[0] in EVIDENCE]
    state = 0
    hours = 0
    while hours < 90:                    # 90 hours: 90 status records
        m = 0
        while m < 60:
            state = UP if state != UP else 0
            r.write(L.CARER_LINK, L.NO_COND, state, 0 if state == UP else 111, 1)
            r.up_s += 60                 # the loop's minute, without its 60 passes
            r.store.chatter.tick()
            m += 1
        r.write(L.SNAPSHOT, L.NO_COND, 0, 1, 2, 3, 4)
        hours += 1
    recs = [f for _s, _o, f in _records(d)]
    for f in first:
        assert f in recs, (f, hours)
    _check_segments(d, r.log.ring.per_seg)


def test_random_chatter_never_takes_more_than_its_share_and_counts_everything():
    # random schedules of link flapping (bursts and quiet spells), evidence
    # records and a sensor flapping under a latched alarm, on a small log:
    # per segment the budget holds; every link change is either written or
    # counted in a records_held; the newest evidence always survives
    """req: R-067"""
    import random
    for seed in range(SEEDS):
        rnd = random.Random(seed) if hasattr(random, "Random") else None
        if rnd is None:                      # MicroPython: the module's generator
            random.seed(seed)
            rnd = random
        d = _tmpdir("chatrnd")
        try:
            r, b = _runner(d, segments=3, seg_bytes=40 * L.REC)
            state = 0
            tries = 0
            evid = []
            t = 0
            burst = 0
            while t < RND_HOURS * 3600:
                if burst <= 0 and rnd.randrange(600) == 0:
                    burst = rnd.randrange(10, 900)       # seconds of flapping
                if burst > 0:
                    burst -= 1
                    k = rnd.randrange(4)
                    while k > 0:
                        state = UP if state != UP else 0
                        r.write(L.CARER_LINK, L.NO_COND, state, 0, 1)
                        tries += 1
                        k -= 1
                if rnd.randrange(1200) == 0:
                    r.on_event(EV_RAISED, A.LEVEL_SENSOR, 0)
                    evid.append(r.log.seq - 1)
                    j = rnd.randrange(40)                # its condition flaps
                    while j > 0:
                        r.on_event(EV_CONDITION_CLEARED, A.LEVEL_SENSOR, 0)
                        j -= 1
                    r.on_event(EV_ACKNOWLEDGED, A.LEVEL_SENSOR, 0)
                    r.on_event(EV_CLEARED, A.LEVEL_SENSOR, 0)
                r.step()
                b.t = ticks_add(b.t, 1000)
                t += 1
            i = 0
            while i < 120:                               # it settles
                r.step()
                b.t = ticks_add(b.t, 1000)
                i += 1
            r.up_s += C.LONG_S                           # every summary written, even
            r.store.chatter.tick()                             # where a segment's share is used
            recs = _records(d)
            _check_segments(d, r.log.ring.per_seg, 2)
            assert r.store.chatter.link.held == 0 and r.store.chatter.again.held == 0
            links = len([1 for _s, _o, f in recs if f[0] == L.CARER_LINK])
            link_held = sum(f[8] for _s, _o, f in recs
                            if f[0] == L.RECORDS_HELD and f[2] == L.CARER_LINK)
            if recs[0][2][3] == 1:           # nothing rotated out yet: exact count
                assert links + link_held == tries, (seed, links, link_held, tries)
            seqs = [f[3] for _s, _o, f in recs]
            if evid:                         # the newest alarm_raised is there
                assert evid[-1] in seqs, (seed, evid[-1], seqs[:3])
        finally:
            _rmtree(d)


@in_tmpdir("chatsens")
def test_a_sensor_flapping_under_a_latched_alarm_is_summarised(d):
    """req: R-067"""
    r, b = _runner(d)
    r.on_event(EV_RAISED, A.FLOW_SENSOR, A.D_SILENT)
    i = 0
    while i < 500:                       # the condition clears again and again
        r.on_event(EV_CONDITION_CLEARED, A.FLOW_SENSOR, 0)
        r.step()
        b.t = ticks_add(b.t, 1000)
        i += 1
    while i < 600:
        r.step()
        b.t = ticks_add(b.t, 1000)
        i += 1
    recs = [f for _s, _o, f in _records(d)]
    cc = [f for f in recs if f[0] == EV_CONDITION_CLEARED]
    held = [f for f in recs if f[0] == L.RECORDS_HELD]
    assert 1 <= len(cc) <= C.SEG_BUDGET - C.SEG_RESERVE, len(cc)
    assert len(cc) + sum(f[8] for f in held) == 500
    assert held[-1][1] == A.FLOW_SENSOR and held[-1][2] == EV_CONDITION_CLEARED
    # a new episode (acknowledged, cleared) logs its first condition_cleared again
    r.on_event(EV_ACKNOWLEDGED, A.FLOW_SENSOR, 0)
    r.on_event(EV_RAISED, A.FLOW_SENSOR, A.D_SILENT)
    n = len([1 for _s, _o, f in _records(d) if f[0] == EV_CONDITION_CLEARED])
    r.on_event(EV_CONDITION_CLEARED, A.FLOW_SENSOR, 0)
    assert len([1 for _s, _o, f in _records(d) if f[0] == EV_CONDITION_CLEARED]) == n + 1


@in_tmpdir("chatboot")
def test_the_segment_count_survives_a_reset(d):
    """req: R-067"""
    r, b = _runner(d)
    _flap(r, b, 3 * 3600 + 600)          # 4 link records, then a summary an hour
    n = r.log.ring.chat
    assert n == C.PER_MIN + 3, n
    r.log.close()
    r2, b2 = _runner(d, t0=5000)
    assert r2.log.ring.chat == n
    _flap(r2, b2, 600)
    _check_segments(d, r2.log.ring.per_seg)
