"""The board's event log, decoded on the host (docs/log-format.md); the
command is host_tools/commands/log.py.

decode verifies every record's CRC32 and the sequence numbers, and says where
records are missing, corrupt or torn (on stderr for --json/--csv, in the
table otherwise). Exit status 0 only when the log is whole, 1 when problems
are reported (the records that can be read are still decoded: a segment that
cannot be read at all is one problem line), 2 when the input cannot be used
at all (no such file or folder, no segment in it).

This reader is written from docs/log-format.md with `struct` only (a second,
independent implementation of the format); the firmware's writer is
firmware/pumpmon/eventlog.py. Names of conditions and details come from the
firmware's tables (pumpmon.alarms) so they cannot drift; the record codes'
names are the host's (lognames.py): the board does not carry them.
"""
import csv
import datetime
import json
import os
import re
import struct
import zlib
from pathlib import Path

from host_tools.formats.lognames import EVENTS, RESET_CAUSES
from pumpmon import alarms as A
from pumpmon import eventlog as _fw_log
from pumpmon import service

REC = 40
MAGIC = 0xA5
FMT = "<BBBBIIHHIiiiiI"
UNKNOWN = -2147483648
SEG_RE = re.compile(r"^ev(\d{8})\.bin$")

# the names are lognames.py's (the firmware's tables, and the record codes'
# names the board does not carry); the layout above is read independently
# from docs/log-format.md
STATE = ("ok", "none", "corrupt")


class LogError(Exception):
    """Input that cannot be read at all (exit status 2)."""


class Record:
    __slots__ = ("file", "offset", "code", "cond", "detail", "seq", "up_s", "up_ms",
                 "shown", "wall", "v")

    def __init__(self, file, offset, fields):
        (_m, self.code, self.cond, self.detail, self.seq, self.up_s, self.up_ms,
         self.shown, self.wall, v0, v1, v2, v3, _crc) = fields
        self.file = file
        self.offset = offset
        self.v = (v0, v1, v2, v3)


def parse_segment(path):
    """(records, problems) of one segment file; problems are (file, offset, text)."""
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        # one unreadable segment (a folder in its place, no permission) is a
        # problem of the log, not the end of the reading: the rest is decoded
        return [], [(name, None, "cannot read this segment: %s" % (e.strerror or e))]
    recs = []
    probs = []
    magic_seen = 0
    for off in range(0, len(data), REC):
        chunk = data[off:off + REC]
        if chunk[0] == MAGIC:
            magic_seen += 1
        if len(chunk) < REC:
            probs.append((name, off, "torn record at the end (%d of %d bytes): a write "
                          "cut short" % (len(chunk), REC)))
            break
        fields = struct.unpack(FMT, chunk)
        if chunk[0] != MAGIC or zlib.crc32(chunk[:36]) != fields[-1]:
            last = off + REC >= len(data)
            probs.append((name, off, "bad record (checksum)%s" %
                          (" at the end: a torn write" if last else "")))
            continue
        recs.append(Record(name, off, fields))
    if data and not recs and not magic_seen:
        raise LogError("%s: not a pumpmon event log (no record found)" % path)
    return recs, probs


def collect(paths):
    """Segment files named by FILE or DIR arguments, oldest first."""
    files = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            segs = sorted(q for q in p.iterdir() if SEG_RE.match(q.name))
            if not segs and (p / "log").is_dir():
                segs = sorted(q for q in (p / "log").iterdir() if SEG_RE.match(q.name))
            if not segs:
                raise LogError("%s: no log segments (ev########.bin) in this folder" % p)
            files += segs
        elif p.exists():
            files.append(p)
        else:
            raise LogError("%s: no such file or folder" % p)
    if all(SEG_RE.match(f.name) for f in files):
        files.sort(key=lambda f: int(SEG_RE.match(f.name).group(1)))
    return files


