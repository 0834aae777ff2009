# Alarm patterns against IEC 60601-1-8 (docs/alarm-signals.md) and
# the non-blocking player.
from pumpmon import alarms as A
from pumpmon import patterns as P
from pumpmon.annunciator import LIGHT_CYCLE, SOUND_CYCLE, Annunciator
from pumpmon.clock import ticks_add

# every kind at the priority of its conditions (from the alarm table, so a
# new condition's pattern is checked too)
HIGH_KINDS = tuple(sorted(set(k for k, p, _c in A.TABLE if p == A.HIGH)))
MEDIUM_KINDS = tuple(sorted(set(k for k, p, _c in A.TABLE if p == A.MEDIUM)))
LOW_KINDS = tuple(sorted(set(k for k, p, _c in A.TABLE if p == A.LOW)))


def test_each_kind_has_one_priority():
    """req: R-015"""
    assert not set(HIGH_KINDS) & set(MEDIUM_KINDS)
    assert not (set(HIGH_KINDS) | set(MEDIUM_KINDS)) & set(LOW_KINDS)
    assert set(HIGH_KINDS) | set(MEDIUM_KINDS) | set(LOW_KINDS) == set(range(len(A.KIND_NAMES)))
    assert A.KIND_REFILL_TODAY in HIGH_KINDS and A.KIND_LOW_RESERVOIR in MEDIUM_KINDS


def pulses(pattern):
    return [(pattern[i], pattern[i + 1], pattern[i + 2]) for i in range(0, len(pattern), 3)]


def test_every_alarm_kind_has_a_sound_and_a_light():
    """req: R-015"""
    assert len(P.SOUND) == len(A.KIND_NAMES) == len(P.LIGHT)


def test_high_priority_sound_timing():
    """req: R-015"""
    for k in HIGH_KINDS:
        ps = pulses(P.SOUND[k])
        assert len(ps) == 10, k
        for hz, on, _off in ps:
            assert 150 <= hz <= 1000
            assert 75 <= on <= 200
        offs = [p[2] for p in ps]
        # 3 + 2, pause, 3 + 2: spacing ts inside the groups of 3 and of 2
        for i in (0, 1, 3, 5, 6, 8):
            assert 50 <= offs[i] <= 125, (k, i, offs[i])
        # between 3 and 4 one missing pulse, longer than ts
        assert offs[2] > 125 and offs[7] == offs[2]
        assert 350 <= offs[4] <= 1300            # between pulses 5 and 6
        assert 2500 <= SOUND_CYCLE[k] <= 15000   # burst repeat interval
        # the melody: the same 5 notes twice
        notes = [p[0] for p in ps]
        assert notes[:5] == notes[5:]
        assert notes[3:5] == notes[0:2]          # "C5 D4 G4 - C5 D4" shape


def test_medium_priority_sound_timing():
    """req: R-015"""
    for k in MEDIUM_KINDS:
        ps = pulses(P.SOUND[k])
        assert len(ps) == 3
        for hz, on, _off in ps:
            assert 150 <= hz <= 1000
            assert 125 <= on <= 250
        assert all(125 <= p[2] <= 250 for p in ps[:2])
        assert 2500 <= SOUND_CYCLE[k] <= 30000


def test_annex_f_melodies():
    """req: R-015"""
    assert [p[0] for p in pulses(P.SOUND[A.KIND_NO_FLOW])][:5] == [P.C5, P.D4, P.G4, P.C5, P.D4]
    assert [p[0] for p in pulses(P.SOUND[A.KIND_MALFUNCTION])][:5] == [
        P.C5, P.C4, P.C4, P.C5, P.C4]
    # refill_today: the general melody, nothing like the drug-delivery one
    assert [p[0] for p in pulses(P.SOUND[A.KIND_REFILL_TODAY])] == [P.C4] * 10
    # the general melody, at medium: under_delivery (the drug's is low_reservoir's)
    assert [p[0] for p in pulses(P.SOUND[A.KIND_UNDER_DELIVERY])] == [P.C4] * 3
    # nothing but the malfunction kind plays the equipment-failure melody
    for k in range(len(P.SOUND)):
        if k != A.KIND_MALFUNCTION:
            assert [p[0] for p in pulses(P.SOUND[k])][:5] != [P.C5, P.C4, P.C4, P.C5, P.C4], k


def _flash(k):
    ps = pulses(P.LIGHT[k])
    cycle = LIGHT_CYCLE[k]
    on = sum(p[1] for p in ps)
    return ps[0][0], 1000.0 * len(ps) / cycle, on / cycle


