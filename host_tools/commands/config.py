"""`pumpmon config show|set [--port PORT] [KEY=VALUE...]`: a board's configuration.

`show` prints the board's config.json (and whether it is valid), read
through the running monitor's console channel (docs/console-protocol.md),
which goes on monitoring. `set`
changes settings: the new configuration is validated on the host with
pumpmon.config.Config (refused, exit 2, before anything is sent), then
installed, after a logged service request (the board's service indication
sounds until the restart), with the same staged, verified, journalled swap
as `pumpmon flash`
(a cut leaves the old or the new file, never half of one). Then the monitor
restarts; at boot the firmware compares the configuration's CRC with the one
it saved and writes a `config` record (changed = 1) to the event log
(Runner.note_config, firmware/pumpmon/runner.py), so the change is logged on
the board by the firmware itself. Exit statuses: docs/exit-codes.md.
"""
import json
import sys

from host_tools.device.errors import ChannelError
from host_tools.device.ports import add_port_argument
from host_tools.device.session import CONFIG, BoardSession
from host_tools.exitcodes import BAD_INPUT, OK, PROBLEM, SELFTEST, CommandError
from host_tools.flashing.build import config_to_bytes
from host_tools.flashing.protocol import commit


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    show = sub.add_parser("show", help="print the board's config.json")
    setp = sub.add_parser("set", help="change settings on the board")
    setp.add_argument("settings", nargs="+", metavar="KEY=VALUE",
                      help="settings to change (VALUE is JSON, or text); KEY= removes one")
    for q in (show, setp):
        add_port_argument(q)
        q.add_argument("--json", action="store_true", help="print the result as JSON")
        q.add_argument("--settle", type=float, default=1.0, metavar="S",
                       help="seconds to watch the monitor restart (default 1)")


def parse_settings(items):
    """['rate_ul_h=30', 'board_id=bed 4'] -> {key: value or None (remove)}."""
    out = {}
    for item in items:
        if "=" not in item:
            raise CommandError(BAD_INPUT, "%r: give KEY=VALUE" % item)
        key, text = item.split("=", 1)
        key = key.strip()
        if not key:
            raise CommandError(BAD_INPUT, "%r: empty setting name" % item)
        if text == "":
            out[key] = None
            continue
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out


def _validate(values, where):
    from pumpmon.config import Config, ConfigError
    try:
        Config(values)
    except ConfigError as e:
        raise CommandError(BAD_INPUT, "%s: invalid configuration: %s; nothing was sent"
                           % (where, e))


def parse_board_config(data):
    """(settings dict, None) or (None, the problem in one line) for the bytes
    of the board's config.json (None: no such file). Never raises: any content
    (not UTF-8, not JSON, nested too deep, not an object) is a problem."""
    if data is None:
        return None, "no config.json on the board"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, "config.json on the board is not UTF-8 text (byte %d)" % e.start
    try:
        values = json.loads(text)
    except RecursionError:
        return None, "config.json on the board is not JSON: nested too deep"
    except ValueError as e:
        return None, "config.json on the board is not JSON: %s" % e
    if not isinstance(values, dict):
        return None, "config.json on the board is not a JSON object"
    from pumpmon.configfile import duplicate_key
    dup = duplicate_key(text)    # after unescaping: the board refuses it too
    if dup is not None:
        return None, "config.json:%d on the board: setting %s given twice" % (
            dup[1], json.dumps(dup[0]))
    return values, None


NO_ANSWER = object()


def _fetch_config(b):
    """config.json's bytes (None: no such file) through the running monitor's
    console channel, or NO_ANSWER when the monitor does not answer there (the
    caller reads it through the REPL); a refusal ends the command."""
    try:
        return b.fetch(CONFIG)
    except ChannelError as e:
        if e.answered:
            raise CommandError(PROBLEM, "the monitor refused: %s" % e)
        return NO_ANSWER


def show(port=None, settle=1.0):
    """Read through the running monitor's console channel (it goes on); a
    board whose monitor does not answer there is read through the REPL and
    restarted."""
    b = BoardSession(port, raw=False)
    try:
        data = _fetch_config(b)
        if data is NO_ANSWER:
            b.enter_raw()
            data = b.read_bytes(CONFIG)
            b.start_monitor(settle)
        values, err = parse_board_config(data)
        valid = None
        if values is not None:
            from pumpmon.config import Config, ConfigError
            try:
                Config(values)
                valid = True
            except (ConfigError, ValueError, TypeError) as e:
                valid, err = False, str(e)
        from pumpmon.netconfig import masked   # never print a password
        if values is not None:
            values = masked(values)
        return {"port": b.port, "config": values, "valid": valid, "problem": err}
    finally:
        b.close()