def decode(paths):
    """(records in log order, problems in order) for FILE/DIR arguments.
    Problems: (file, offset or None, text)."""
    files = collect(paths)
    per_file = [parse_segment(f) for f in files]
    if not all(SEG_RE.match(f.name) for f in files):
        # not named as the board names them: order by first sequence number
        per_file.sort(key=lambda rp: rp[0][0].seq if rp[0] else 1 << 40)
    recs = []
    probs = []
    prev = None
    for (rs, ps) in per_file:
        items = [(r.offset, 0, r) for r in rs] + [(p[1], 1, p) for p in ps]
        items.sort(key=lambda x: (x[0], x[1]))
        for _off, kind, it in items:
            if kind:
                probs.append(it)
                recs.append(it)      # a problem keeps its place among the records
                continue
            r = it
            if prev is not None:
                if r.seq > prev + 1:
                    n = r.seq - prev - 1
                    p = (r.file, r.offset, "%d record%s missing: seq %d%s" % (
                        n, "s" if n > 1 else "", prev + 1,
                        "" if n == 1 else "..%d" % (r.seq - 1)))
                    probs.append(p)
                    recs.append(p)
                elif r.seq <= prev:
                    p = (r.file, r.offset, "sequence goes back from %d to %d (log erased "
                         "or reset?)" % (prev, r.seq))
                    probs.append(p)
                    recs.append(p)
            prev = r.seq
            recs.append(r)
    return recs, probs


# ---- presentation ---------------------------------------------------------------
def _cond_name(c):
    if c >= A.N_CONDITIONS:
        return None
    kind, prio, cause = A.TABLE[c]
    return A.KIND_NAMES[kind], A.PRIORITY_NAMES[prio], cause


def _mask_names(mask):
    out = []
    for i in range(A.N_CONDITIONS):
        if mask & (1 << i):
            kind, _p, cause = A.TABLE[i]
            out.append("%s/%s" % (A.KIND_NAMES[kind], cause))
    return out


def _detail(d):
    return A.DETAIL_NAMES[d] if 0 < d < len(A.DETAIL_NAMES) else ("" if d == 0 else str(d))


def _name(names, i):
    return names[i] if 0 <= i < len(names) and names[i] else str(i)


def _flow(v):
    return None if v == UNKNOWN else v / 10.0


def _int(v):
    return None if v == UNKNOWN else v


