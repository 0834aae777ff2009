# A flash that guides (issue 15), on the virtual board: without a
# configuration a new board is refused before anything is sent, with a
# message naming `make flash CONFIG=` and the board's example; the example
# unedited is refused; a board sounding malfunction/internal (bad_config) is
# fixed by a flash with a correct configuration, the clearing is in its log,
# and the flash's last line says which alarms the board shows.
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pumpmon import alarms as A
from pumpmon import eventlog as L
import logread
from pumpmon.manager import EV_CLEARED, EV_RAISED

from host_tools.device.session import BoardSession
from host_tools.vboard.served import ServedBoard

from tests.support import ROOT
BIN = Path(sys.executable).parent


def _flash(port, *args):
    return subprocess.run([str(BIN / "pumpmon"), "flash", "--port", port] + list(args),
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def _log(flash):
    recs, _bad = logread.read_all(str(flash / "log"))
    return [r[2] for r in recs]


@pytest.mark.req("R-043")
def test_first_flash_without_config_then_bad_config_fixed_by_a_good_flash(tmp_path):
    flash = tmp_path / "flash"
    board = ServedBoard(tmp_path / "tty", flash, ["--socket", "-1"])
    try:
        assert board.ready, board.line
        # 1. a new board, no CONFIG: refused, nothing sent
        r = _flash(board.port)
        assert r.returncode == 2, r.stdout + r.stderr
        err = r.stderr.strip().splitlines()[-1]
        assert "make flash CONFIG=" in err and "boards/sim/config.example.json" in err
        assert "nothing was sent" in err and "Traceback" not in r.stderr
        assert not (flash / "manifest.json").exists()
        # 2. the example as it is: refused (its rate is a placeholder)
        r = _flash(board.port, "--config", str(ROOT / "boards/sim/config.example.json"))
        assert r.returncode == 2 and "example configuration unchanged" in r.stderr
        # 3. a real configuration: flashed; the last line names the alarms
        good = tmp_path / "good.json"
        good.write_text(json.dumps({"rate_ul_h": 30.0, "board_id": "bed 3"}))
        r = _flash(board.port, "--config", str(good))
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().endswith("no alarm active on the board"), r.stdout
        # 4. the configuration goes bad on the board (edited by hand): after a
        # restart the monitor sounds malfunction/internal (bad_config) and latches it
        (flash / "config.json").write_text('{"rate_ul_h": "thirty"}')
        s = BoardSession(board.port)
        s.start_monitor(1.0)
        st = s.status()
        s.close()
        assert "malfunction/internal" in st["alarms"], st
        raised = [x for x in _log(flash) if x[0] == EV_RAISED and x[1] == A.INTERNAL]
        assert raised and raised[-1][2] == A.D_CONFIG
        # 5. without CONFIG the board's refused configuration is not used: nothing sent
        r = _flash(board.port)
        assert r.returncode == 2 and "config.json) is refused" in r.stderr, r.stderr
        assert "make flash CONFIG=" in r.stderr
        # 6. a flash with a correct configuration clears it, logged, and says so
        r = _flash(board.port, "--config", str(good))
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().endswith("no alarm active on the board"), r.stdout
        cleared = [x for x in _log(flash) if x[0] == EV_CLEARED and x[1] == A.INTERNAL]
        assert len(cleared) == 1 and cleared[0][2] == A.D_CONFIG
    finally:
        board.stop()


def test_the_last_line_names_the_alarms_the_board_shows(tmp_path):
    # a latched alarm that is not bad_config stays, and the flash says so
    flash = tmp_path / "flash"
    board = ServedBoard(tmp_path / "tty", flash, ["--socket", "-1"])
    try:
        good = tmp_path / "good.json"
        good.write_text(json.dumps({"rate_ul_h": 30.0}))
        assert _flash(board.port, "--config", str(good)).returncode == 0
        # the board off; its alarm memory says malfunction/internal (a watchdog
        # reset, say) is latched: the state file as the firmware writes it
        board.stop()
        from pumpmon.statefile import StateFile
        st = StateFile(str(flash), L.Flash())
        _status, _shown, _acked, _paused, crc = st.load()
        assert st.save(1 << A.INTERNAL, 0, 0, crc, -1)
        board = ServedBoard(tmp_path / "tty2", flash, ["--socket", "-1"])
        assert board.ready, board.line
        r = _flash(board.port, "--config", str(good))
        assert r.returncode == 0, r.stderr
        last = r.stdout.strip().splitlines()[-1]
        # (and monitoring_interrupted: the board was off)
        assert "ACTIVE ALARMS on the board: malfunction/internal" in last, last
    finally:
        board.stop()
