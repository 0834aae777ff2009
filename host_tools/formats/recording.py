"""`pumpmon trace record`: fetch the board's sensor recording and write trace v1.

    pumpmon trace record --port PORT --out FILE [--since DUR | --last DUR] [--boot N|last]
    pumpmon trace record --from DIR  --out FILE [...]      a copy of the board's /rec (+ config.json)

The board's recorder (firmware/pumpmon/recorder.py) keeps every sensor sample
the engine saw in a ring of segment files (`/rec/tr########.bin`, format in
docs/recording.md). This module is a second, independent reader of that
format (struct and binascii only), and turns the samples into a trace v1
(host_tools.formats.trace.write_trace) whose metadata are the board's settings
(config.json), so `pumpmon replay` judges against what the pump was
programmed to do.

Time: a sample's t_ms is its second since the board booted x 1000, which is
exactly the engine's own second count (the Runner steps the engine once per
second from its boot), so a replay of one boot session steps the engine at
the same seconds as the board did. Several boot sessions are joined end to
end (the next one 1 s after the last sample of the one before; the time the
board was off is not known) and listed in the `boots` metadata.
"""
import argparse
import binascii
import datetime
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools.paths import micropython_env, tool
from host_tools.formats.trace import CONFIG_KEYS, write_trace

REC = 10
SEG_RE = re.compile(r"^tr(\d{8})\.bin$")
KIND_SAMPLE, KIND_BOOT, KIND_CONT = 5, 6, 7
NONE = -1048576
RESET_CAUSES = ("unknown", "power_on", "soft", "watchdog", "brownout", "hard", "deepsleep")


class RecError(Exception):
    """Input that cannot be used at all (exit status 2)."""


class Session:
    """The samples of one boot: (sec, level_ul|None, flow_dul|None, flags, button, refill)."""

    def __init__(self, boot, cause, partial):
        self.boot = boot
        self.cause = cause          # reset cause name, None when the boot header is gone
        self.partial = partial      # its start was rotated out of the ring
        self.samples = []
        self.resumed = 0            # headers written after write errors
        self.same_second = 0        # two samples in one engine second (loop fell behind)


def _signed21(v):
    return v - 0x200000 if v & 0x100000 else v


def parse_record(rec):
    """One 10-byte slot -> a tuple, or None when it is not a valid record.
    sample: (5, sec_low8, level, flow, flags, button, refill); header: (kind, sec, boot, byte1)."""
    if len(rec) != REC:
        return None
    kind = rec[7] >> 4
    if kind not in (KIND_SAMPLE, KIND_BOOT, KIND_CONT):
        return None
    if binascii.crc_hqx(bytes(rec[:8]), 0xFFFF) != rec[8] | (rec[9] << 8):
        return None
    w = int.from_bytes(rec[2:8], "little")
    if kind == KIND_SAMPLE:
        lv = _signed21(w & 0x1FFFFF)
        fl = _signed21((w >> 21) & 0x1FFFFF)
        return (kind, rec[0], None if lv == NONE else lv, None if fl == NONE else fl,
                rec[1], (w >> 42) & 1, (w >> 43) & 1)
    hi = (w >> 24) & 0xFFFFF
    return (kind, (hi << 8) | rec[0], w & 0xFFFFFF, rec[1])


def segment_files(paths):
    """Segment files of the given files and folders, in ring order."""
    found = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found += [q for q in p.iterdir() if SEG_RE.match(q.name)]
        elif p.exists():
            if not SEG_RE.match(p.name):
                raise RecError("%s: not a recording segment (tr########.bin)" % p)
            found.append(p)
        else:
            raise RecError("%s: no such file or folder" % p)
    return sorted(set(found), key=lambda q: int(SEG_RE.match(q.name).group(1)))


