# Issue 28: after a cut during a flash (the host session gone mid-transfer,
# the board left at its raw REPL), the repair flash succeeds every time.
# One of them used to answer exit 4 "board busy": the board was rebooting
# (its watchdog resets a REPL nobody feeds within 8 s, on a real board and now
# on the virtual board) when the repair flash sent its Ctrl-C. The repair is
# started at delays that land before, during and after that reboot.
# `make test` repairs once at each distinct delay (10 cut-and-repair rounds,
# every cut point among them); `make test-slow` (PUMPMON_TEST_FULL=1) runs
# issue 28's whole 20 in 20: each delay twice, with another cut point the
# second time. The second round repeats paths the first took (a delay, a cut
# point), so it adds confidence against an intermittent failure, not a new
# path (issue 24: make test under 10 min).
import pytest
from test_flash import _cut_exec, flash, needs_board, whole

from host_tools.device.errors import DeviceError
from host_tools.exitcodes import LOST
from tests.support import FULL, ROOT

DELAYS = (0.0, 2.0, 5.0, 7.5, 8.0, 8.5, 9.0, 9.5, 10.0, 12.0)
ROUNDS = 20 if FULL else len(DELAYS)


@pytest.mark.req("R-081")
@needs_board
def test_the_repair_flash_after_a_cut_succeeds_every_time(vboard, repo, cfg_file, mocker):
    import time
    flash(vboard, ROOT, config=cfg_file)
    ok = 0
    for i in range(ROUNDS):
        with open(repo / "firmware" / "pumpmon" / "events.py", "a") as f:
            f.write("\n_REPAIR_%d = 1\n" % i)          # a new version each time
        k = 1 + i % 3                                 # the cut: 1st, 2nd or 3rd chunk
        state = _cut_exec(mocker, lambda code, n, k=k: n == k)
        with pytest.raises(DeviceError) as e:
            flash(vboard, repo)
        assert state["cut"] and e.value.status == LOST, str(e.value)
        mocker.stopall()
        time.sleep(DELAYS[i % len(DELAYS)])
        s = flash(vboard, repo)                        # the repair
        assert s["selftest"] == "passed", (i, s)
        man = whole(vboard.files(), repo)
        assert man["version"] == s["version"]
        ok += 1
    assert ok == ROUNDS
