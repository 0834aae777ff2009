"""Following the board's sensor recording live, for `pumpmon trace stream`
(docs/recording.md): through the running monitor's console channel
(RingFollower reads the records appended to its /rec ring; the monitor goes
on), else through the REPL (the board's recorder is told to print each sample
as a '#S' line, and restarted). Either way the lines become trace rows
(stream_rows) written as they come.
"""
import sys
import time

from host_tools.device.errors import ChannelError, DeviceError
from host_tools.device.session import BoardSession
from host_tools.formats.recording import SEG_RE, RecError, metadata
from host_tools.formats.trace import write_trace
from host_tools.recording.fetch import ask_json, config_file_into, open_session, probe_channel, probe_repl


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


def stream_flag(b, port, on, off_removes):
    code = _STREAM_SET % ("True" if on else "False", "True" if off_removes else "False")
    return ask_json(b, port, code, "@@OLD", "set streaming")


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


def _stream_meta(info):
    meta = metadata(info, [], [], False)
    meta.pop("boots", None)
    meta["source"] = "pumpmon trace stream"
    return meta


def stream_channel(port, out, limit, config=None):
    """Stream through the console channel into the trace `out` for `limit`
    seconds (None: until Ctrl-C); the rows written, or None when the monitor
    does not answer there (then stream_repl). RecError, ChannelError,
    DeviceError or OSError when it fails."""
    b = BoardSession(port, raw=False)
    n = 0
    try:
        try:
            info, _probe_dict = probe_channel(b, port)
        except ChannelError as e:
            if e.answered:
                raise RecError("the monitor refused: %s" % e)
            return None
        if config:
            info.pop("config_error", None)
            config_file_into(info, config)
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

        try:
            n = write_trace(out, _stream_meta(info), stream_rows(lines(), lambda: False))
        except KeyboardInterrupt:
            pass
    finally:
        b.close()
    return n


def stream_repl(port, out, limit, config=None, keep_streaming=False):
    """Stream through the REPL: streaming on in the board's /recorder.json,
    the monitor restarted, its '#S' console lines read into `out`; then
    streaming off again (unless keep_streaming) and the monitor restarted.
    The rows written; RecError, DeviceError or OSError when it cannot start."""
    b = None
    try:
        b = open_session(port)
        info, _probe_dict = probe_repl(b, port)
        if config:
            info.pop("config_error", None)
            config_file_into(info, config)
        old = stream_flag(b, port, True, False)
        b.restart(settle=0)             # friendly REPL, soft reset: main.py streams
        ser = b.serial
        ser.timeout = 0.5               # reads return, so --duration and Ctrl-C are seen
    except BaseException:
        if b is not None:
            b.close()
        raise
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

        try:
            n = write_trace(out, _stream_meta(info), stream_rows(lines(), stop))
        except KeyboardInterrupt:
            pass
    finally:
        b.close()
        if not keep_streaming:
            try:
                b = open_session(port)
                try:
                    stream_flag(b, port, False, old is None)
                    b.restart()
                finally:
                    b.close()
            except (RecError, DeviceError, OSError) as e:
                sys.stderr.write("pumpmon trace stream: could not turn streaming off: %s\n"
                                 % e)
    return n
