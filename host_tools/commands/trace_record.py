"""`pumpmon trace record` and `pumpmon trace stream`: the board's sensor
recording as a trace v1 (docs/recording.md).

    pumpmon trace record --port PORT --out FILE [--since DUR | --last DUR] [--boot N|last]
    pumpmon trace record --from DIR  --out FILE [...]      a copy of the board's /rec (+ config.json)
    pumpmon trace stream --port PORT [--out FILE]           live, one row a second

Reading the recording format is host_tools/formats/recording.py.
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

from host_tools.formats.recording import (SEG_RE, RecError, _config_into, _manifest_into,
                                          board_info_from_dir, metadata, parse_duration,
                                          parse_ring, select, trace_rows, window)
from host_tools.formats.trace import write_trace
from host_tools.device.session import BoardError, BoardSession, ChannelError
from host_tools.flashing.build import FlashError


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


def _session(args):
    """A session with the board, its monitor interrupted, not reset."""
    try:
        return BoardSession(args.port, soft_reset=False)
    except FlashError as e:
        raise RecError(str(e))


def _ask(b, port, code, mark, what):
    """Run code on the board; the JSON it printed after mark."""
    try:
        out = b.exec(code).decode("utf-8", "replace")
    except (FlashError, BoardError) as e:
        raise RecError("%s: could not %s: %s" % (port, what, e))
    if mark not in out:
        raise RecError("%s: could not %s: %r" % (port, what, out[-80:]))
    return json.loads(out.split(mark, 1)[1].splitlines()[0])


def _probe(b, port):
    """(board info, probe dict) from a session."""
    probe = _ask(b, port, _PROBE, "@@PM", "talk to the board")
    info = {"port": port, "firmware": probe.get("version"),
            "micropython": "%s %s" % (probe.get("mp"), probe.get("machine"))}
    if probe.get("config") is not None:
        _config_into(info, probe["config"], "config.json on the board")
    else:
        info["config_error"] = "config.json on the board: missing"
    if probe.get("manifest"):
        _manifest_into(info, probe["manifest"])
    return info, probe


def _restart(b, what):
    try:
        b.restart()
    except FlashError as e:  # the copy may have worked; say what to do
        sys.stderr.write("pumpmon trace %s: could not restart the board (%s): reset it "
                         "by hand\n" % (what, e))


def _probe_channel(b, port):
    """(board info, probe dict) from the running monitor's console channel."""
    st = b.status()
    probe = {"version": st.get("firmware"), "mp": st.get("micropython"),
             "machine": st.get("platform")}
    for name in ("config", "manifest"):
        data = b.fetch(name + ".json")
        probe[name] = None if data is None else data.decode("utf-8", "replace")
    info = {"port": port, "firmware": probe["version"],
            "micropython": "%s %s" % (probe["mp"], probe["machine"])}
    if probe["config"] is not None:
        _config_into(info, probe["config"], "config.json on the board")
    else:
        info["config_error"] = "config.json on the board: missing"
    if probe["manifest"]:
        _manifest_into(info, probe["manifest"])
    return info, probe


def _fetch_channel(args, stage):
    """Through the running monitor's console channel (docs/console-protocol.md):
    the monitor goes on, nothing is reset. None when it does not answer."""
    try:
        b = BoardSession(args.port, raw=False)
    except FlashError as e:
        raise RecError(str(e))
    try:
        try:
            info, probe = _probe_channel(b, args.port)
        except ChannelError as e:
            if e.answered:
                raise RecError("%s: the monitor refused: %s" % (args.port, e))
            sys.stderr.write("pumpmon trace record: %s: the monitor does not answer on its "
                             "console channel; reading through the REPL (this interrupts "
                             "it)\n" % args.port)
            return None
        _keep_settings(stage, probe)
        (Path(stage) / "rec").mkdir()
        try:
            b.fetch_folder("rec", Path(stage) / "rec", match=lambda n: SEG_RE.match(n) is not None)
        except (FlashError, ChannelError) as e:
            raise RecError("%s: could not copy /rec: %s" % (args.port, e))
        return info
    finally:
        b.close()


def _config_file_into(info, path):
    """--config FILE: read like every settings file (one-line errors: not
    UTF-8, not JSON, nested too deep, too big), then taken as the board's."""
    from host_tools.formats.expectations import load_json_object
    from host_tools.formats.trace import TraceError
    try:
        values = load_json_object(path)
    except TraceError as e:
        raise RecError(str(e))
    _config_into(info, json.dumps(values), path)


def _keep_settings(stage, probe):
    for name in ("config", "manifest"):      # kept with the copy (--keep): --from reads them
        if probe.get(name) is not None:
            (Path(stage) / (name + ".json")).write_text(probe[name], encoding="utf-8")


def fetch(args, stage):
    """Copy the board's /rec into stage/rec and read its settings; board info
    dict. Through the console channel when the monitor answers there (it goes
    on); else through the REPL, and the monitor is restarted afterwards unless
    --no-restart."""
    info = _fetch_channel(args, stage)
    if info is not None:
        return info
    b = _session(args)
    try:
        info, probe = _probe(b, args.port)
        _keep_settings(stage, probe)
        (Path(stage) / "rec").mkdir()
        try:
            b.copy_folder("/rec", Path(stage) / "rec", match=lambda n: SEG_RE.match(n) is not None)
        except FlashError as e:
            raise RecError("%s: could not copy /rec: %s" % (args.port, e))
        return info
    finally:
        if not args.no_restart:
            _restart(b, "record")
        b.close()


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
            info = board_info_from_dir(d)
            if args.config:
                info.pop("config_error", None)
                info.pop("config_values", None)
                _config_file_into(info, args.config)
            src = d / "rec" if (d / "rec").is_dir() else d
        else:
            stage = Path(tempfile.mkdtemp(prefix="pumpmon-rec-"))
            info = fetch(args, stage)
            if args.config:
                info.pop("config_error", None)
                _config_file_into(info, args.config)
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
    except OSError as e:
        sys.stderr.write("pumpmon trace record: %s\n" % e)
        return 2
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)


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


