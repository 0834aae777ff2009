"""Expectation files (`pumpmon replay --check`, the corpus's *.expect.json;
docs/replay.md): which alarms must be raised in which window, and whether any
other high-priority alarm is allowed. Read and checked here, once."""
import difflib
import json

from host_tools.formats.trace import TraceError


MAX_JSON = 1 << 20      # a settings or expectation file is a few hundred bytes


def load_json_object(path, text_out=None):
    """A JSON settings or expectation file -> dict; TraceError (FILE:LINE)
    when it cannot be used: unreadable, too big, not UTF-8, not JSON, nested
    too deep, not an object. Never another exception (`pumpmon flash
    --config`, `replay --config`, `--check` and the corpus all read here).
    text_out: a list that gets the text (for line numbers of later errors)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_JSON + 1)
    except OSError as e:
        raise TraceError(path, 1, "cannot open: %s" % (e.strerror or e))
    if len(raw) > MAX_JSON:
        raise TraceError(path, 1, "too large (over %d bytes): not a settings file" % MAX_JSON)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise TraceError(path, line, "not UTF-8 text (byte %d)" % e.start)
    try:
        values = json.loads(text)
    except RecursionError:
        raise TraceError(path, 1, "not JSON this tool reads: nested too deep")
    except ValueError as e:
        raise TraceError(path, getattr(e, "lineno", 1), "not JSON: %s" % getattr(e, "msg", e))
    if not isinstance(values, dict):
        raise TraceError(path, 1, "settings must be a JSON object")
    if text_out is not None:
        text_out.append(text)
    return values


def alarm_causes():
    """{alarm name: (its causes)} from the firmware's alarm table: what an
    expectation may name."""
    from pumpmon import alarms as A
    out = {}
    for kind, _prio, cause in A.TABLE:
        name = A.KIND_NAMES[kind]
        out[name] = out.get(name, ()) + (cause,)
    return out


def _entry_line(text, i, key=None):
    """The line of the i-th entry of "raised" (of its `key` when given), for
    FILE:LINE; 1 when it cannot be found."""
    start = text.find('"raised"')
    if start < 0:
        return 1
    pos = start
    for _ in range(i + 1):
        pos = text.find("{", pos + 1)
        if pos < 0:
            return 1
    if key is not None:
        end = text.find("}", pos)
        k = text.find('"%s"' % key, pos, end if end > 0 else None)
        if k > 0:
            pos = k
    return text.count("\n", 0, pos) + 1


def _did_you_mean(word, names):
    near = difflib.get_close_matches(str(word), list(names), n=1, cutoff=0.5)
    return " (did you mean %r?)" % near[0] if near else ""


def load_expectation(path):
    """An expectation file -> {"raised": [...], "no_other_high": bool};
    TraceError (FILE:LINE) for anything it cannot check, an unknown alarm or
    cause included: a typo must not read as "the alarm never came"."""
    texts = []
    values = load_json_object(path, texts)
    text = texts[0]
    known = alarm_causes()
    raised = values.get("raised", [])
    if not isinstance(raised, list):
        raise TraceError(path, _entry_line(text, -1), '"raised" must be a list')
    out = []
    for i, r in enumerate(raised):
        what = '"raised"[%d]' % i
        line = _entry_line(text, i)
        if not isinstance(r, dict) or not isinstance(r.get("alarm"), str):
            raise TraceError(path, line, '%s needs "alarm" (%s)' % (what, ", ".join(known)))
        alarm = r["alarm"]
        if alarm not in known:
            raise TraceError(path, _entry_line(text, i, "alarm"), "%s: unknown alarm %r%s; "
                             "the alarms are %s" % (what, alarm, _did_you_mean(alarm, known),
                                                    ", ".join(known)))
        cause = r.get("cause")
        lo = r.get("from_s", 0)
        hi = r.get("to_s")
        for k, v in (("from_s", lo), ("to_s", hi)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise TraceError(path, _entry_line(text, i, k),
                                 "%s: %s must be a number of seconds" % (what, k))
        if cause is not None and not isinstance(cause, str):
            raise TraceError(path, _entry_line(text, i, "cause"),
                             "%s: cause must be a string or null" % what)
        if cause is not None and cause not in known[alarm]:
            raise TraceError(path, _entry_line(text, i, "cause"),
                             "%s: %s has no cause %r%s; its causes are %s"
                             % (what, alarm, cause, _did_you_mean(cause, known[alarm]),
                                ", ".join(known[alarm])))
        unknown = set(r) - {"alarm", "cause", "from_s", "to_s"}
        if unknown:
            raise TraceError(path, line, "%s: unknown key(s) %s" % (
                what, ", ".join(sorted(unknown))))
        out.append((alarm, cause, lo, hi))
    unknown = set(values) - {"raised", "no_other_high"}
    if unknown:
        raise TraceError(path, 1, "unknown key(s) %s%s" % (
            ", ".join(sorted(unknown)),
            _did_you_mean(sorted(unknown)[0], ("raised", "no_other_high"))))
    if not isinstance(values.get("no_other_high", True), bool):
        raise TraceError(path, 1, '"no_other_high" must be true or false')
    return {"raised": out, "no_other_high": values.get("no_other_high", True)}


def _name(alarm, cause):
    return "%s/%s" % (alarm, cause) if cause else "%s (any cause)" % alarm


def check_events(events, expectation):
    """Differences between events (dicts) and an expectation: a list of lines."""
    raised = [e for e in events if e.get("event") == "alarm_raised"]
    problems = []
    for alarm, cause, lo, hi in expectation["raised"]:
        same = [e for e in raised if e.get("alarm") == alarm
                and (cause is None or e.get("cause") == cause)]
        inside = [e for e in same if e["t_ms"] >= lo * 1000
                  and (hi is None or e["t_ms"] <= hi * 1000)]
        if not inside:
            window = "from %s s" % lo if hi is None else "between %s s and %s s" % (lo, hi)
            got = ", ".join("%s at %.0f s" % (_name(e["alarm"], e.get("cause")),
                                              e["t_ms"] / 1000) for e in same) or "never"
            problems.append("- missing: %s raised %s (raised: %s)"
                            % (_name(alarm, cause), window, got))
    if expectation["no_other_high"]:
        for e in raised:
            if e.get("priority") != "high":
                continue
            if any(e.get("alarm") == a and (c is None or e.get("cause") == c)
                   for a, c, _lo, _hi in expectation["raised"]):
                continue
            problems.append("+ unexpected: %s (high) raised at %.0f s"
                            % (_name(e["alarm"], e.get("cause")), e["t_ms"] / 1000))
    return problems
