"""`pumpmon log`: read the board's event log (docs/log-format.md).

  pumpmon log decode FILE...|DIR [--json | --csv]
  pumpmon log pull --port PORT [--dest DIR] [--remote-dir /log] [--no-restart]

decode verifies every record's CRC32 and the sequence numbers, and says where
records are missing, corrupt or torn (on stderr for --json/--csv, in the
table otherwise). Exit status 2 only when the input cannot be read; damage in
a readable log is reported, not fatal.

This reader is written from docs/log-format.md with `struct` only (a second,
independent implementation of the format); the firmware's writer is
firmware/pumpmon/eventlog.py. Names of conditions and details come from the
firmware's tables (pumpmon.alarms) so they cannot drift.
"""
import argparse
import csv
import datetime
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from host_tools.paths import tool
from pumpmon import alarms as A

REC = 40
MAGIC = 0xA5
FMT = "<BBBBIIHHIiiiiI"
UNKNOWN = -2147483648
SEG_RE = re.compile(r"^ev(\d{8})\.bin$")

EVENTS = {
    1: "alarm_raised", 2: "alarm_condition_cleared", 3: "alarm_cleared",
    4: "alarm_acknowledged", 5: "audio_paused", 6: "audio_resumed",
    16: "boot", 17: "status", 18: "refill_start", 19: "refill_end", 20: "config",
    21: "internal_fault", 22: "log_resumed",
}
RESET_CAUSES = ("unknown", "power_on", "soft", "watchdog", "brownout", "hard", "deepsleep")
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
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise LogError("%s: cannot read: %s" % (path, e.strerror or e))
    name = Path(path).name
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
    if r.code <= 6:
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
    else:
        d["values"] = list(r.v)
    d["shown"] = _mask_names(r.shown)
    d["file"] = r.file
    d["offset"] = r.offset
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


def _uptime(ms):
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    dd, h = divmod(h, 24)
    return "%d+%02d:%02d:%02d.%03d" % (dd, h, m, s, ms)


def _where(p):
    return "%s @%d" % (p[0], p[1]) if p[1] is not None else p[0]


def write_table(items, out):
    out.write("%8s  %-16s  %-20s  %-24s  %-32s  %s\n" % (
        "seq", "uptime d+h:m:s", "wall (board)", "event", "alarm", "values"))
    for it in items:
        if isinstance(it, tuple):
            out.write("%8s  !! %s: %s\n" % ("", _where(it), it[2]))
            continue
        d = to_dict(it)
        alarm = "%s/%s (%s)" % (d["alarm"], d["cause"], d["priority"]) if "alarm" in d else "-"
        out.write("%8d  %-16s  %-20s  %-24s  %-32s  %s\n" % (
            d["seq"], _uptime(d["uptime_ms"]), d["wall"] or "-", d["event"], alarm, _text(d)))


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


# ---- commands -------------------------------------------------------------------
def add_arguments(parser):
    sub = parser.add_subparsers(dest="log_command", metavar="SUBCOMMAND")
    sub.required = True
    d = sub.add_parser("decode", help="decode log segments to a table, JSON Lines or CSV",
                       description="Decode event log segments (files, or a folder of "
                       "ev########.bin), verify checksums and sequence numbers.")
    d.add_argument("paths", nargs="+", metavar="FILE|DIR")
    _format_args(d)
    d.set_defaults(_log_run=run_decode)
    p = sub.add_parser("pull", help="fetch the log segments from a board with mpremote, "
                       "then decode them",
                       description="Copy the board's log folder with mpremote into DEST, "
                       "then decode it. The board's main loop is interrupted for the copy "
                       "and restarted afterwards (a soft reset) unless --no-restart.")
    p.add_argument("--port", required=True,
                   help="serial device, or socket://host:port (what mpremote connect takes)")
    p.add_argument("--dest", help="local folder (default: log-YYYYmmdd-HHMMSS)")
    p.add_argument("--remote-dir", default="/log", help="the log folder on the board (/log)")
    p.add_argument("--no-restart", action="store_true",
                   help="leave the board at its REPL instead of restarting the monitor")
    p.add_argument("--mpremote", default=None, help=argparse.SUPPRESS)
    _format_args(p)
    p.set_defaults(_log_run=run_pull)