def parse_ring(paths):
    """(sessions, problems): every boot session in the ring, oldest first, and
    what is damaged or missing, as (file, offset, text)."""
    files = segment_files(paths)
    sessions = []
    probs = []
    cur = None
    last_n = None
    for path in files:
        n = int(SEG_RE.match(path.name).group(1))
        if last_n is not None and n != last_n + 1:
            probs.append((path.name, 0, "segments %d-%d are missing" % (last_n + 1, n - 1)))
        last_n = n
        try:
            data = path.read_bytes()
        except OSError as e:
            raise RecError("%s: cannot read: %s" % (path, e.strerror or e))
        sec = None            # the full second of the previous record in this segment
        prev_sample = False
        orphans = 0
        for off in range(0, len(data), REC):
            chunk = data[off:off + REC]
            if len(chunk) < REC:
                probs.append((path.name, off, "torn record at the end (%d of %d bytes): "
                              "a write cut short" % (len(chunk), REC)))
                break
            r = parse_record(chunk)
            if r is None:
                probs.append((path.name, off, "corrupt record (bad CRC or kind)"))
                continue
            if r[0] == KIND_BOOT:
                cur = Session(r[2], RESET_CAUSES[r[3]] if r[3] < len(RESET_CAUSES)
                              else "code %d" % r[3], False)
                sessions.append(cur)
                sec = r[1]
                prev_sample = False
            elif r[0] == KIND_CONT:
                if cur is None or cur.boot != r[2]:
                    cur = Session(r[2], None, True)
                    sessions.append(cur)
                if r[3] == 1:
                    cur.resumed += 1
                sec = r[1]
                prev_sample = False
            else:
                if sec is None:
                    orphans += 1
                    continue
                d = (r[1] - sec) & 0xFF
                if d == 0 and prev_sample:
                    cur.same_second += 1
                sec += d
                cur.samples.append((sec,) + r[2:])
                prev_sample = True
        if orphans:
            probs.append((path.name, 0, "%d sample(s) before the segment's first valid header "
                          "(cannot be placed in time)" % orphans))
    return sessions, probs


def parse_duration(text):
    """'90s', '15m', '2h', '1d', '1h30m', '3600' (seconds) -> ms; ValueError."""
    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return int(float(t) * 1000)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", t)
    if not parts or "".join(a + b for a, b in parts) != t:
        raise ValueError("%r is not a duration (e.g. 90s, 15m, 2h, 1h30m, 1d)" % text)
    unit = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}
    return int(sum(float(a) * unit[b] for a, b in parts))


