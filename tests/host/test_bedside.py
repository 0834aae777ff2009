# The bedside view (host_tools/view/): the words table covers exactly the
# firmware's alarm names; the light is read from the pattern table; the sound
# is sounding / paused (time left) / silent by the alarm manager's rules; what
# to press follows manager.py; the rich panel fits 80x24 and follows the
# alarm's colour, honours NO_COLOR, and a pipe gets plain lines.
import io

import pytest

from pumpmon import alarms as A
from pumpmon import patterns as P
from pumpmon.config import Config

from host_tools.view import words as W
from host_tools.view.bedside import BedsideView
from host_tools.view.state import BedsideState, presses

CFG = Config({"rate_ul_h": 30})


@pytest.mark.req("R-021")
def test_every_alarm_and_detail_of_the_firmware_has_words_and_nothing_else():
    names = {(A.KIND_NAMES[k], c) for k, _p, c in A.TABLE}
    assert set(W.CONDITION_WORDS) == names
    assert set(W.DETAIL_WORDS) == set(A.DETAIL_NAMES)
    assert W.describe("malfunction", "flow_sensor", "silent") == \
        "the flow sensor gives no usable readings (no readings)"
    assert "configuration is refused" in W.describe("malfunction", "internal", "bad_config")


@pytest.mark.req("R-021")
def test_the_light_is_read_from_the_pattern_table():
    assert W.light_words(A.KIND_NO_FLOW) == ("red", "red, flashing fast (2.0 a second)")
    assert W.light_words(A.KIND_MALFUNCTION)[1] == "red, short flashes fast (1.4 a second)"
    assert W.light_words(A.KIND_LOW_RESERVOIR)[1] == "yellow, flashing slow (0.5 a second)"
    assert W.light_words(A.KIND_INTERRUPTED)[1] == "yellow, steady"
    assert W.light_words(A.KIND_NONE)[1] == "green, steady"
    for kind in range(len(P.LIGHT)):        # every alarm light described, none "off"
        colour, words = W.light_words(kind)
        assert colour == P.COLOUR_NAMES[P.LIGHT[kind][0]] and words.startswith(colour)


def _raised(st, alarm, cause, when, detail=""):
    st.event({"event": "alarm_raised", "alarm": alarm, "cause": cause, "detail": detail},
             when)


@pytest.mark.req("R-021")
def test_sound_light_and_buttons_follow_the_alarm_manager():
    st = BedsideState(CFG)
    # no alarm: a steady yellow is "starting" (or service), green is monitoring
    assert "starting" in st.light("yellow")[2] and st.sound(0) == "silent"
    assert st.light("green")[2] == "monitoring: all well"
    assert st.actions() == ["No alarm: nothing to press."]
    _raised(st, "no_flow", "low_flow", 1000, "sequential")
    colour, light, meaning = st.light("off")        # a blinking LED sampled off
    assert colour == "red" and "flashing fast" in light and "high priority" in meaning
    assert st.sound(2000).startswith("sounding: no flow melody")
    acts = " ".join(st.actions())
    assert "pauses the sound 2:00" in acts and 'only pauses "drug stopped"' in acts
    assert st.press(3000, 500) == "button: short press (pause)"
    assert st.press(3000, 2500) == "button: long press (acknowledge)"
    st.event({"event": "audio_paused"}, 3000)
    assert st.sound(3000 + 18000) == "paused (1:42 left)"
    st.event({"event": "audio_resumed"}, 3000 + 120000)
    assert st.sound(124000).startswith("sounding")
    # the condition ends: latched, a long press ends it
    st.event({"event": "alarm_condition_cleared", "alarm": "no_flow", "cause": "low_flow"},
             200000)
    assert 'ends "drug stopped" (cause gone)' in " ".join(st.actions())
    st.event({"event": "alarm_acknowledged", "alarm": "no_flow", "cause": "low_flow"}, 210000)
    st.event({"event": "alarm_cleared", "alarm": "no_flow", "cause": "low_flow"}, 210000)
    assert not st.shown() and st.sound(211000) == "silent"
    # a medium alarm acknowledged is silent, light on, until the hour's reminder
    _raised(st, "low_reservoir", "volume", 300000)
    st.event({"event": "alarm_acknowledged", "alarm": "low_reservoir", "cause": "volume"},
             301000)
    assert st.sound(302000).startswith("silent (acknowledged")
    assert st.light("yellow")[0] == "yellow"
    st.event({"event": "audio_resumed"}, 301000 + 3600000)
    assert st.sound(301000 + 3600001).startswith("sounding")
    # monitoring_interrupted: the third steady yellow, named
    st2 = BedsideState(CFG)
    _raised(st2, "monitoring_interrupted", "reset", 0)
    assert st2.light("yellow") == ("yellow", "yellow, steady",
                                   "low priority alarm: monitoring interrupted")
    # service: the steady yellow says so
    st.event({"event": "monitoring_stopped"}, 400000)
    assert "SERVICE" in st.light("yellow")[2] and "service tone" in st.sound(400001)
    st.event({"event": "boot", "reset_cause": "soft"}, 410000)
    assert not st.service
    assert [t for _w, t in st.recent][-1] == "the monitor (re)started (soft)"


