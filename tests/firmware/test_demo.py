# The alarm demonstration (demo.py, docs/alarm-demo.md): the button sequence,
# refused while an alarm is shown, every alarm in priority order, a real alarm
# ending it in the pass that raises it, monitoring going on underneath (the
# stop raised at the same board time with and without a demonstration), a
# press ending it, the console request. CPython and both unix ports.
from fakeboard import FakeBoard
from harness import go
from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon import demo as D
from pumpmon import patterns as P
from pumpmon import service as S
from pumpmon.config import Config
from pumpmon.runner import Runner

CFG = {"rate_ul_h": 30.0, "reservoir_capacity_ml": 20, "flow_window_s": 120}


class Logged(Runner):
    def write(self, code, cond=L.NO_COND, detail=0, v0=0, v1=0, v2=0, v3=0, sync=False):
        self.logged.append((self.board.t, code, cond, detail, v0))
        return True


def runner():
    b = FakeBoard()
    events = []

    def sink(code, cond, detail, run):
        events.append((b.t, code, cond, detail, 0))
    r = Logged(b, Config(CFG), sinks=[sink])
    r.logged = events                 # the alarm events and the log records, in order
    return r, b


def press(r, b, ms):
    b.btn = 1
    go(r, b, ms)
    b.btn = 0
    go(r, b, 300)


def sequence(r, b):
    for _ in range(D.SHORT_PRESSES):
        press(r, b, 200)
    press(r, b, 2100)


def demos(r):
    return [(d, v0) for _t, code, _c, d, v0 in r.logged if code == L.DEMO]


def test_order_is_by_priority_and_covers_every_kind():
    """req: R-065"""
    assert sorted(D.KINDS) == list(range(len(A.KIND_NAMES)))
    prios = [A.TABLE[c][1] for c in D.CONDS]
    assert prios == sorted(prios)
    assert [A.TABLE[c][0] for c in D.CONDS] == list(D.KINDS)


def test_sequence_plays_every_alarm_in_order_then_ends():
    """req: R-065"""
    r, b = runner()
    go(r, b, 150000)                 # judged: monitoring, no alarm
    assert not r.monitor.manager.shown
    n0 = len(b.tones)
    sequence(r, b)
    assert demos(r) == [(D.START, D.SRC_BUTTON)]
    t0 = b.t
    go(r, b, D.DEMO_MS * len(D.KINDS) + 1000)
    assert demos(r) == [(D.START, D.SRC_BUTTON), (D.END, D.END_DONE)]
    assert not r.demo.active and not r.monitor.manager.shown
    tones = b.tones[n0:]
    # each slot plays its kind's melody: the first note heard in each slot
    for i, k in enumerate(D.KINDS):
        lo = t0 + i * D.DEMO_MS - 400
        first = [hz for t, hz in tones if lo <= t < lo + D.DEMO_MS and hz]
        assert first and first[0] == P.SOUND[k][0], (i, k, first[:3])
        # the light at the slot's start and through it
        at = [c for t, c in b.leds if t <= lo + 400][-1:]
        leds = at + [c for t, c in b.leds if lo + 400 < t < lo + D.DEMO_MS]
        assert P.LIGHT[k][0] in leds, (k, leds)
    assert b.tone == 0 and b.led == P.GREEN       # back to monitoring


def test_too_few_presses_or_too_slow_do_nothing():
    """req: R-065"""
    r, b = runner()
    go(r, b, 150000)
    for _ in range(D.SHORT_PRESSES - 1):
        press(r, b, 200)
    press(r, b, 2100)
    assert demos(r) == [] and not r.demo.active
    for _ in range(D.SHORT_PRESSES):
        press(r, b, 200)
        go(r, b, 4000)               # too slow: outside the 10 s window
    press(r, b, 2100)
    assert demos(r) == [] and not r.demo.active


def test_refused_while_an_alarm_is_shown():
    """req: R-065"""
    r, b = runner()
    go(r, b, 150000)
    b.flow = 0
    go(r, b, 200000)
    assert r.monitor.manager.shown
    assert not r.demo.start(b.t, D.SRC_CONSOLE)
    sequence(r, b)
    assert not r.demo.active
    assert demos(r) and all(d == D.REFUSED for d, _v in demos(r))


def _raised_no_flow(r):
    return [t for t, code, cond, _d, _v in r.logged if code == 1 and cond == A.NO_FLOW]


def test_a_real_alarm_ends_it_in_the_same_pass_and_is_raised_on_time():
    # without a demonstration: when the stop is raised
    """req: R-065"""
    r0, b0 = runner()
    go(r0, b0, 150000)
    b0.flow = 0
    go(r0, b0, 200000)
    t_raise = _raised_no_flow(r0)[0]
    # the same, with a demonstration started 10 s before that
    r, b = runner()
    go(r, b, 150000)
    b.flow = 0
    go(r, b, t_raise - b.t - 10000)
    assert r.demo.start(b.t, D.SRC_CONSOLE)
    while not r.monitor.manager.shown:
        r.step()
        b.sleep_ms(10)
    assert _raised_no_flow(r) == [t_raise]           # monitoring went on underneath
    assert not r.demo.active and demos(r)[-1] == (D.END, D.END_ALARM)
    # the same pass drove the real alarm: its first note and its light
    assert b.tones[-1] == (t_raise, P.SOUND[A.KIND_NO_FLOW][0])
    assert b.led == P.LIGHT[A.KIND_NO_FLOW][0]


def test_a_press_ends_it():
    """req: R-065"""
    r, b = runner()
    go(r, b, 150000)
    r.demo.start(b.t, D.SRC_CONSOLE)
    go(r, b, 3000)
    press(r, b, 100)
    assert not r.demo.active and demos(r)[-1] == (D.END, D.END_PRESS)
    assert not r.monitor.manager.shown and b.tone == 0


class Console(S.Console):
    def __init__(self):
        self.text = ""
        S.Console.__init__(self, stream=self, out=self, poll=lambda t: ())

    def write(self, text):
        self.text += text

    def readinto(self, b):
        return 0


def test_console_request():
    """req: R-065"""
    r, b = runner()
    go(r, b, 150000)
    c = Console()
    svc = S.Service(r, c, root="")
    r.attach_service(svc)
    svc.handle("d1", "demo", [])
    assert S.parse_reply(c.text.strip()) == ("d1", True, "demo") and r.demo.active
    assert demos(r) == [(D.START, D.SRC_CONSOLE)]
