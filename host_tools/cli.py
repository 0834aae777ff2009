"""The `pumpmon` command: one subcommand per module of host_tools/commands/.

Each subcommand module has `add_arguments(parser)` and `run(args) -> int`
(the exit status: one of host_tools/exitcodes.py, docs/exit-codes.md). Every
command that talks to a board takes the same --port (host_tools/device/ports.py).
"""
import argparse
import importlib
import sys

from host_tools.exitcodes import INTERRUPTED, OK
from host_tools.paths import DOCS

# name, module, one-line help: keep one line per subcommand
COMMANDS = [
    ("replay", "host_tools.commands.replay", "replay a recorded sensor trace through the firmware; events as JSON Lines"),
    ("trace", "host_tools.commands.trace", "generate (from a scenario or a one-line description), check and record sensor traces"),
    ("log", "host_tools.commands.log", "decode the board's event log (decode FILE...|DIR) or fetch it (pull)"),
    ("flash", "host_tools.commands.flash", "flash the firmware onto a board: compiled, incremental, verified, atomic"),
    ("config", "host_tools.commands.config", "show or change a board's configuration (logged on the board)"),
    ("status", "host_tools.commands.status", "what a running monitor is doing now, asked without stopping it"),
    ("demo", "host_tools.commands.demo", "play every alarm's sound and light on a running monitor, to learn them"),
    ("devs", "host_tools.commands.devs", "list the boards: USB serial ports (VID:PID) and running virtual boards"),
    ("board", "host_tools.commands.board", "the virtual board: serve (a MicroPython board mpremote talks to), ctl"),
    ("carer", "host_tools.commands.carer", "the carer's side: watch monitors over MQTT, ring on their alarms (--serve: a broker)"),
    ("run", "host_tools.commands.run", "run the monitor on the virtual board (or --port, a real one) with a live panel"),
]


def versions():
    """{"pumpmon": the package's version (its metadata), "firmware": the
    firmware core's VERSION, "mpremote": ...}."""
    from importlib import metadata
    out = {}
    for name in ("pumpmon", "mpremote"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    if out["pumpmon"] is None:             # a source tree never installed
        import re
        from host_tools.paths import ROOT
        try:
            m = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(),
                          re.M)
            out["pumpmon"] = m.group(1) if m else None
        except OSError:
            pass
    try:
        from pumpmon import VERSION
        out["firmware"] = VERSION
    except ImportError:
        out["firmware"] = None
    return out


def version_line():
    v = versions()
    return "pumpmon %s (firmware %s, mpremote %s, Python %s)" % (
        v["pumpmon"] or "unknown", v["firmware"] or "unknown", v["mpremote"] or "not installed",
        sys.version.split()[0])


class _Version(argparse.Action):
    """--version, its line worked out only when asked (the package metadata
    is a search of site-packages: every command would pay for it)."""

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(version_line() + "\n")
        parser.exit()


def build_parser(only=None):
    """The parser of every subcommand; with `only` (a command's name), only
    that command's module is imported and its arguments declared: the others
    are listed by name and help text alone (a command starts ~0.1 s sooner)."""
    parser = argparse.ArgumentParser(
        prog="pumpmon",
        description="Host tools for the pumpmon bedside alarm monitor.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="documentation (installed with the command):\n  %s\nexit statuses, the same "
        "for every command:\n  %s" % (DOCS, DOCS / "exit-codes.md"))
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the versions (pumpmon, firmware, mpremote, Python) and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    parser.subcommands = {}
    for name, modname, help_text in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            mod = importlib.import_module(modname)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
        parser.subcommands[name] = p
    return parser


def _command(argv):
    """The subcommand named in argv (its first word that is not an option),
    or None: then every command is declared, for argparse's own messages."""
    for a in argv:
        if not a.startswith("-"):
            return a if any(a == c[0] for c in COMMANDS) else None
    return None


def main(argv=None):
    parser = build_parser(_command(sys.argv[1:] if argv is None else argv))
    args, extra = parser.parse_known_args(argv)
    if extra:       # said against the subcommand: its usage, not the top level's
        sub = parser.subcommands.get(args.command, parser)
        sub.error("unrecognized arguments: %s" % " ".join(extra))
    try:
        return args._run(args) or OK
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:  # e.g. `pumpmon replay ... | head`
        sys.stderr.close()
        return OK


if __name__ == "__main__":
    sys.exit(main())