def test_visual_signals():
    """req: R-015"""
    for k in HIGH_KINDS:
        colour, hz, duty = _flash(k)
        assert colour == P.RED
        assert 1.4 <= hz <= 2.8, (k, hz)
        assert 0.2 <= duty <= 0.6, (k, duty)
    for k in MEDIUM_KINDS:
        colour, hz, duty = _flash(k)
        assert colour == P.YELLOW
        assert 0.4 <= hz <= 0.8
        assert 0.2 <= duty <= 0.6
    for k in LOW_KINDS:                  # low priority: constant (not flashing)
        colour, hz, duty = _flash(k)
        if k == A.KIND_PUMP_STOPPED:     # all but a short dark gap, slower than medium
            assert colour == P.YELLOW and duty >= 0.9 and hz < 0.4
            continue
        assert colour == P.YELLOW and duty == 1.0


def test_low_priority_sound_timing():
    # IEC 60601-1-8 low priority: one or two pulses, td 125-250 ms, ts
    # 125-250 ms, repeated after more than 15 s (or not at all)
    """req: R-015"""
    assert LOW_KINDS
    for k in LOW_KINDS:
        ps = pulses(P.SOUND[k])
        assert 1 <= len(ps) <= 2
        for _hz, on, _off in ps:
            assert 125 <= on <= 250
        assert 125 <= ps[0][2] <= 250 or len(ps) == 1
        assert SOUND_CYCLE[k] > 15000


def test_every_pair_is_distinguishable():
    """req: R-015"""
    n = len(P.SOUND)
    assert n == len(A.KIND_NAMES) == 8      # over_delivery (issue 22) among them
    for a in range(n):
        for b in range(a + 1, n):
            melody_a = [p[0] for p in pulses(P.SOUND[a])]
            melody_b = [p[0] for p in pulses(P.SOUND[b])]
            assert melody_a != melody_b, (a, b)
            ca, fa, da = _flash(a)
            cb, fb, db = _flash(b)
            # a different colour (or set of colours in turn), or a flash rate
            # or duty at least 25 % apart
            assert ca != cb or _colours(a) != _colours(b) or \
                abs(fa - fb) / max(fa, fb) >= 0.25 or \
                abs(da - db) / max(da, db) >= 0.25, (a, b)


def _colours(k):
    return sorted(set(p[0] for p in pulses(P.LIGHT[k]) if p[0] != P.OFF))


def test_pump_stopped_light_is_its_own():
    # issue 22: a stopped pump (on purpose) never shows green ("monitoring,
    # all well"), is not the steady yellow of starting, service or
    # monitoring_interrupted, and flashes slower than any medium alarm: yellow
    # with a short dark gap
    """req: R-012, R-062"""
    k = A.KIND_PUMP_STOPPED
    assert _colours(k) == [P.YELLOW]
    colour, hz, duty = _flash(k)
    assert hz < 0.4 and 0.9 <= duty < 1.0, (hz, duty)
    assert any(p[2] > 0 for p in pulses(P.LIGHT[k]))          # a dark gap
    for other in range(len(P.LIGHT)):
        if other != k:
            assert pulses(P.LIGHT[other]) != pulses(P.LIGHT[k]), other
    for steady in (P.IDLE_LIGHT, P.STARTING_LIGHT, (P.SERVICE_LED, 1000, 0)):
        assert tuple(P.LIGHT[k]) != tuple(steady)
    an = Annunciator(0)
    an.update(0, k, k)
    seen = set()
    for t in range(0, 9000, 50):
        an.tick(t)
        seen.add(an.led)
    assert seen == {P.YELLOW, P.OFF}                          # never green
    assert A.priority_of(A.PUMP_STOPPED) == A.LOW and A.kind_of(A.PUMP_STOPPED) == k