@pytest.mark.req("R-060")
def test_escalated_is_shown_until_every_high_alarm_is_answered():
    st = BedsideState(CFG)
    _raised(st, "no_flow", "low_flow", 1000)
    assert "ESCALATED" not in st.sound(2000)
    st.event({"event": "escalated", "alarm": "no_flow", "cause": "low_flow"}, 601000)
    assert "ESCALATED" in st.sound(601001)
    assert "ESCALATED" in [t for _w, t in st.recent][-1]
    st.event({"event": "alarm_acknowledged", "alarm": "no_flow", "cause": "low_flow"}, 700000)
    assert not st.escalated
    st.event({"event": "audio_resumed"}, 820000)
    assert "ESCALATED" not in st.sound(820001)


def test_presses_from_trace_samples():
    rows = [(t * 1000, 1, 1, 0, b, 0) for t, b in enumerate([0, 1, 0, 0, 1, 1, 1, 0])]
    assert presses(rows) == [(2000, 1000), (7000, 3000)]


class FakeBoard:
    """What the view reads of a VirtualBoard."""

    def __init__(self):
        self.alarm_events = []
        self.current = None
        self.led = "red"
        self.w = 0

    def world_ms(self):
        return self.w

    def trace_t(self, w):
        return w

    def world_of(self, t):
        return t


class Trace:
    path = "traces/demo.csv"


def _view(stream, plain=False, samples=()):
    return BedsideView(Trace(), CFG, 3600, 100, plain, stream, samples)


def _board_with_alarms():
    b = FakeBoard()
    for i, (kind, _p, cause) in enumerate(A.TABLE):
        b.alarm_events.append({"event": "alarm_raised", "alarm": A.KIND_NAMES[kind],
                               "cause": cause, "detail": "silent", "world_ms": 1000 + i})
    b.w = 60000
    return b


class Tty(io.StringIO):
    def isatty(self):
        return True


# the display's longest words in every row (screenwords.py: 16 characters)
LONG_DISPLAY = ["NOT MONITORING", "x" * 16, "MEDIUM * ACKED", "y" * 16, "z" * 16, "|| 120 s"]