def to_dict(r):
    """One record as a JSON-ready dict (keys in a fixed order)."""
    d = {"seq": r.seq, "uptime_ms": r.up_s * 1000 + r.up_ms,
         "wall": (datetime.datetime.fromtimestamp(r.wall, datetime.timezone.utc)
                  .strftime("%Y-%m-%dT%H:%M:%S") if r.wall else None),  # local: no Z
         "event": EVENTS.get(r.code, "code_%d" % r.code)}
    c = _cond_name(r.cond)
    v0, v1, v2, v3 = r.v
    if c:
        d["alarm"], d["priority"], d["cause"] = c
    if r.code <= 7:     # the alarm manager's events (manager.EV_*)
        if r.detail:
            d["detail"] = _detail(r.detail)
        d.update(level_ul=_int(v0), flow_ul_h=_flow(v1), programmed_ul_h=_flow(v2),
                 days_to_empty=_flow(v3))
    elif r.code == 16:
        d.update(reset_cause=RESET_CAUSES[r.detail] if r.detail < len(RESET_CAUSES)
                 else str(r.detail), restored=_mask_names(v0), restored_acked=_mask_names(v1),
                 state_file=STATE[v2] if 0 <= v2 < len(STATE) else str(v2), paused_at_reset=bool(v3))
    elif r.code == 17:
        d.update(level_ul=_int(v0), flow_ul_h=_flow(v1), programmed_ul_h=_flow(v2),
                 days_to_empty=_flow(v3))
    elif r.code in (18, 19):
        d["level_ul"] = _int(v0)
    elif r.code == 20:
        d.update(config_crc="%08x" % (v0 & 0xFFFFFFFF), changed=bool(v1), daily_ul=v2,
                 rate_ul_h=v3 / 10.0)
        if r.detail:
            d["detail"] = _detail(r.detail)
    elif r.code == 21:
        d.update(detail=_detail(r.detail), faults=v0)
    elif r.code == 22:
        d.update(lost=v0, errno=v1)
    elif r.code == _fw_log.MONITORING_STOPPED:
        d.update(detail=_name(service.STOP_NAMES, r.detail),
                 service=_name(service.SERVICE_WHY, v0) if r.detail == service.STOP_SERVICE
                 else None)
    elif r.code == _fw_log.MONITORING_RESUMED:   # issue 28: service mode ended by itself
        from pumpmon.servicehold import RESUME_NAMES
        d.update(detail=_name(RESUME_NAMES, r.detail), stopped_s=v0,
                 service=_name(service.SERVICE_WHY, v1))
    elif r.code == _fw_log.LOG_DAMAGED:
        d.update(damaged=v0, segment=v1, torn=bool(v2))
    elif r.code == _fw_log.DISPLAY:
        d["display"] = "failed" if v0 else "working again"
    elif r.code == _fw_log.DEMO:
        what = {1: "started", 0: "ended", 2: "refused"}.get(r.detail, str(r.detail))
        d["demo"] = what
        if r.detail == 0:
            d["why"] = {0: "done", 1: "alarm", 2: "press"}.get(v0, str(v0))
        else:
            d["source"] = {1: "button", 2: "console"}.get(v0, str(v0))
    elif r.code == 25:      # config_changed (issue 12): old and new value
        from pumpmon.configlog import KEYS
        key = KEYS[r.detail] if r.detail < len(KEYS) else str(r.detail)
        d["setting"] = key
        if key == "schedule":
            d.update(old_daily_ul=v0, new_daily_ul=v1, old_first_rate_ul_h=v2 / 10.0,
                     new_first_rate_ul_h=v3 / 10.0)
        elif key in ("pump_stopped", "mqtt_tls"):
            d.update(old="true" if v0 else "false", new="true" if v1 else "false")
        elif v2 == 1 and key in ("wifi_ssid", "wifi_password", "mqtt_host", "mqtt_user",
                                 "mqtt_password", "mqtt_ca", "mqtt_fingerprint"):
            # text: never its value in the log (a secret may be among them)
            d.update(old="set" if v0 else "unset", new="set" if v1 else "unset",
                     changed=True)
        else:
            d.update(old="%g" % (v0 / 1000.0) if v0 != UNKNOWN else "unset",
                     new="%g" % (v1 / 1000.0) if v1 != UNKNOWN else "unset")
    elif r.code == _fw_log.FIRMWARE:     # which firmware runs (issue 27, identity.py)
        d.update(_firmware(r.detail, v0, v1, v2, v3))
    elif r.code == _fw_log.RECORDS_HELD:   # chatter held back (issue 28, docs/log-format.md)
        d.update(held_event=EVENTS.get(r.detail, str(r.detail)), held=v0, over_s=v1)
        if r.detail == _fw_log.CARER_LINK:
            d.update({"last_" + k: x for k, x in _carer_link(v2, v3, 0).items()})
    elif r.code == _fw_log.CARER_LINK:   # the carers' link (issue 16, docs/carer.md)
        d.update(_carer_link(r.detail, v0, v1))
    elif r.code == _fw_log.CARER_COMING:   # "I am coming" (issue 28, docs/carer.md)
        d.update(contact=r.detail, escalated=bool(v0))
    elif r.code == 24:      # power_on_test (issue 12)
        d.update(result="passed" if v0 == 1 else "failed", failed_calls=v1)
    elif r.code == 23:      # monitoring_interrupted (issue 12)
        d.update(reset_cause=RESET_CAUSES[r.detail] if r.detail < len(RESET_CAUSES)
                 else str(r.detail), off_s=_int(v0),
                 off=_duration(v0) if v0 != UNKNOWN else "unknown (no clock)",
                 last_alive=(datetime.datetime.fromtimestamp(v1 & 0xFFFFFFFF, datetime.timezone.utc)
                             .strftime("%Y-%m-%dT%H:%M:%S") if v1 else None))
    else:
        d["values"] = list(r.v)
    d["shown"] = _mask_names(r.shown)
    d["file"] = r.file
    d["offset"] = r.offset
    return d