def _stream_flag(b, port, on, off_removes):
    code = _STREAM_SET % ("True" if on else "False", "True" if off_removes else "False")
    return _ask(b, port, code, "@@OLD", "set streaming")


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


class RingFollower:
    """Follows the board's recording through the console channel: the
    records appended since the last poll, as '#S' stream lines (the same
    text a board with "stream" on prints). The monitor goes on; nothing on
    the board changes."""

    def __init__(self, b):
        self.b = b
        self.seg = None         # the segment being followed, and how far
        self.off = 0
        self.sec = None         # full second of the last record (placing samples)

    def _listing(self):
        out = {}
        for item in self.b.ask("ls", "rec").split():
            name, _, size = item.rpartition(":")
            if SEG_RE.match(name):
                out[name] = int(size)
        return out

    def start(self):
        """Skip what is recorded already (its last header places what follows)."""
        names = self._listing()
        if names:
            self.seg = max(names)
            self._read(self.seg, names[self.seg], emit=False)

    def _read(self, name, size, emit=True):
        from pumpmon import recorder as R
        lines = []
        while self.off + R.REC <= size:
            n = min(8190, (size - self.off) // R.REC * R.REC)   # whole records
            data = self.b.ask_read("rec/" + name, self.off, n)
            if not data:
                break
            self.off += len(data) // R.REC * R.REC
            for i in range(0, len(data) - R.REC + 1, R.REC):
                buf = data[i:i + R.REC]
                if not R.valid(buf):
                    continue
                d = R.decode(buf)
                if d[0] != R.KIND_SAMPLE:
                    self.sec = d[1]
                elif self.sec is not None:
                    self.sec += (d[1] - self.sec) % 256
                    if emit:
                        lines.append("#S %d %s %s %d %d %d" % ((self.sec,) + d[2:]))
        return lines

    def poll(self):
        names = self._listing()
        lines = []
        for name in sorted(names):
            if self.seg is not None and name < self.seg:
                continue
            if name != self.seg:
                self.seg, self.off = name, 0     # a new segment starts with a header
            lines += self._read(name, names[name])
        return lines


def _stream_channel(args, limit):
    """`trace stream` through the console channel; None when the monitor does
    not answer there (then the REPL way below)."""
    import time
    try:
        b = BoardSession(args.port, raw=False)
    except FlashError as e:
        sys.stderr.write("pumpmon trace stream: %s\n" % e)
        return 2
    n = 0
    try:
        try:
            info, _probe_dict = _probe_channel(b, args.port)
        except ChannelError as e:
            if e.answered:
                sys.stderr.write("pumpmon trace stream: the monitor refused: %s\n" % e)
                return 2
            return None
        if args.config:
            info.pop("config_error", None)
            _config_file_into(info, args.config)
        follow = RingFollower(b)
        follow.start()
        t0 = time.monotonic()

        def lines():
            while True:
                for line in follow.poll():
                    yield line
                if limit is not None and time.monotonic() - t0 >= limit:
                    return
                time.sleep(0.5)

        meta = metadata(info, [], [], False)
        meta.pop("boots", None)
        meta["source"] = "pumpmon trace stream"
        try:
            n = write_trace(args.out, meta, stream_rows(lines(), lambda: False))
        except KeyboardInterrupt:
            pass
    except (ChannelError, FlashError, RecError, OSError) as e:
        sys.stderr.write("pumpmon trace stream: %s\n" % e)
        return 2
    finally:
        b.close()
    sys.stderr.write("%s: %d rows streamed\n" % (args.out, n))
    return 0


def run_stream(args):
    import time
    try:
        limit = parse_duration(args.duration) / 1000.0 if args.duration else None
    except ValueError as e:
        sys.stderr.write("pumpmon trace stream: %s\n" % e)
        return 2
    done = _stream_channel(args, limit)
    if done is not None:
        return done
    sys.stderr.write("pumpmon trace stream: %s: the monitor does not answer on its console "
                     "channel; streaming through the REPL (this restarts it)\n" % args.port)
    b = None
    try:
        b = _session(args)
        info, _probe_dict = _probe(b, args.port)
        if args.config:
            info.pop("config_error", None)
            _config_file_into(info, args.config)
        old = _stream_flag(b, args.port, True, False)
        b.restart(settle=0)             # friendly REPL, soft reset: main.py streams
        ser = b.serial
        ser.timeout = 0.5               # reads return, so --duration and Ctrl-C are seen
    except (RecError, FlashError, OSError) as e:
        if b is not None:
            b.close()
        sys.stderr.write("pumpmon trace stream: %s\n" % e)
        return 2
    n = 0
    t0 = time.monotonic()
    try:

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
        b.close()
        if not args.keep_streaming:
            try:
                b = _session(args)
                try:
                    _stream_flag(b, args.port, False, old is None)
                    b.restart()
                finally:
                    b.close()
            except (RecError, FlashError, OSError) as e:
                sys.stderr.write("pumpmon trace stream: could not turn streaming off: %s\n"
                                 % e)
    sys.stderr.write("%s: %d rows streamed\n" % (args.out, n))
    return 0
