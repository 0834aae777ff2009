# Issue 25, small first-use gaps: the unedited example configuration is
# named as the file given (the sim one was refused as "(esp32)": the boards'
# examples hold the same values); `carer --broker-port` (its --port meant
# the broker while --port names a board everywhere else; the old spelling
# still works, with a notice); a subcommand's unknown argument gets that
# subcommand's usage.
import json
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.cli import build_parser, main
from host_tools.flashing import guide
from host_tools.flashing.errors import FlashError

from tests.support import ROOT
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("board", ["sim", "esp32", "rpi_pico"])
def test_the_unedited_example_is_named_as_the_file_given(board):
    ex = ROOT / "boards" / board / "config.example.json"
    with pytest.raises(FlashError) as e:
        guide.refuse_unedited_example(ROOT, str(ex), json.loads(ex.read_text()))
    msg = str(e.value)
    assert "(boards/%s/config.example.json)" % board in msg, msg
    others = {"sim", "esp32", "rpi_pico"} - {board}
    assert not any("boards/%s/" % o in msg for o in others), msg


def test_a_copy_of_an_example_names_every_board_with_those_values(tmp_path):
    ex = ROOT / "boards" / "sim" / "config.example.json"
    mine = tmp_path / "my.json"
    mine.write_text(ex.read_text())
    values = json.loads(ex.read_text())
    with pytest.raises(FlashError) as e:
        guide.refuse_unedited_example(ROOT, str(mine), values)
    same = sorted(p.parent.name for p in (ROOT / "boards").glob("*/config.example.json")
                  if json.loads(p.read_text()) == values)
    assert "boards/{%s}/config.example.json" % ",".join(same) in str(e.value)
    edited = dict(values, rate_ul_h=31.0)
    guide.refuse_unedited_example(ROOT, str(mine), edited)      # an edited copy passes


def test_carer_broker_port_and_the_old_spelling(capsys):
    p = build_parser()
    assert p.parse_args(["carer", "--broker-port", "1884"]).port == 1884
    assert p.parse_args(["carer"]).port is None
    capsys.readouterr()
    assert p.parse_args(["carer", "--port", "1885"]).port == 1885
    assert "--port is deprecated here: say --broker-port 1885" in capsys.readouterr().err
    help_text = p.subcommands["carer"].format_help()
    assert "--broker-port" in help_text and "--port " not in help_text


@pytest.mark.parametrize("argv, usage", [
    (["replay", "x.csv", "--bogus"], "usage: pumpmon replay "),
    (["status", "--bogus"], "usage: pumpmon status "),
    (["flash", "--dry-run", "--nope"], "usage: pumpmon flash "),
])
def test_an_unknown_argument_prints_the_subcommands_usage(argv, usage, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage) and "unrecognized arguments: %s" % argv[-1] in err, err


def test_the_same_from_the_command_line():
    r = subprocess.run([str(BIN / "pumpmon"), "replay", "occlusion", "--bogus"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("usage: pumpmon replay ")