def test_over_delivery_is_a_drug_delivery_alarm_of_its_own():
    # issue 22: high priority, the drug-delivery melody's shape in another
    # register (a major third higher), never the equipment-failure melody, and a
    # light of its own (a red double flash)
    """req: R-058"""
    k = A.KIND_OVER_DELIVERY
    assert A.kind_of(A.OVER_DELIVERY) == k and A.KIND_NAMES[k] == "over_delivery"
    assert A.priority_of(A.OVER_DELIVERY) == A.HIGH and k in HIGH_KINDS
    notes = [p[0] for p in pulses(P.SOUND[k])]
    drug = [p[0] for p in pulses(P.SOUND[A.KIND_NO_FLOW])]
    equipment = [p[0] for p in pulses(P.SOUND[A.KIND_MALFUNCTION])]
    assert notes[:5] == [P.E5, P.FS4, P.B4, P.E5, P.FS4]
    # the same intervals as the drug melody (ratios within 1 %), every note higher
    for a, b in zip(notes, drug):
        assert 1.24 <= a / b <= 1.28, (a, b)    # a major third: 2**(4/12)
    for i in range(4):
        assert abs(notes[i + 1] / notes[i] - drug[i + 1] / drug[i]) < 0.01
    assert notes != equipment and not set(notes) & set(equipment)
    # its light: the only double flash, red
    ps = pulses(P.LIGHT[k])
    assert [p[0] for p in ps] == [P.RED, P.RED] and ps[0][2] < ps[1][2]
    for other in range(len(P.LIGHT)):
        if other != k:
            assert len(pulses(P.LIGHT[other])) == 1 or _colours(other) != [P.RED], other
    # its escalated sound keeps the melody, faster
    esc = pulses(P.SOUND_ESCALATED[k])
    assert [p[0] for p in esc] == notes and sum(p[1] + p[2] for p in esc) == P.REPEAT_ESCALATED


def test_player_follows_pattern_from_start():
    """req: R-015"""
    t0 = ticks_add(0, -700)
    an = Annunciator(t0)
    assert an.tone_hz == 0
    an.update(t0, A.KIND_NO_FLOW, A.KIND_NO_FLOW)
    assert an.tone_hz == P.C5 and an.led == P.RED
    an.tick(ticks_add(t0, 160))         # in the first spacing
    assert an.tone_hz == 0
    an.tick(ticks_add(t0, 260))         # second pulse
    assert an.tone_hz == P.D4
    an.tick(ticks_add(t0, 300))         # light off phase (250/250)
    assert an.led == 0
    # a late tick lands where the clock says, not where the last tick was
    an.tick(ticks_add(t0, SOUND_CYCLE[A.KIND_NO_FLOW] * 7 + 10))
    assert an.tone_hz == P.C5


def test_player_idle_is_silent_and_green():
    """req: R-015"""
    an = Annunciator(5)
    an.update(10, A.KIND_NONE, A.KIND_NONE)
    assert an.tone_hz == 0 and an.led == P.GREEN


def test_paused_sound_keeps_the_light():
    """req: R-017"""
    an = Annunciator(0)
    an.update(0, A.KIND_NONE, A.KIND_MALFUNCTION)
    assert an.tone_hz == 0 and an.led == P.RED


def test_starting_light_is_neither_idle_nor_an_alarm():
    # steady (never flashing) and not green: a carer sees "not monitoring yet"
    """req: R-013"""
    assert P.STARTING_LIGHT[0] != P.IDLE_LIGHT[0]
    assert P.STARTING_LIGHT[2] == 0 and P.STARTING_LIGHT[0] != P.OFF
    low = set(k for k, p, _c in A.TABLE if p == A.LOW)
    for k in range(len(P.LIGHT)):
        if k not in low:      # high and medium alarms flash (a low one is constant)
            assert any(p[2] > 0 for p in pulses(P.LIGHT[k])), k
    an = Annunciator(0)
    an.update(0, A.KIND_NONE, A.KIND_STARTING)
    assert an.tone_hz == 0 and an.led == P.STARTING_LIGHT[0]
    an.tick(5000)
    assert an.led == P.STARTING_LIGHT[0]


def test_top_condition_ranks_priority_before_index():
    # a high condition appended after a medium one is still annunciated first
    """req: R-016"""
    mask = (1 << A.LOW_VOLUME) | (1 << A.PARTIAL_LONG) | (1 << A.PARTIAL)
    assert A.top_condition(mask) == A.PARTIAL_LONG
    assert A.top_condition((1 << A.PARTIAL) | (1 << A.LOW_VOLUME)) == A.LOW_VOLUME
    assert A.top_condition((1 << A.REFILL_TIMEOUT) | (1 << A.NO_FLOW)) == A.NO_FLOW
    assert A.top_condition(0) == -1


def test_new_conditions_are_appended_never_renumbered():
    # stored in the state file and the log: the first nine keep their numbers
    """req: R-058"""
    causes = [c for _k, _p, c in A.TABLE]
    assert causes[:9] == ["low_flow", "reservoir_empty", "over_delivery", "flow_sensor",
                          "level_sensor", "level_flow_mismatch", "internal", "volume",
                          "days_to_empty"]
    assert (A.PARTIAL, A.PARTIAL_LONG, A.REFILL_TIMEOUT) == (
        causes.index("partial"), causes.index("under_delivery"), causes.index("refill_mode"))
