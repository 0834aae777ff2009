"""Can the monitor judge a trace as it is written? `pumpmon trace check`'s
warnings (docs/trace-format.md).

A trace may be valid and still not say what its writer meant: the firmware
reads its sensors once a second, and a replay takes a second without a row
as a second without a reading. A hand-written trace with a row a minute is
then a flow sensor that falls silent within seconds (malfunction/flow_sensor),
a trace with no level readings a silent level sensor, a flow column that
never changes a stuck one. Each warning names where and what the monitor
will make of it, with the limits of the trace's own settings (its metadata
through pumpmon.config).
"""
from host_tools.formats.trace import read_trace
from host_tools.terminal import fmt_t

SPARSE_FRACTION = 0.75      # the engine wants readings in 75 % of the seconds (engine.py)
SPARSE_MIN = 45             # ... judged a minute at a time: 45 of 60


def warnings(path):
    """[text] of the reasons the monitor cannot judge this trace as written
    (empty: it can). The trace must be valid (trace.validate) first."""
    tr = read_trace(path)
    cfg = tr.config()
    flow_fault_ms = cfg.flow_fault_s * 1000
    level_fault_ms = cfg.level_fault_s * 1000
    stuck_ms = cfg.flow_stuck_s * 1000
    first = last = None
    last_flow = last_level = None     # t of the last reading of each
    flow_gap = level_gap = None       # (length ms, from t) of the first gap too long
    same_from, same_v, stuck = None, None, None
    n_flow = n_level = rows = 0
    bucket, in_bucket, sparse = None, 0, None   # flow readings a minute; first sparse one
    intervals = []
    prev = None
    for s in tr.samples():
        t, level, flow = s[0], s[1], s[2]
        rows += 1
        if first is None:
            first = last_flow = last_level = t
        if prev is not None and len(intervals) < 10000:
            intervals.append(t - prev)
        prev = last = t
        if flow is not None:
            n_flow += 1
            if flow_gap is None and t - last_flow > flow_fault_ms:
                flow_gap = (t - last_flow, last_flow)
            last_flow = t
            b = (t - first) // 60000
            if b != bucket:
                if sparse is None and bucket is not None and in_bucket < SPARSE_MIN:
                    sparse = bucket
                bucket, in_bucket = b, 0
            in_bucket += 1
            if flow != same_v:
                same_from, same_v = t, flow
            elif stuck is None and t - same_from >= stuck_ms and flow != 0 and \
                    flow < cfg.flow_max and not s[3] & 2:
                # (a reading at full scale, or flagged saturated, is the
                # sensor's ceiling: the monitor judges it as a dump or out of
                # range against the level, never as stuck: engine.md)
                stuck = same_from
        if level is not None:
            n_level += 1
            if level_gap is None and t - last_level > level_fault_ms:
                level_gap = (t - last_level, last_level)
            last_level = t
    if flow_gap is None and last is not None and last - last_flow > flow_fault_ms:
        flow_gap = (last - last_flow, last_flow)          # silent to the end
    if level_gap is None and last is not None and last - last_level > level_fault_ms:
        level_gap = (last - last_level, last_level)
    out = []
    if rows < 2:
        return ["only %d row: nothing to judge" % rows] if rows else ["no rows"]
    span_s = max(1, (last - first) // 1000 + 1)
    intervals.sort()
    step = intervals[len(intervals) // 2]
    if step > 1000:
        out.append("rows are %s apart (the monitor reads its sensors every second, and a "
                   "second without a row is a second without a reading): write a row a "
                   "second, as `pumpmon trace gen` does" % _dur(step))
    if n_flow == 0:
        out.append("no flow readings at all: the flow sensor is silent from the start "
                   "(malfunction/flow_sensor within %d s)" % cfg.flow_fault_s)
    elif flow_gap is not None:
        out.append("no flow reading for %s from t=%s: the monitor judges the flow sensor "
                   "silent after %d s (malfunction/flow_sensor)"
                   % (_dur(flow_gap[0]), fmt_t(flow_gap[1]), cfg.flow_fault_s))
    elif n_flow < SPARSE_FRACTION * span_s or sparse is not None:
        out.append("flow readings in %d%% of the seconds%s: under %d a minute the monitor "
                   "judges the flow sensor too sparse (malfunction/flow_sensor)"
                   % (n_flow * 100 // span_s, "" if sparse is None else
                      ", fewer than %d in the minute from t=%s" % (SPARSE_MIN,
                                                                 fmt_t(sparse * 60000)),
                      SPARSE_MIN))
    if n_level == 0:
        out.append("no reservoir level readings (the reservoir_ml column is empty): "
                   "the level sensor is silent (malfunction/level_sensor) and the "
                   "reservoir cannot be judged")
    elif level_gap is not None:
        out.append("no level reading for %s from t=%s: the monitor judges the level sensor "
                   "silent after %d s (malfunction/level_sensor)"
                   % (_dur(level_gap[0]), fmt_t(level_gap[1]), level_fault_ms // 1000))
    if stuck is not None:
        out.append("the flow reading does not change for %d s from t=%s: a real sensor's "
                   "readings vary; the monitor takes one that does not for stuck "
                   "(malfunction/flow_sensor)" % (cfg.flow_stuck_s, fmt_t(stuck)))
    return out


def _dur(ms):
    return "%d s" % (ms // 1000) if ms < 120000 else "%.0f min" % (ms / 60000.0)
