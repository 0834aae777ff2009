"""The board's sensor recording, read on the host and turned into trace v1
(the commands are host_tools/commands/trace_record.py: `pumpmon trace record`
and `trace stream`).

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
import binascii
import datetime
import json
import re
from pathlib import Path

from host_tools.exitcodes import BAD_INPUT, CommandError
from host_tools.formats.trace_columns import CONFIG_KEYS
from host_tools.formats.trace_writer import write_trace
from pumpmon import eventlog as _fw_log

REC = 10
SEG_RE = re.compile(r"^tr(\d{8})\.bin$")
KIND_SAMPLE, KIND_BOOT, KIND_CONT = 5, 6, 7
NONE = -1048576
RESET_CAUSES = _fw_log.RESET_CAUSES       # the boot record's cause byte (one definition)


class RecError(CommandError):
    """Input that cannot be used at all (BAD_INPUT), or a board that cannot
    be read (status: the session's, NO_BOARD, BUSY or LOST: docs/exit-codes.md)."""

    def __init__(self, text, status=BAD_INPUT):
        super().__init__(status, text)


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
    except RecursionError:
        info["config_error"] = "%s: not JSON: nested too deep" % name
        return
    except (ValueError, TypeError, ConfigError) as e:
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