def set_values(port, changes, settle=1.0):
    """Read the board's configuration through the console channel (the
    monitor goes on) and validate the change on the host: a refused change
    stops nothing. Then a logged service request (the board's service
    indication sounds), the same journalled swap as a flash, and the monitor
    restarts. A config.json that cannot be read (not UTF-8, not JSON) is
    replaced by the changes alone."""
    b = BoardSession(port, raw=False)
    raw = False
    started = False
    try:
        data = _fetch_config(b)
        if data is NO_ANSWER:
            raw = True                     # not answering: take the REPL
            b.enter_raw()
            data = b.read_bytes(CONFIG)
        old, err = parse_board_config(data)
        if old is None and err != "no config.json on the board":
            old = {}                       # unreadable: start again from the changes
        new = dict(old or {})
        for k, v in changes.items():
            if v is None:
                new.pop(k, None)
            else:
                new[k] = v
        _validate(new, "%s:config.json" % b.port)
        data = config_to_bytes(new)
        changed = sorted(k for k in set(new) | set(old or {})
                         if (old or {}).get(k) != new.get(k))
        if not changed and err is None:
            return {"port": b.port, "config": new, "changed": [], "before": old,
                    "clock": None}
        if not raw:
            b.enter_service("config")
            raw = True
        commit(b, {CONFIG: data}, [], None, None, None)
        clock = b.set_clock()              # a new schedule runs on the board's clock
        bad, _ = b.start_monitor(settle)
        started = True
        if bad:
            raise CommandError(SELFTEST, "the monitor did not come up after the change: %s"
                               % bad)
        return {"port": b.port, "config": new, "changed": changed, "before": old,
                "clock": clock}
    finally:
        if raw and not started:
            try:
                b.start_monitor(0.3)
            except Exception:
                pass
        b.close()


def run(args):
    try:
        if args.action == "show":
            r = show(args.port, args.settle)
            if args.json:
                print(json.dumps(r))
            else:
                if r["config"] is None:
                    print("%s: %s" % (r["port"], r["problem"]))
                else:
                    print(json.dumps(r["config"], indent=1, sort_keys=True))
                    if not r["valid"]:
                        print("invalid: %s" % r["problem"], file=sys.stderr)
            return OK
        changes = parse_settings(args.settings)
        _validate_keys(changes)
        r = set_values(args.port, changes, args.settle)
        from pumpmon.netconfig import masked   # never print a password
        for k in ("config", "before"):
            if r.get(k):
                r[k] = masked(r[k])
        if args.json:
            print(json.dumps(r))
        elif r["changed"]:
            print("changed %s on %s; the monitor restarted and logged the change" % (
                ", ".join(r["changed"]), r["port"]))
        else:
            print("no change on %s" % r["port"])
        return OK
    except CommandError as e:
        print("pumpmon config: %s" % e, file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "status": e.status, "error": str(e)}))
        return e.status


def _validate_keys(changes):
    # an unknown setting is refused before connecting
    from pumpmon.config import LIMITS, OTHER_KEYS, STOPPED_RULE, ConfigError, _number
    from pumpmon.netconfig import KEYS as NET_KEYS
    stopped = changes.get("pump_stopped")
    if stopped is not None and not isinstance(stopped, bool):
        raise CommandError(BAD_INPUT, "invalid configuration: pump_stopped: %r is not "
                           "true or false; nothing was sent" % (stopped,))
    if changes.get("rate_ul_h") == 0 and stopped is not True:
        # the firmware's rule (config.py), said before connecting: a rate of 0
        # is a stopped pump and must be declared so
        raise CommandError(BAD_INPUT, "invalid configuration: rate_ul_h 0: %s "
                           "(pumpmon config set rate_ul_h=0 pump_stopped=true schedule=); "
                           "nothing was sent" % STOPPED_RULE)
    for k, v in changes.items():
        if k not in LIMITS and k not in OTHER_KEYS and k not in NET_KEYS:
            import difflib
            near = difflib.get_close_matches(k, list(LIMITS) + list(OTHER_KEYS) + list(NET_KEYS),
                                             n=1,
                                             cutoff=0.75)
            raise CommandError(BAD_INPUT, "unknown setting %r%s (see docs/config.md)" % (
                k, " (did you mean %r?)" % near[0] if near else ""))
        if k in LIMITS and v is not None:
            try:
                _number(k, v)
            except ConfigError as e:
                raise CommandError(BAD_INPUT, "invalid configuration: %s; nothing was sent"
                                   % e)
