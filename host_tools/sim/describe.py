"""A scenario from a one-line description, for `pumpmon trace gen "..."`:

    rate 30 uL/h, 180 min, stop at minute 90
    100 uL/h pulsatile every 4 min, 3 h, fall to 40% at 1 h, resume at 2 h
    rate 10, 2 h, over-delivery 1.5x at 60 min
    rate 150, 4 h, reservoir 5 mL, refill at 3:30
    rate 30, 90 min, flow sensor stuck at minute 45

Clauses are separated by commas (or "then", ";"); each is one of CLAUSES
below. The trace comes from the sensor model (host_tools/sim/sensors.py:
noise, zero offset, dropouts, spikes, strokes), so its readings vary as a real
sensor's do; a constant column a person types would trip the stuck-sensor
alarm (docs/trace-format.md). A clause that cannot be read is a ValueError
naming it, with the nearest known words.
"""
import difflib
import re

from host_tools.sim.corpus import H, MIN, Spec

_NUM = r"(\d+(?:\.\d+)?)"
# when: "at minute 90", "at 90 min", "at 1.5 h", "at 1:30" (h:mm), "at 300 s"
_AT = re.compile(r"\s+(?:at|from)\s+(?:minute\s+%s|%s\s*(h|hours?|min|minutes?|m|s|"
                 r"seconds?)|(\d+):(\d\d))\s*$" % (_NUM, _NUM))
_UNIT_S = {"h": H, "hour": H, "hours": H, "min": MIN, "minute": MIN, "minutes": MIN, "m": MIN,
           "s": 1, "second": 1, "seconds": 1, "d": 86400, "day": 86400, "days": 86400}

# the words a clause may start with (for "did you mean")
WORDS = ("rate", "uL/h", "pulsatile", "strokes", "reservoir", "capacity", "seed", "stop",
         "occlusion", "fall", "partial", "over-delivery", "resume", "recovery", "refill",
         "refill mode", "flow sensor", "level sensor", "sensor fault", "leak", "press",
         "long press", "min", "h", "days")

CLAUSES = """\
  N min | N h | N days          length of the trace
  rate N [uL/h] | N uL/h        programmed rate (continuous delivery)
  pulsatile [every N min]       a stroke every N min (default 5)
  reservoir N mL                the level at the start (default 18); capacity N mL
  stop|occlusion at T           delivery stops (no_flow expected)
  fall to N% at T               partial delivery (partial occlusion)
  over-delivery Nx at T         delivers N times the rate (default 2x)
  resume at T                   delivery back to normal
  refill at T                   a refill (refill mode on, the level rises to 95 %)
  flow sensor silent|stuck|air|sparse at T   a flow sensor fault (sensor fault = silent)
  level sensor stuck at T       the level reading freezes
  leak N mL/h at T              the level falls faster than the flow says
  refill mode at T              refill mode switched on and left on
  press at T | long press at T  the patient's button: pause / acknowledge
  seed N                        the noise seed
T is "minute 90", "90 min", "1.5 h", "1:30" (h:mm) or "300 s"."""

_EVENT_WORDS = ("stop", "stops", "occlusion", "fall", "falls", "drop", "partial", "resume",
                "recovery", "refill", "flow", "level", "sensor", "leak", "press", "long",
                "pause", "acknowledge")
_FLOW_FAULTS = {"silent": "silent", "stuck": "stuck", "air": "air", "sparse": "alternate",
                "flaky": "alternate", "fault": "silent", "off": "silent", "dead": "silent"}


def _at(clause):
    """(clause without its time, time in s) or (clause, None)."""
    m = _AT.search(clause)
    if not m:
        return clause, None
    minute, n, unit, hh, mm = m.groups()
    if minute is not None:
        t = float(minute) * MIN
    elif n is not None:
        t = float(n) * _UNIT_S[unit]
    else:
        t = int(hh) * H + int(mm) * MIN
    return clause[:m.start()].strip(), int(t)


def _hint(clause):
    first = clause.split()[0] if clause.split() else clause
    near = difflib.get_close_matches(first, WORDS, n=2, cutoff=0.6)
    return (" (did you mean %s?)" % " or ".join(repr(w) for w in near)) if near else ""