def _format_args(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="JSON Lines, one record a line")
    g.add_argument("--csv", action="store_true", help="CSV with a header row")


def run(args):
    return args._log_run(args)


def _emit(args, paths, out=None, err=None):
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        items, probs = decode(paths)
    except LogError as e:
        err.write("pumpmon log: %s\n" % e)
        return 2
    if args.json:
        write_json(items, out)
    elif args.csv:
        write_csv(items, out)
    else:
        write_table(items, out)
    out.flush()
    if args.json or args.csv:
        for p in probs:
            err.write("%s: %s\n" % (_where(p), p[2]))
    err.write("%s\n" % summary(items, probs))
    return 0


def run_decode(args):
    return _emit(args, args.paths)


def _mpremote(args):
    if args.mpremote:
        return [args.mpremote]
    exe = tool("mpremote")
    return [exe] if exe else [sys.executable, "-m", "mpremote"]


def restart(port):
    """Soft-reset the board from its friendly REPL, so main.py runs again."""
    import serial
    s = serial.serial_for_url(port, timeout=1) if "://" in port else \
        serial.Serial(port, 115200, timeout=1)
    try:
        s.write(b"\r\x03\x03\x02\r\x04")   # interrupt, friendly REPL, Ctrl-D
        s.flush()
    finally:
        s.close()


def run_pull(args):
    dest = Path(args.dest or datetime.datetime.now().strftime("log-%Y%m%d-%H%M%S"))
    try:
        dest.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".pull-", dir=dest))
    except OSError as e:
        sys.stderr.write("pumpmon log: %s: cannot create: %s\n" % (dest, e.strerror or e))
        return 2
    try:
        remote = ":" + args.remote_dir.rstrip("/")
        # `resume`: no soft reset before the copy (mpremote interrupts the loop
        # with Ctrl-C). The destination exists, so the folder is copied into it
        # as stage/<name> (mpremote 1.29 copies a folder without subfolders to
        # a new destination as if it were a file, and fails).
        cmd = _mpremote(args) + ["connect", args.port, "resume", "fs", "cp", "-r", remote,
                                 str(stage)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            sys.stderr.write("pumpmon log: mpremote failed: %s\n" % e)
            return 2
        if r.returncode != 0:
            msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
            sys.stderr.write("pumpmon log: %s: mpremote could not copy %s: %s\n" % (
                args.port, remote[1:], msg[-1] if msg else "exit %d" % r.returncode))
            return 2
        sub = stage / remote.rstrip("/").split("/")[-1].lstrip(":")
        got = sorted(q for q in sub.glob("ev*.bin") if SEG_RE.match(q.name)) \
            if sub.is_dir() else []
        if not got:
            sys.stderr.write("pumpmon log: %s: no log segments in %s on the board\n" % (
                args.port, remote[1:]))
            return 2
        for old in dest.iterdir():       # earlier copies: the board's set replaces them
            if SEG_RE.match(old.name):
                old.unlink()
        for q in got:
            shutil.move(str(q), str(dest / q.name))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if not args.no_restart:
        try:
            restart(args.port)
        except Exception as e:  # noqa: BLE001 - the copy worked; say what to do
            sys.stderr.write("pumpmon log: could not restart the board (%s): reset it by hand\n"
                             % e)
    sys.stderr.write("pumpmon log: %d segment%s copied to %s\n" % (
        len(got), "" if len(got) == 1 else "s", dest))
    return _emit(args, [str(dest)])


def main(argv=None):
    p = argparse.ArgumentParser(prog="pumpmon log")
    add_arguments(p)
    args = p.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
