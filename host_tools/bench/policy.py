"""`make bench` section `policy` (issue 22, docs/alarm-policy.md): what the
alarm policy costs a household at night, and that it slows no danger.

Each case is a 48-hour trace from the sensor model (host_tools/sim/sensors.py)
run through the firmware's Monitor, polled every 100 ms so that every pulse of
the buzzer is seen. A person answers as one would at night: REACT_S after the
sound starts they hold the button 3 s (acknowledge) when an alarm is
unacknowledged, else press it briefly (pause). A night minute (22:00-07:00)
is audible when the buzzer sounded in it at all; the figures are counted
after the first acknowledgement: the worst night hour and the mean over the
night hours. The danger cases give the first high-priority alarm after the
fault, unchanged by the policy (the detection section has them per engine).
"""
from pumpmon import alarms as A
from pumpmon.clock import ticks_add
from pumpmon.monitor import Monitor

from host_tools.sim.sensors import Scenario

REACT_S = 20          # a person woken at night reaches the button
HOLD_S = 3            # and holds it (long press: 2 s)
NIGHT = (22, 7)       # 22:00-07:00
START_S = 20 * 3600   # the traces start at 20:00
HOURS = 48


def _config(sc, extra=None):
    from pumpmon.config import Config
    values = {"reservoir_capacity_ml": sc.capacity_ml, "rate_ul_h": sc.rate,
              "start": "%02d:%02d" % (sc.start_s // 3600, sc.start_s // 60 % 60)}
    values.update(extra or {})
    return Config(values)


def _bubbles(samples, every_s, length_s, first_s):
    """The air flag (bit 0) for length_s every every_s from first_s."""
    for t_ms, level, flow, flags, button, refill in samples:
        t = t_ms // 1000
        if t >= first_s and (t - first_s) % every_s < length_s:
            flags |= 1
        yield t_ms, level, flow, flags, button, refill


def run_night(sc, samples, person=True):
    """(events [(t_s, name, cond)], audible minutes {minute index: 1},
    first acknowledgement t_s or None)."""
    cfg = _config(sc)
    events = []
    clock = [0]

    def on_event(code, cond, detail):
        from pumpmon.events import NAMES
        events.append((clock[0] // 1000, NAMES[code], cond))
    t0 = ticks_add(0, -50000)
    m = Monitor(cfg, t0, on_event, sc.start_s)
    audible = {}
    sound_from = None        # when the current sound began (ms)
    press_until = -1
    press_long = 0
    first_ack = None
    for t_ms, level, flow, flags, _b, refill in samples:
        button = 1 if t_ms < press_until else 0
        clock[0] = t_ms
        m.step(ticks_add(t0, t_ms), level, flow, flags, button, refill)
        for k in range(10):
            t = t_ms + k * 100
            clock[0] = t
            if k:
                m.poll(ticks_add(t0, t), 1 if t < press_until else 0)
            if m.ann.tone_hz:
                audible[t // 60000] = 1
            if m.manager.sound_kind() != A.KIND_NONE:
                if sound_from is None:
                    sound_from = t
            else:
                sound_from = None
        mg = m.manager
        if person and sound_from is not None and t_ms >= press_until + 2000 and \
                t_ms - sound_from >= REACT_S * 1000:
            press_long = 1 if mg.shown & ~mg.acked else 0
            # the button goes down at the next sample, held HOLD_S (or 0.5 s)
            press_until = t_ms + 1000 + (HOLD_S * 1000 if press_long else 500)
            if press_long and first_ack is None:
                first_ack = t_ms // 1000
            sound_from = None
    return events, audible, first_ack


def night_figures(audible, first_ack, start_s=START_S, hours=HOURS):
    """(worst night hour, mean per night hour) of audible minutes after the
    first acknowledgement (None: never acknowledged: every hour counts)."""
    per_hour = []
    for h in range(hours):
        tod_h = (start_s // 3600 + h) % 24
        if not (tod_h >= NIGHT[0] or tod_h < NIGHT[1]):
            continue
        lo = h * 60
        if first_ack is not None and (h + 1) * 3600 <= first_ack:
            continue
        n = 0
        for minute in range(lo, lo + 60):
            if first_ack is not None and (minute + 1) * 60 <= first_ack:
                continue
            n += audible.get(minute, 0)
        per_hour.append(n)
    if not per_hour:
        return 0, 0.0
    return max(per_hour), sum(per_hour) / float(len(per_hour))


def _case_low_volume():
    sc = Scenario(seed=3, rate_ul_h=2.0, start_s=START_S, duration_s=HOURS * 3600,
                  level_ml=0.9, capacity_ml=20.0)
    return sc, sc.samples()


def _case_bubbles():
    sc = Scenario(seed=5, rate_ul_h=30.0, start_s=START_S, duration_s=HOURS * 3600,
                  level_ml=18.0, capacity_ml=20.0)
    return sc, _bubbles(sc.samples(), 7200, 20, 3600)


def _danger(kwargs, fault_s):
    """Seconds from the fault to the first high-priority alarm raised."""
    sc = Scenario(seed=1, start_s=START_S, **kwargs)
    events, _aud, _ack = run_night(sc, sc.samples(), person=False)
    for t, name, cond in events:
        if name == "alarm_raised" and cond >= 0 and A.priority_of(cond) == A.HIGH \
                and t >= fault_s:
            return t - fault_s, A.KIND_NAMES[A.kind_of(cond)] + "/" + A.TABLE[cond][2]
    return None, "none"


def section_policy():
    rows = []
    for name, case in (("2 uL/h, 0.9 mL left (18 days)", _case_low_volume),
                       ("30 uL/h, 20-s air flag every 2 h", _case_bubbles)):
        sc, samples = case()
        events, audible, first_ack = run_night(sc, samples)
        worst, mean = night_figures(audible, first_ack)
        raised = sorted(set("%s/%s" % (A.KIND_NAMES[A.kind_of(c)], A.TABLE[c][2])
                            for _t, n, c in events if n == "alarm_raised"))
        rows.append(("%s: audible min per night hour, worst" % name, "%d" % worst, "min",
                     "target <= 1 after the first acknowledgement"))
        rows.append(("%s: audible min per night hour, mean" % name, "%.2f" % mean, "min",
                     "raised: %s" % (", ".join(raised) or "none")))
    for name, kwargs, fault_s in (
            ("stop at 30 uL/h", dict(rate_ul_h=30.0, duration_s=2 * 3600,
                                     factor=[(3600, 0.0)]), 3600),
            ("stop at 2 uL/h", dict(rate_ul_h=2.0, duration_s=4 * 3600,
                                    factor=[(3600, 0.0)]), 3600),
            ("flow sensor silent at 30 uL/h", dict(rate_ul_h=30.0, duration_s=2 * 3600,
                                                   flow_fault=("silent", 3600)), 3600),
            ("dump: 60 mL/h from 1 h, 30 uL/h programmed",
             dict(rate_ul_h=30.0, duration_s=2 * 3600, factor=[(3600, 2000.0)]), 3600)):
        lat, alarm = _danger(kwargs, fault_s)
        rows.append(("danger: %s" % name, "none" if lat is None else "%d" % lat, "s",
                     "first high alarm: %s (the policy changes no detection)" % alarm))
    return "Alarm policy at night (48 h from 20:00; a person answers after %d s)" \
        % REACT_S, rows