def parse(text):
    """A description -> a corpus Spec (host_tools/sim/corpus.py) and the seed;
    ValueError naming the clause it cannot read."""
    kw = {"rate_ul_h": 30.0, "duration_s": H, "level_ml": 18.0, "capacity_ml": 20.0}
    factor = []
    refills = []
    buttons = []
    seed = 1
    lengths = 0
    for raw in re.split(r",|;|\bthen\b", text):
        clause = " ".join(raw.lower().split())
        if not clause:
            continue
        body, t = _at(clause)
        m = re.fullmatch(r"(?:for\s+)?%s\s*(min|minutes?|h|hours?|d|days?|s)" % _NUM, body)
        if m and t is None:
            kw["duration_s"] = int(float(m.group(1)) * _UNIT_S[m.group(2)])
            lengths += 1
            continue
        m = re.fullmatch(r"(?:rate\s+)?%s\s*(?:ul/h|µl/h|ul per hour)?(?:\s+continuous)?"
                         % _NUM, body)
        if m and t is None and (body.startswith("rate") or "ul" in body or "µl" in body):
            kw["rate_ul_h"] = float(m.group(1))
            continue
        m = re.fullmatch(r"(?:rate\s+)?(?:%s\s*(?:ul/h)?\s+)?pulsatile"
                         r"(?:\s+(?:every|period)\s+%s\s*(min|minutes?|s))?" % (_NUM, _NUM), body)
        if m and t is None:
            if m.group(1):
                kw["rate_ul_h"] = float(m.group(1))
            kw["pulse_period_s"] = (int(float(m.group(2)) * _UNIT_S[m.group(3)])
                                    if m.group(2) else 5 * MIN)
            kw["pulse_width_s"] = min(20, kw["pulse_period_s"] // 2)
            continue
        m = re.fullmatch(r"(reservoir|level|capacity)\s+%s\s*ml" % _NUM, body)
        if m and t is None:
            kw["capacity_ml" if m.group(1) == "capacity" else "level_ml"] = float(m.group(2))
            continue
        m = re.fullmatch(r"seed\s+(\d+)", body)
        if m and t is None:
            seed = int(m.group(1))
            continue
        if t is None:
            first = clause.split()[0]
            if first in _EVENT_WORDS or first.startswith("over"):
                raise ValueError("%r: an event needs its time, e.g. %r"
                                 % (raw.strip(), clause + " at minute 30"))
            raise ValueError("%r: not understood%s; a clause is one of:\n%s"
                             % (raw.strip(), _hint(clause), CLAUSES))
        if t < 0:
            raise ValueError("%r: the time must not be negative" % raw.strip())
        if re.fullmatch(r"(?:total\s+)?(?:stop|stops|occlusion|occluded|kink|no flow)", body):
            factor.append((t, 0.0))
        elif re.fullmatch(r"(?:partial(?: occlusion)?|(?:delivery\s+)?(?:falls?|drops?)"
                          r"(?:\s+to)?|partial(?:\s+fall)?\s+to)\s*%s\s*%%" % _NUM, body):
            factor.append((t, float(re.search(_NUM, body).group(1)) / 100.0))
        elif re.fullmatch(r"over[- ]?delivery(?:\s+%s\s*x)?" % _NUM, body):
            n = re.search(_NUM, body)
            factor.append((t, float(n.group(1)) if n else 2.0))
        elif re.fullmatch(r"(?:resume|resumes|recovery|recovers|back to normal)", body):
            factor.append((t, 1.0))
        elif body == "refill":
            refills.append(t)
        elif body in ("refill mode", "refill mode on", "refill mode left on"):
            kw["refill_mode"] = (t, 10 ** 9)
        elif re.fullmatch(r"level sensor (?:stuck|frozen|fault)", body):
            kw["level_stuck_s"] = t
            kw.setdefault("level_every_s", 10)
        elif re.fullmatch(r"(?:flow )?sensor(?: \w+)?", body):
            kind = body.split()[-1] if body.split()[-1] != "sensor" else "fault"
            if kind not in _FLOW_FAULTS:
                raise ValueError("%r: a flow sensor fault is one of %s" % (
                    raw.strip(), ", ".join(sorted(_FLOW_FAULTS))))
            kw["flow_fault"] = (_FLOW_FAULTS[kind], t)
        elif re.fullmatch(r"leak(?:\s+%s\s*ml/h)?" % _NUM, body):
            n = re.search(_NUM, body)
            kw["leak_ml_h"] = float(n.group(1)) if n else 0.5
            kw["leak_from_s"] = t
        elif body in ("press", "short press", "pause"):
            buttons.append((t, 1))
        elif body in ("long press", "acknowledge", "ack"):
            buttons.append((t, 3))
        else:
            raise ValueError("%r: not understood%s; a clause is one of:\n%s"
                             % (raw.strip(), _hint(body), CLAUSES))
    if lengths > 1:
        raise ValueError("%r: the length is given %d times" % (text, lengths))
    if not 0 < kw["rate_ul_h"] <= 5000:
        raise ValueError("rate %g uL/h: give 0 < rate <= 5000" % kw["rate_ul_h"])
    if not 60 <= kw["duration_s"] <= 60 * 86400:
        raise ValueError("length %d s: give 1 min to 60 days" % kw["duration_s"])
    late = [t for t, _ in factor] + refills + [b[0] for b in buttons]
    if late and max(late) >= kw["duration_s"]:
        raise ValueError("an event at %d s is after the end of the trace (%d s)"
                         % (max(late), kw["duration_s"]))
    kw["capacity_ml"] = max(kw["capacity_ml"], kw["level_ml"])
    if factor:
        kw["factor"] = sorted(factor)
    if refills:
        kw["refill_s"] = sorted(refills)
    if buttons:
        kw["button"] = sorted(buttons)
    return Spec("described", text.strip(), kw, expect=_expect(kw), only=False, corpus=False,
                meta={"description": " ".join(text.split())}), seed


# what the monitor must then do, with the corpus's windows (corpus.py): (alarm,
# cause, seconds after the event it must come by)
_FLOW_FAULT_EXPECT = {"silent": 30, "air": 30, "stuck": 10 * MIN, "alternate": 2 * MIN}


def _expect(kw):
    """Expectations for `trace gen --expect`: only what the description
    surely implies; other alarms are not judged (no_other_high false)."""
    out = []
    for t, f in kw.get("factor", ()):
        if f == 0.0:
            out.append(("no_flow", None, t, t + 15 * MIN))
        elif f <= 0.1:
            out.append(("no_flow", None, t, t + 30 * MIN))
        elif f >= 2.0:
            out.append(("over_delivery", "over_delivery", t, t + 15 * MIN))
    if "flow_fault" in kw:
        kind, t = kw["flow_fault"]
        out.append(("malfunction", "flow_sensor", t, t + _FLOW_FAULT_EXPECT[kind]))
    if "refill_mode" in kw:
        t = kw["refill_mode"][0]
        out.append(("malfunction", "refill_mode", t + 30 * MIN, t + 31 * MIN))
    return [e for e in out if e[3] <= kw["duration_s"]]