def _firmware(change, ver, mid, pver, pmid):
    from pumpmon import identity as I
    d = {"firmware": I.version_text(ver), "manifest": I.id_text(mid),
         "change": _name(I.CHANGES, change)}
    if change == I.FLASHED:
        d.update(previous_firmware=I.version_text(pver), previous_manifest=I.id_text(pmid))
    return d


def _carer_link(state, code, retry_s):
    from carerlink.link import REFUSED, STATES
    d = {"link": _name(STATES, state)}
    if code > 2000:
        from carerlink.wire import E_CA_FILE, E_PIN, E_UNTRUSTED
        d["error"] = {E_UNTRUSTED: "broker certificate not trusted (mqtt_ca)",
                      E_PIN: "broker certificate does not match mqtt_fingerprint",
                      E_CA_FILE: "mqtt_ca cannot be read"}.get(code, "tls %d" % code)
    elif code > 1000:
        rc = code - 1000
        d["error"] = "broker refused: %s" % (REFUSED[rc] if rc < len(REFUSED) else rc)
    elif code:
        d["error"] = "errno %d (%s)" % (code, os.strerror(code))
    if retry_s:
        d["retry_s"] = retry_s
    return d


_SKIP = ("seq", "uptime_ms", "wall", "event", "alarm", "priority", "cause", "file",
         "offset", "shown")


def _text(d):
    """The record's values as short key=value text."""
    out = []
    for k, v in d.items():
        if k in _SKIP or v is None or v == [] or v == "":
            continue
        if isinstance(v, list):
            v = ",".join(v)
        elif isinstance(v, float):
            v = "%g" % v
        out.append("%s=%s" % (k, v))
    return " ".join(out)


def _duration(s):
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return "%dh%02dm%02ds" % (h, m, s)


def _uptime(ms):
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    dd, h = divmod(h, 24)
    return "%d+%02d:%02d:%02d.%03d" % (dd, h, m, s, ms)


def _where(p):
    return "%s @%d" % (p[0], p[1]) if p[1] is not None else p[0]


TABLE_HEADER = ("seq", "uptime d+h:m:s", "wall (board)", "event", "alarm", "values")


def table_rows(items):
    """(row tuples of text, indexes of the problem rows) for the table."""
    rows = []
    problems = []
    for it in items:
        if isinstance(it, tuple):
            problems.append(len(rows))
            rows.append(("", "", "", "!! problem", "", "%s: %s" % (_where(it), it[2])))
            continue
        d = to_dict(it)
        alarm = "%s/%s (%s)" % (d["alarm"], d["cause"], d["priority"]) if "alarm" in d else "-"
        rows.append((str(d["seq"]), _uptime(d["uptime_ms"]), d["wall"] or "-", d["event"],
                     alarm, _text(d)))
    return rows, problems


def write_table(items, out):
    """The plain table: whole lines (for a pipe or a file)."""
    fmt = "%8s  %-16s  %-20s  %-24s  %-32s  %s\n"
    out.write(fmt % TABLE_HEADER)
    rows, problems = table_rows(items)
    for i, row in enumerate(rows):
        out.write(("%8s  !! %s\n" % ("", row[5])) if i in problems else fmt % row)


CSV_COLUMNS = ("seq", "uptime_ms", "wall", "event", "alarm", "priority", "cause",
               "values", "shown", "file", "offset")


def write_csv(items, out):
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for it in items:
        if isinstance(it, tuple):
            continue
        d = to_dict(it)
        w.writerow([d["seq"], d["uptime_ms"], d["wall"] or "", d["event"], d.get("alarm", ""),
                    d.get("priority", ""), d.get("cause", ""), _text(d), ";".join(d["shown"]),
                    d["file"], d["offset"]])


def write_json(items, out):
    for it in items:
        if not isinstance(it, tuple):
            out.write(json.dumps(to_dict(it)) + "\n")


def summary(recs, probs):
    rs = [r for r in recs if not isinstance(r, tuple)]
    if not rs:
        return "no valid record; %d problem%s" % (len(probs), "" if len(probs) == 1 else "s")
    return "%d record%s, seq %d..%d, %d problem%s" % (
        len(rs), "" if len(rs) == 1 else "s", rs[0].seq, rs[-1].seq, len(probs),
        "" if len(probs) == 1 else "s")
