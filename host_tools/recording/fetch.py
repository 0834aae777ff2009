"""Copying the board's sensor recording (its /rec folder and settings) to
the host, for `pumpmon trace record` (docs/recording.md): through the running
monitor's console channel when it answers there (it goes on, nothing is
reset), else through the raw REPL (the monitor is interrupted, then
restarted). Reading the copy is host_tools/formats/recording.py.
"""
import json
import sys
from pathlib import Path

from host_tools.device.errors import BoardError, ChannelError, DeviceError
from host_tools.device.session import BoardSession
from host_tools.formats.recording import SEG_RE, RecError, _config_into, _manifest_into

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


def open_session(port):
    """A session with the board, its monitor interrupted, not reset."""
    try:
        return BoardSession(port, soft_reset=False)
    except DeviceError as e:
        raise RecError(str(e), e.status)


def ask_json(b, port, code, mark, what):
    """Run code on the board; the JSON it printed after mark."""
    try:
        out = b.exec(code).decode("utf-8", "replace")
    except (DeviceError, BoardError) as e:
        raise RecError("%s: could not %s: %s" % (port, what, e))
    if mark not in out:
        raise RecError("%s: could not %s: %r" % (port, what, out[-80:]))
    return json.loads(out.split(mark, 1)[1].splitlines()[0])


def probe_repl(b, port):
    """(board info, probe dict) from a session."""
    probe = ask_json(b, port, _PROBE, "@@PM", "talk to the board")
    return _board_info(port, probe), probe


def _board_info(port, probe):
    """The board info of a probe dict (version, mp, machine, config, manifest)."""
    info = {"port": port, "firmware": probe.get("version"),
            "micropython": "%s %s" % (probe.get("mp"), probe.get("machine"))}
    if probe.get("config") is not None:
        _config_into(info, probe["config"], "config.json on the board")
    else:
        info["config_error"] = "config.json on the board: missing"
    if probe.get("manifest"):
        _manifest_into(info, probe["manifest"])
    return info


def restart(b, what):
    try:
        b.restart()
    except DeviceError as e:  # the copy may have worked; say what to do
        sys.stderr.write("pumpmon trace %s: could not restart the board (%s): reset it "
                         "by hand\n" % (what, e))


def probe_channel(b, port):
    """(board info, probe dict) from the running monitor's console channel."""
    st = b.status()
    probe = {"version": st.get("firmware"), "mp": st.get("micropython"),
             "machine": st.get("platform")}
    for name in ("config", "manifest"):
        data = b.fetch(name + ".json")
        probe[name] = None if data is None else data.decode("utf-8", "replace")
    return _board_info(port, probe), probe


def fetch_channel(port, stage):
    """Through the running monitor's console channel (docs/console-protocol.md):
    the monitor goes on, nothing is reset. None when it does not answer."""
    try:
        b = BoardSession(port, raw=False)
    except DeviceError as e:
        raise RecError(str(e), e.status)
    try:
        try:
            info, probe = probe_channel(b, port)
        except ChannelError as e:
            if e.answered:
                raise RecError("%s: the monitor refused: %s" % (port, e))
            sys.stderr.write("pumpmon trace record: %s: the monitor does not answer on its "
                             "console channel; reading through the REPL (this interrupts "
                             "it)\n" % port)
            return None
        keep_settings(stage, probe)
        (Path(stage) / "rec").mkdir()
        try:
            b.fetch_folder("rec", Path(stage) / "rec", match=lambda n: SEG_RE.match(n) is not None)
        except (DeviceError, ChannelError) as e:
            raise RecError("%s: could not copy /rec: %s" % (port, e), getattr(e, "status", 1))
        return info
    finally:
        b.close()


def config_file_into(info, path):
    """--config FILE: read like every settings file (one-line errors: not
    UTF-8, not JSON, nested too deep, too big), then taken as the board's."""
    from host_tools.formats.expectations import load_json_object
    from host_tools.formats.trace import TraceError
    try:
        values = load_json_object(path)
    except TraceError as e:
        raise RecError(str(e))
    _config_into(info, json.dumps(values), path)


def keep_settings(stage, probe):
    for name in ("config", "manifest"):      # kept with the copy (--keep): --from reads them
        if probe.get(name) is not None:
            (Path(stage) / (name + ".json")).write_text(probe[name], encoding="utf-8")


def fetch(port, stage, restart_after=True):
    """Copy the board's /rec into stage/rec and read its settings; board info
    dict. Through the console channel when the monitor answers there (it goes
    on); else through the REPL, and the monitor is restarted afterwards unless
    restart_after is False (--no-restart)."""
    info = fetch_channel(port, stage)
    if info is not None:
        return info
    b = open_session(port)
    try:
        info, probe = probe_repl(b, port)
        keep_settings(stage, probe)
        (Path(stage) / "rec").mkdir()
        try:
            b.copy_folder("/rec", Path(stage) / "rec", match=lambda n: SEG_RE.match(n) is not None)
        except DeviceError as e:
            raise RecError("%s: could not copy /rec: %s" % (port, e), e.status)
        return info
    finally:
        if restart_after:
            restart(b, "record")
        b.close()