def trace_rows(sessions):
    """(rows, boots): trace samples with t_ms, sessions joined end to end, and
    [(t_ms of the session's first row, boot, cause, partial)]."""
    rows = []
    boots = []
    offset = 0
    prev_t = -1
    for s in sessions:
        if not s.samples:
            continue
        first = True
        if not s.partial and s.samples[0][0] > 0:
            # the engine started at the boot, a little before its first
            # sample: a row without readings at the boot makes the replay's
            # engine start there too (it saw nothing in between either)
            t = offset
            if t > prev_t:
                boots.append((t, s.boot, s.cause, s.partial))
                first = False
                rows.append((t, None, None, 0, 0, 0))
                prev_t = t
        for smp in s.samples:
            t = offset + smp[0] * 1000
            if t <= prev_t:
                # two samples in one engine second (the loop fell behind and
                # resynchronised): the second row stays inside that second, as
                # the engine saw it
                t = prev_t + max(1, (1000 - prev_t % 1000) // 2)
            if first:
                boots.append((t, s.boot, s.cause, s.partial))
                first = False
            rows.append((t,) + tuple(smp[1:]))
            prev_t = t
        offset = (prev_t // 1000 + 1) * 1000
    return rows, boots


def select(sessions, boot=None):
    if boot is None:
        return sessions
    if boot == "last":
        with_samples = [s for s in sessions if s.samples]
        return with_samples[-1:]
    return [s for s in sessions if s.boot == boot]


def window(rows, since_ms=None, last_ms=None):
    if not rows:
        return rows
    if since_ms is not None:
        t0 = rows[0][0] + since_ms
        rows = [r for r in rows if r[0] >= t0]
    if last_ms is not None and rows:
        t0 = rows[-1][0] - last_ms
        rows = [r for r in rows if r[0] > t0]
    return rows


def metadata(board_info, boots, rows, excerpt):
    """Trace metadata: the board's settings first (what the replay judges
    against), then where the recording comes from."""
    meta = {}
    cfg = board_info.get("config_values")
    if cfg:
        for k in CONFIG_KEYS:
            if k in cfg:
                v = cfg[k]
                if k == "schedule" and not isinstance(v, str):
                    v = ";".join("%s/%s" % (a, b) for a, b in v)
                meta[k] = v
    if board_info.get("config_error"):
        # the board ran on its fallback settings (rate 0) and sounded bad_config
        meta.setdefault("rate_ul_h", 0.0)
        meta["config_error"] = board_info["config_error"].replace("\n", " ")
    meta["source"] = "pumpmon trace record"
    for k in ("board", "firmware", "firmware_build", "micropython", "port"):
        if board_info.get(k):
            meta[k] = str(board_info[k]).replace("\n", " ")
    meta["recorded"] = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    meta["boots"] = ";".join("%d/boot%d/%s%s" % (t, b, c or "?", "/partial" if p else "")
                             for t, b, c, p in boots)
    if excerpt:
        meta["excerpt"] = "1"
    meta["time_base"] = "t_ms = seconds since the board's boot x 1000 (engine seconds)"
    return {k: (v if isinstance(v, str) else _num(v)) for k, v in meta.items()}


def _num(v):
    if isinstance(v, float):
        return ("%.6f" % v).rstrip("0").rstrip(".")
    return str(v)


def board_info_from_dir(d, config_path=None):
    """What `--from DIR` knows: DIR/config.json (or --config) and DIR/manifest.json."""
    info = {"port": str(d)}
    cp = Path(config_path) if config_path else Path(d) / "config.json"
    if cp.exists():
        _config_into(info, cp.read_text(encoding="utf-8", errors="replace"), cp)
    mp = Path(d) / "manifest.json"
    if mp.exists():
        _manifest_into(info, mp.read_text(encoding="utf-8", errors="replace"))
    return info


def _config_into(info, text, name):
    from pumpmon.config import Config, ConfigError
    try:
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("not a JSON object")
        Config(values)
    except (ValueError, ConfigError) as e:
        info["config_error"] = "%s: %s" % (name, e)
        return
    info["config_values"] = values


def _manifest_into(info, text):
    try:
        m = json.loads(text)
        info["firmware_build"] = m.get("version")
        info["board"] = m.get("board")
    except (ValueError, AttributeError):
        pass


# ---- fetching from a board ---------------------------------------------------
_PROBE = r"""
import json, os, sys
def _rd(p):
    try:
        with open(p) as f:
            return f.read()
    except OSError:
        return None
try:
    import pumpmon
    _v = pumpmon.VERSION
except Exception:
    _v = None
print('@@PM' + json.dumps({'config': _rd('/config.json'), 'manifest': _rd('/manifest.json'),
      'version': _v, 'machine': sys.implementation._machine,
      'mp': '.'.join(str(x) for x in sys.implementation.version[:3])}))
"""


def _mpremote(args):
    if getattr(args, "mpremote", None):
        return [args.mpremote]
    exe = tool("mpremote")
    return [exe] if exe else [sys.executable, "-m", "mpremote"]


def fetch(args, stage):
    """Copy the board's /rec into stage/rec and read its settings; board info dict."""
    base = _mpremote(args) + ["connect", args.port, "resume"]
    info, probe = _probe_only(args)
    for name in ("config", "manifest"):      # kept with the copy (--keep): --from reads them
        if probe.get(name) is not None:
            (Path(stage) / (name + ".json")).write_text(probe[name], encoding="utf-8")
    # the destination exists, so mpremote copies the folder into it (stage/rec)
    r = subprocess.run(base + ["fs", "cp", "-r", ":/rec", str(stage)], capture_output=True,
                       text=True, timeout=900)
    if r.returncode != 0:
        msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
        raise RecError("%s: mpremote could not copy /rec: %s" % (
            args.port, msg[-1] if msg else "exit %d" % r.returncode))
    return info


# ---- the command -------------------------------------------------------------
def add_arguments(p):
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--port", help="the board: serial device or socket://host:port "
                     "(what mpremote connect takes)")
    src.add_argument("--from", dest="from_dir", metavar="DIR",
                     help="a copy of the board's /rec folder instead of a board "
                          "(DIR/config.json, DIR/manifest.json used when present)")
    p.add_argument("--out", required=True, metavar="FILE", help="the trace to write")
    p.add_argument("--config", metavar="FILE",
                   help="the board's settings from this file instead of its config.json")
    p.add_argument("--boot", metavar="N|last",
                   help="only this boot session (number as in the summary; last: the newest)")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--since", metavar="DUR",
                   help="leave out the first DUR of the recording (e.g. 2h, 90m, 1h30m)")
    w.add_argument("--last", metavar="DUR", help="only the last DUR (e.g. 24h, 30m)")
    p.add_argument("--keep", metavar="DIR", help="also keep the copied segments here")
    p.add_argument("--no-restart", action="store_true",
                   help="leave the board at its REPL instead of restarting the monitor")
    p.add_argument("--mpremote", default=None, help=argparse.SUPPRESS)