@pytest.mark.parametrize("display", [None, LONG_DISPLAY])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_the_panel_fits_the_terminal_and_takes_the_alarm_colour(size, display, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", str(size[0]))
    monkeypatch.setenv("LINES", str(size[1]))
    out = Tty()
    v = _view(out)
    v.console.force_terminal = True
    b = _board_with_alarms()                  # every alarm at once: the worst case
    b.display_lines = display
    v._catch_up(b)
    panel = v._panel(b, 60000, "reservoir -", *v.state.light("red"), v.state.sound(60000))
    with v.console.capture() as cap:
        v.console.print(panel)
    text = cap.get()
    lines = text.rstrip("\n").split("\n")
    assert len(lines) <= size[1] - 1, "\n".join(lines)
    import re
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", ln) for ln in lines]
    assert max(len(ln) for ln in plain) <= size[0]
    assert "and " in text and "more" in text         # the rest counted, not cut off
    if display:                                       # the display's words, whole
        assert "NOT MONITORING | %s | MEDIUM * ACKED" % ("x" * 16) in text
        assert "%s | %s | || 120 s" % ("y" * 16, "z" * 16) in text
    assert "\x1b[1;31m" in text or "\x1b[31m" in text  # red: a high-priority alarm


def test_no_color_and_plain_lines(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    v = _view(Tty())
    v.console.force_terminal = True
    b = _board_with_alarms()
    v._catch_up(b)
    with v.console.capture() as cap:
        v.console.print(v._panel(b, 60000, "-", *v.state.light("red"), v.state.sound(60000)))
    assert "\x1b[31m" not in cap.get() and "\x1b[1;31m" not in cap.get()
    # a pipe: plain lines, no escape codes, each event and each press in words
    out = io.StringIO()
    v = _view(out, plain=True, samples=[(t * 1000, 1, 1, 0, int(t == 30), 0)
                                        for t in range(60)])
    b = FakeBoard()
    b.alarm_events.append({"event": "alarm_raised", "alarm": "malfunction",
                           "cause": "flow_sensor", "detail": "silent", "world_ms": 20000})
    b.alarm_events.append({"event": "audio_paused", "world_ms": 31000})
    b.w = 50000
    v.draw(b, final=True)
    text = " ".join(out.getvalue().split())        # plain lines wrap at 80 columns
    assert "\x1b" not in text
    assert "event alarm_raised malfunction/flow_sensor (silent): ALARM malfunction: the " \
        "flow sensor gives no usable readings" in text
    assert "button: short press (pause)" in text and "sound paused for 2:00" in text
    assert "paused (1:41 left)" in text


def test_make_vboard_status_line_is_cut_to_the_width_and_redrawn_in_place(monkeypatch):
    # issue 15: a status line wider than the terminal wrapped, and every
    # redraw left a copy (68 in 10 s), scrolling the port names away
    from host_tools.vboard import view as V
    monkeypatch.setattr(V, "REFRESH_S", 0.0)
    out = Tty()
    lv = V.LiveView(out)
    lv.console.force_terminal = True
    lv.console.width = 80
    b = FakeBoard()
    b.trace = None
    b.trace_world0 = 0
    b.vm = None
    b.raw = False
    b.tone = 0
    b.world_faults = {"flow": "silent", "level": "stuck", "flash": "fail" * 20}
    lv.message("vboard ready pty=/tmp/x tty=/dev/pts/9 socket=socket://127.0.0.1:1")
    for _ in range(50):
        lv(b)
    lv.close()
    screen = _terminal(out.getvalue(), 80)
    assert screen[0].startswith("vboard ready")         # the endpoints stay on screen
    status = [ln for ln in screen if ln.startswith("t=")]
    assert len(status) == 1, screen                     # one status line, not 50 copies
    assert all(len(ln) <= 80 for ln in screen)


def _terminal(data, width):
    """The screen a terminal shows after `data` (text, CR, LF, cursor up,
    erase line; other escape codes ignored; a line wider than `width` wraps)."""
    import re
    rows, y, x = [""], 0, 0
    for tok in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]", data):
        if tok == "\n":
            y, x = y + 1, 0
        elif tok == "\r":
            x = 0
        elif tok.startswith("\x1b["):
            n = re.match(r"\x1b\[(\d*)", tok).group(1)
            if tok.endswith("A"):
                y = max(0, y - int(n or 1))
            elif tok.endswith("K"):
                rows[y] = rows[y][:x] if n in ("", "0") else ""
            continue
        else:
            if x >= width:
                y, x = y + 1, 0
            while len(rows) <= y:
                rows.append("")
            r = rows[y].ljust(x)
            rows[y] = r[:x] + tok + r[x + 1:]
            x += 1
        while len(rows) <= y:
            rows.append("")
    return [r.rstrip() for r in rows if r.strip()]


def _plain_output(monkeypatch, columns, board):
    monkeypatch.setenv("COLUMNS", str(columns))
    out = io.StringIO()
    v = _view(out, plain=True, samples=[(t * 1000, 1, 1, 0, int(t == 30), 0)
                                        for t in range(60)])
    v.draw(board, final=True)
    return out.getvalue()


@pytest.mark.parametrize("columns", [80, 60])
def test_plain_lines_wrap_between_words_and_keep_what_to_press(monkeypatch, columns):
    # issue 25: at 80x24 the plain mode wrapped mid-word and lost "what to press"
    wide = _plain_output(monkeypatch, 1000, _board_with_alarms())
    text = _plain_output(monkeypatch, columns, _board_with_alarms())
    lines = text.splitlines()
    words = text.split()
    assert words == wide.split()                 # the same words, none cut in two
    for ln in lines:                             # every line fits (or is one long word)
        assert len(ln) <= columns or len(ln.split()) == 1, ln
    assert any(ln.startswith("  press: Short press") for ln in lines)
    assert any(ln.startswith("  press: Long press") for ln in lines)
    assert "_" not in " ".join(ln for ln in lines if ln.startswith(("  press", "  alarms")))


def test_every_alarm_has_a_short_name_in_words():
    for kind, _p, cause in A.TABLE:
        name = W.SHORT_WORDS[(A.KIND_NAMES[kind], cause)]
        assert name and "_" not in name
    assert set(W.SHORT_WORDS) == set(W.CONDITION_WORDS)


def test_a_refill_shows_in_the_bedside_view():
    # the demo's refill (board time 3:29-3:35): the board logs refill_start/end
    st = BedsideState(CFG)
    assert "REFILL" in st.event({"event": "refill_start"}, 1000)
    assert st.refilling
    assert "refill done" in st.event({"event": "refill_end"}, 7000)
    assert not st.refilling
    v = _view(io.StringIO())
    v.state.refilling = True
    b = FakeBoard()
    assert "REFILL mode on" in v._readings(b)[1]


@pytest.mark.req("R-073")
def test_a_carer_coming_is_shown_and_changes_nothing_else():
    # issue 28: "I am coming" over the carers' link is logged (carer_coming);
    # the view shows it until the alarms end, the sound stays as it was
    from pumpmon.config import Config
    from host_tools.view.state import BedsideState
    st = BedsideState(Config({"rate_ul_h": 30}))
    st.event({"event": "alarm_raised", "alarm": "no_flow", "cause": "low_flow"}, 1000)
    before = (st.sound(2000), st.light())
    text = st.event({"event": "carer_coming", "alarm": "no_flow", "cause": "low_flow",
                     "contact": 2}, 2000)
    assert "coming" in text and "contact 2" in text and st.coming == (2000, 2)
    assert (st.sound(2000), st.light()) == before
    st.event({"event": "alarm_cleared", "alarm": "no_flow", "cause": "low_flow"}, 3000)
    assert st.coming is None
