"""The `pumpmon` command: one subcommand per module of host_tools/.

Each subcommand module has `add_arguments(parser)` and `run(args) -> int`
(the exit status). Exit status 2 is for bad input (usage or a bad file).
"""
import argparse
import importlib
import sys

# name, module, one-line help: keep one line per subcommand
COMMANDS = [
    ("replay", "host_tools.commands.replay", "replay a recorded sensor trace through the firmware; events as JSON Lines"),
    ("trace", "host_tools.commands.trace", "generate, check and regenerate sensor traces (scenario corpus)"),
    ("log", "host_tools.commands.log", "decode the board's event log (decode FILE...|DIR) or fetch it (pull --port)"),
    ("flash", "host_tools.commands.flash", "flash the firmware onto a board: compiled, incremental, verified, atomic"),
    ("config", "host_tools.commands.config", "show or change a board's configuration (logged on the board)"),
    ("status", "host_tools.commands.status", "what a running monitor is doing now, asked without stopping it"),
    ("board", "host_tools.commands.board", "the virtual board: serve (a MicroPython board mpremote talks to), ctl"),
    ("carer", "host_tools.commands.carer", "the carer's side: watch monitors over MQTT, ring on their alarms (--serve: a broker)"),
    ("run", "host_tools.commands.run", "run the monitor on the virtual board (or --port, a real one) with a live panel"),
]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="pumpmon",
        description="Host tools for the pumpmon bedside alarm monitor.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, modname, help_text in COMMANDS:
        mod = importlib.import_module(modname)
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args._run(args) or 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `pumpmon replay ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