def record(sessions, info, out, boot=None, since_ms=None, last_ms=None):
    """Write the trace; (rows written, boots listed, sessions chosen)."""
    chosen = select(sessions, boot)
    if boot is not None and not any(s.samples for s in chosen):
        raise RecError("no samples of boot %s in the recording (boots: %s)" % (
            boot, ", ".join(str(s.boot) for s in sessions if s.samples) or "none"))
    rows, boots = trace_rows(chosen)
    cut = window(rows, since_ms, last_ms)
    if not cut:
        raise RecError("no samples in the recording%s" % (
            "" if len(cut) == len(rows) else " in that window"))
    excerpt = len(cut) != len(rows) or any(p for _t, _b, _c, p in boots)
    if len(cut) != len(rows):
        # the session in force at the window's start begins there (partial)
        t0 = cut[0][0]
        first = max((b for b in boots if b[0] <= t0), key=lambda b: b[0])
        if first[0] < t0:
            first = (t0, first[1], first[2], True)
        boots = [first] + [b for b in boots if b[0] > t0]
    meta = metadata(info, boots, cut, excerpt)
    n = write_trace(out, meta, cut)
    return n, boots, chosen


def summary(sessions, probs, n, boots, out):
    lines = []
    for s in sessions:
        if s.samples:
            lines.append("boot %d (%s%s): %d samples, %s .. %s s since boot%s%s" % (
                s.boot, s.cause or "start rotated out", "" if not s.partial else ", partial",
                len(s.samples), s.samples[0][0], s.samples[-1][0],
                ", %d resumed after write errors" % s.resumed if s.resumed else "",
                ", %d in a second already sampled" % s.same_second if s.same_second else ""))
        else:
            lines.append("boot %d (%s): no samples" % (s.boot, s.cause or "?"))
    for f, off, what in probs:
        lines.append("%s@%d: %s" % (f, off, what))
    lines.append("%s: %d rows from %d boot session(s)" % (out, n, len(boots)))
    return "\n".join(lines)


def run(args):
    try:
        boot = None
        if args.boot is not None:
            boot = "last" if args.boot == "last" else int(args.boot)
        since = parse_duration(args.since) if args.since else None
        last = parse_duration(args.last) if args.last else None
    except ValueError as e:
        sys.stderr.write("pumpmon trace record: %s\n" % e)
        return 2
    stage = None
    try:
        if args.from_dir:
            d = Path(args.from_dir)
            if not d.is_dir():
                raise RecError("%s: no such folder" % d)
            info = board_info_from_dir(d, args.config)
            src = d / "rec" if (d / "rec").is_dir() else d
        else:
            stage = Path(tempfile.mkdtemp(prefix="pumpmon-rec-"))
            try:
                info = fetch(args, stage)
            finally:
                if not args.no_restart:
                    _restart(args.port)
            if args.config:
                info.pop("config_error", None)
                _config_into(info, Path(args.config).read_text(encoding="utf-8"), args.config)
            src = stage / "rec"
            if args.keep:
                Path(args.keep).mkdir(parents=True, exist_ok=True)
                for q in list(src.glob("tr*.bin")) + list(stage.glob("*.json")):
                    shutil.copy2(q, Path(args.keep) / q.name)
        if not src.is_dir() or not any(SEG_RE.match(q.name) for q in src.iterdir()):
            raise RecError("%s: no recording (no tr########.bin segments)" % (
                args.port or src))
        sessions, probs = parse_ring([src])
        if info.get("config_error") and not args.config:
            sys.stderr.write("pumpmon trace record: warning: %s (the board ran on its "
                             "fallback settings; give --config to replay against others)\n"
                             % info["config_error"])
        try:
            n, boots, _chosen = record(sessions, info, args.out, boot, since, last)
        except OSError as e:
            raise RecError("%s: cannot write: %s" % (args.out, e.strerror or e))
        sys.stderr.write(summary(sessions, probs, n, boots, args.out) + "\n")
        return 0
    except RecError as e:
        sys.stderr.write("pumpmon trace record: %s\n" % e)
        return 2
    except (OSError, subprocess.TimeoutExpired) as e:
        sys.stderr.write("pumpmon trace record: %s\n" % e)
        return 2
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)


