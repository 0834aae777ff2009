"""Writing trace v1 (docs/trace-format.md): metadata, the header row, then
the rows, streamed (a trace of weeks is never held in memory). The columns'
units and formats are host_tools/formats/trace_columns.py, shared with the
reader (host_tools/formats/trace.py, which re-exports write_trace).
"""
from host_tools.formats.trace_columns import MAGIC, VERSION, format_flow, format_level


def write_trace(path_or_file, meta, samples):
    """Write a v1 trace: metadata (dict, insertion order kept) then the rows.

    samples: iterable of (t_ms, level_ul|None, flow_dul|None, flags, button,
    refill) in firmware units (as samples() yields them). The button, refill
    and flow_flags columns are always written. Returns the number of rows."""
    if isinstance(path_or_file, (str, bytes)) or hasattr(path_or_file, "__fspath__"):
        with open(path_or_file, "w", encoding="utf-8", newline="\n") as f:
            return write_trace(f, meta, samples)
    f = path_or_file
    out = ["# %s v%s\n" % (MAGIC, VERSION)]
    for k, v in meta.items():
        if k == MAGIC:
            continue
        k = str(k)
        v = str(v)
        if not k or "=" in k or "\n" in k + v or " " in k:
            raise ValueError("bad metadata key or value: %r=%r" % (k, v))
        out.append("# %s=%s\n" % (k, v))
    out.append("t_ms,reservoir_ml,flow_ul_h,button,refill,flow_flags\n")
    f.write("".join(out))
    n = 0
    buf = []
    for t, level, flow, flags, button, refill in samples:
        buf.append("%d,%s,%s,%d,%d,%d\n" % (t, format_level(level), format_flow(flow),
                                          button, refill, flags))
        n += 1
        if len(buf) >= 4096:
            f.write("".join(buf))
            buf = []
    f.write("".join(buf))
    return n

