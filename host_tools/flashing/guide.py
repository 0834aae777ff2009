"""What `pumpmon flash` tells a person about configurations and alarms.

- A flash without --config keeps the board's own config.json; when the board
  has none, or one the firmware refuses, nothing is sent and the message names
  `make flash CONFIG=...` and the board's example (boards/<board>/
  config.example.json, explained in docs/flashing.md).
- The example itself, unedited, is refused: its rate is a placeholder, and a
  monitor judging the wrong rate misses an under-delivery or sounds for
  nothing.
- The last line of a flash says which alarms the board shows after it.
"""
import json
from pathlib import Path

from host_tools.device.errors import ChannelError, DeviceError
from host_tools.exitcodes import BAD_INPUT
from host_tools.flashing.errors import FlashError

EXAMPLE = "config.example.json"


def example_path(root, board):
    return Path(root) / "boards" / (board or "rpi_pico") / EXAMPLE


def config_hint(board, root):
    ex = example_path(root, board)
    try:
        shown = ex.relative_to(Path(root))
    except ValueError:
        shown = ex
    return ("give the board a configuration: copy %s, set rate_ul_h (or schedule) to the "
            "pump's programmed rate, then `make flash CONFIG=my-config.json` "
            "(pumpmon flash --config my-config.json); docs/flashing.md explains each setting"
            % shown)


def require_board_config(text, board, root):
    """No --config given: the board's config.json must be one the firmware
    accepts, else FlashError(BAD_INPUT) before anything is sent."""
    from pumpmon.config import Config
    from pumpmon.configfile import parse
    if text is None:
        why = "the board has no configuration (config.json)"
    else:
        try:
            Config(parse(text.encode()))
            return
        except Exception as e:  # noqa: BLE001 - whatever the firmware would refuse
            why = "the board's configuration (config.json) is refused: %s" % e
    raise FlashError(BAD_INPUT, "%s and none was given; nothing was sent: %s"
                     % (why, config_hint(board, root)))


def refuse_unedited_example(root, path, values):
    """The example configuration as it is in the repository is refused. The
    message names the example it is: the file given when that is one, else
    every board folder whose example has these values (the boards' examples
    may hold the same values: naming the first one found would be wrong)."""
    same = []
    for ex in sorted((Path(root) / "boards").glob("*/" + EXAMPLE)):
        try:
            if json.loads(ex.read_text()) == values:
                same.append(ex)
        except (OSError, ValueError):
            continue
    if not same:
        return
    given = Path(path).resolve()
    mine = [ex for ex in same if ex.resolve() == given]
    which = ("boards/%s/%s" % (mine[0].parent.name, EXAMPLE) if mine else
             "the same values as boards/{%s}/%s" % (",".join(ex.parent.name for ex in same),
                                                    EXAMPLE))
    raise FlashError(BAD_INPUT, "%s:1: this is the example configuration unchanged "
                     "(%s): copy it and set rate_ul_h (or schedule) to the pump's "
                     "programmed rate first" % (path, which))


def active_alarms(session):
    """The alarms the running monitor shows (["no_flow/low_flow", ...]), or
    None when its console channel did not answer."""
    for _attempt in range(4):      # a request sent while it still boots is lost: again
        try:
            return list(session.status(timeout=2.5).get("alarms") or [])
        except ChannelError:
            continue
        except DeviceError:
            break
    return None


def alarms_text(alarms):
    if alarms is None:
        return "active alarms unknown (the monitor did not answer: pumpmon status)"
    if not alarms:
        return "no alarm active on the board"
    return "ACTIVE ALARMS on the board: %s" % ", ".join(alarms)