def _restart(port):
    try:
        from host_tools.formats.eventlog import restart
        restart(port)
    except Exception as e:  # noqa: BLE001 - the copy may have worked; say what to do
        sys.stderr.write("pumpmon trace record: could not restart the board (%s): reset it "
                         "by hand\n" % e)


# ---- figures (make bench-record) -----------------------------------------------------
_MP_BENCH = r"""
import os, sys, time
from pumpmon import recorder as R
d = sys.argv[1]
rec = R.Recorder(d + '/rec', 3, 4000 * R.REC)
n = 3000
t = time.ticks_us()
i = 0
while i < n:
    rec.sample(i, 18000 - i, 300 + (i & 7), 0, 0, 0)
    i += 1
dt = time.ticks_diff(time.ticks_us(), t)
print(n * 1000000 // dt, dt // n)
"""


def bench(vboard=True):
    """Rows for the report: record size, the default ring, throughput."""
    import os
    import time
    sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "firmware")]
    from pumpmon import recorder as R
    rows = []
    per_seg = R.SEG_BYTES // R.REC
    kept = (R.SEGMENTS - 1) * (per_seg - 1)
    rows.append(("record", "%d" % R.REC, "bytes/sample",
                 "+1 header per segment (%d samples) and per boot: %.3f B/sample"
                 % (per_seg - 1, R.REC * per_seg / (per_seg - 1.0))))
    rows.append(("default ring", "%d" % (R.SEGMENTS * per_seg * R.REC), "bytes",
                 "%d x %d B segments (%d KiB of 4 KiB blocks); the oldest is dropped first"
                 % (R.SEGMENTS, per_seg * R.REC, R.SEGMENTS * R.SEG_BYTES // 1024)))
    rows.append(("kept at 1 Hz", "%.1f" % (kept / 3600.0), "hours",
                 "at least %d samples (%d full segments)" % (kept, R.SEGMENTS - 1)))
    rows.append(("per day", "%.0f" % (86400 * R.REC * per_seg / (per_seg - 1.0) / 1024), "KiB",
                 "86 400 samples"))
    with tempfile.TemporaryDirectory() as tmp:
        # the firmware's recorder, real files, write + flush per sample
        rec = R.Recorder(tmp + "/rec", 3, 4000 * R.REC)
        t = time.perf_counter()
        for i in range(3000):
            rec.sample(i, 18000 - i, 300 + (i & 7), 0, 0, 0)
        dt = time.perf_counter() - t
        rec.close()
        rows.append(("recorder.sample(), CPython", "%.0f" % (3000 / dt), "samples/s",
                     "%.0f us each (write + flush to a host file)" % (dt / 3000 * 1e6)))
        mp = tool("micropython")
        if mp:
            env = micropython_env()
            os.makedirs(tmp + "/mp")
            r = subprocess.run([str(mp), "-c", _MP_BENCH, tmp + "/mp"], env=env,
                               capture_output=True, text=True, timeout=120)
            if r.returncode == 0:
                rate, us = r.stdout.split()
                rows.append(("recorder.sample(), unix port", rate, "samples/s",
                             "%s us each (write + flush to a host file)" % us))
        # the host side: a full default ring decoded and written as a trace
        ring = Path(tmp) / "ring"
        rec = R.Recorder(str(ring), R.SEGMENTS, R.SEG_BYTES)
        for i in range(kept + per_seg):
            rec.sample(i, 18000 - i // 60, 300 + (i % 7) - 3, 0, 0, 0)
        rec.close()
        size = sum(q.stat().st_size for q in ring.iterdir())
        t = time.perf_counter()
        sessions, _p = parse_ring([ring])
        n, _b, _c = record(sessions, {}, Path(tmp) / "t.csv")
        dt = time.perf_counter() - t
        rows.append(("decode + write trace (host)", "%.0f" % (n / dt), "samples/s",
                     "a full default ring: %d samples, %d bytes, %.1f s" % (n, size, dt)))
        if vboard:
            rows.append(_bench_fetch(ring, size, tmp))
    return "Sensor recording (docs/recording.md)", rows


def section_record():
    """The section for host_tools/bench.py (make bench): (title, rows)."""
    return bench(True)


def _bench_fetch(ring, size, tmp):
    """`trace record --port` against the virtual board holding a full ring."""
    import time
    root = Path(__file__).resolve().parent.parent
    flash = Path(tmp) / "flash"
    shutil.copytree(ring, flash / "rec")
    (flash / "config.json").write_text(json.dumps({"rate_ul_h": 30.0}))
    pty = Path(tmp) / "tty"
    board = subprocess.Popen(
        [sys.executable, "-m", "host_tools.cli", "board", "serve", "--quiet", "--flash",
         str(flash), "--flash-size", str(4 << 20), "--socket", "-1", "--pty", str(pty)],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        board.stdout.readline()
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "host_tools.cli", "trace", "record", "--port",
                            str(pty), "--out", str(Path(tmp) / "f.csv"), "--no-restart"],
                           cwd=root, capture_output=True, text=True, timeout=1800)
        dt = time.perf_counter() - t
    finally:
        board.terminate()
        board.wait(20)
    if r.returncode != 0:
        return ("trace record --port (virtual board)", "-", "", "failed: %s" % r.stderr[-200:])
    return ("trace record --port, virtual board", "%.0f" % (size / dt / 1024), "KiB/s",
            "%.0f s for a full 24 h ring (mpremote fs cp over a pty)" % dt)


# ---- pumpmon trace stream -------------------------------------------------------------
_STREAM_SET = r"""
import json
try:
    with open('/recorder.json') as f:
        _old = f.read()
except OSError:
    _old = None
try:
    _d = json.loads(_old) if _old else {}
except ValueError:
    _d = {}
_d['stream'] = %s
if %s:
    import os
    os.remove('/recorder.json')
else:
    with open('/recorder.json', 'w') as f:
        f.write(json.dumps(_d))
print('@@OLD' + json.dumps(_old))
"""


def add_stream_arguments(p):
    p.add_argument("--port", required=True, help="the board: serial device or "
                   "socket://host:port (what mpremote connect takes)")
    p.add_argument("--out", required=True, metavar="FILE", help="the trace to write")
    p.add_argument("--config", metavar="FILE",
                   help="the board's settings from this file instead of its config.json")
    p.add_argument("--duration", metavar="DUR",
                   help="stop after this long (e.g. 10m); default: until Ctrl-C")
    p.add_argument("--keep-streaming", action="store_true",
                   help="leave streaming on in the board's /recorder.json afterwards")
    p.add_argument("--mpremote", default=None, help=argparse.SUPPRESS)


def _stream_flag(args, on, off_removes):
    cmd = _mpremote(args) + ["connect", args.port, "resume", "exec",
                             _STREAM_SET % ("True" if on else "False",
                                            "True" if off_removes else "False")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or "@@OLD" not in r.stdout:
        msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
        raise RecError("%s: mpremote could not set streaming: %s" % (
            args.port, msg[-1] if msg else "exit %d" % r.returncode))
    return json.loads(r.stdout.split("@@OLD", 1)[1].splitlines()[0])


def _open_serial(port):
    import serial
    if "://" in port:
        return serial.serial_for_url(port, timeout=0.5)
    return serial.Serial(port, 115200, timeout=0.5)


def stream_rows(lines, stop):
    """Trace rows from console lines ('#S sec level flow flags button refill');
    a second going back is a new boot (joined 1 s after the last row)."""
    offset = 0
    prev_t = -1
    prev_sec = None
    boots = 0
    for line in lines:
        if stop():
            return
        if not line.startswith("#S "):
            continue
        p = line.split()
        if len(p) != 7:
            continue
        try:
            sec = int(p[1])
            v = [None if x == "None" else int(x) for x in p[2:4]]
            flags, button, refill = int(p[4]), int(p[5]), int(p[6])
        except ValueError:
            continue
        if prev_sec is not None and sec < prev_sec:
            offset = (prev_t // 1000 + 1) * 1000
            boots += 1
            if sec > 0:            # the engine started at the boot (see trace_rows)
                prev_t = offset
                yield (offset, None, None, 0, 0, 0)
        prev_sec = sec
        t = offset + sec * 1000
        if t <= prev_t:
            t = prev_t + max(1, (1000 - prev_t % 1000) // 2)
        prev_t = t
        yield (t, v[0], v[1], flags, button, refill)


def run_stream(args):
    import time
    try:
        limit = parse_duration(args.duration) / 1000.0 if args.duration else None
    except ValueError as e:
        sys.stderr.write("pumpmon trace stream: %s\n" % e)
        return 2
    try:
        info, _probe = _probe_only(args)
        if args.config:
            info.pop("config_error", None)
            _config_into(info, Path(args.config).read_text(encoding="utf-8"), args.config)
        old = _stream_flag(args, True, False)
        ser = _open_serial(args.port)
    except (RecError, OSError, subprocess.TimeoutExpired) as e:
        sys.stderr.write("pumpmon trace stream: %s\n" % e)
        return 2
    n = 0
    t0 = time.monotonic()
    try:
        ser.write(b"\r\x03\x03\x02\r\x04")      # friendly REPL, soft reset: main.py streams
        ser.flush()

        def lines():
            buf = b""
            while True:
                try:
                    chunk = ser.read(4096)
                except KeyboardInterrupt:
                    return
                buf += chunk
                *done, buf = buf.split(b"\n")
                for raw in done:
                    yield raw.decode("utf-8", "replace").strip()

        def stop():
            return limit is not None and time.monotonic() - t0 >= limit

        meta = metadata(info, [], [], False)
        meta.pop("boots", None)
        meta["source"] = "pumpmon trace stream"
        try:
            n = write_trace(args.out, meta, stream_rows(lines(), stop))
        except KeyboardInterrupt:
            pass
    finally:
        ser.close()
        if not args.keep_streaming:
            try:
                _stream_flag(args, False, old is None)
                _restart(args.port)
            except (RecError, OSError, subprocess.TimeoutExpired) as e:
                sys.stderr.write("pumpmon trace stream: could not turn streaming off: %s\n"
                                 % e)
    sys.stderr.write("%s: %d rows streamed\n" % (args.out, n))
    return 0


def _probe_only(args):
    base = _mpremote(args) + ["connect", args.port, "resume"]
    r = subprocess.run(base + ["exec", _PROBE], capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or "@@PM" not in r.stdout:
        msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
        raise RecError("%s: mpremote could not talk to the board: %s" % (
            args.port, msg[-1] if msg else "exit %d" % r.returncode))
    probe = json.loads(r.stdout.split("@@PM", 1)[1].splitlines()[0])
    info = {"port": args.port, "firmware": probe.get("version"),
            "micropython": "%s %s" % (probe.get("mp"), probe.get("machine"))}
    if probe.get("config") is not None:
        _config_into(info, probe["config"], "config.json on the board")
    else:
        info["config_error"] = "config.json on the board: missing"
    if probe.get("manifest"):
        _manifest_into(info, probe["manifest"])
    return info, probe


if __name__ == "__main__":
    title, _rows = bench("--no-vboard" not in sys.argv)
    print(title)
    for what, value, unit, note in _rows:
        print("  %-34s %10s %-12s %s" % (what, value, unit, note))
