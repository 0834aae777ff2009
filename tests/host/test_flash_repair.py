# Issue 28: after a cut during a flash (the host session gone mid-transfer,
# the board left at its raw REPL), the repair flash succeeds 20 times in 20.
# One of them used to answer exit 4 "board busy": the board was rebooting
# (its watchdog resets a REPL nobody feeds within 8 s, on a real board and now
# on the virtual board) when the repair flash sent its Ctrl-C. The repair is
# started at delays that land before, during and after that reboot.
import pytest
from test_flash import _cut_exec, flash, needs_board, whole

from host_tools.device.errors import DeviceError
from host_tools.exitcodes import LOST
from tests.support import ROOT

DELAYS = (0.0, 2.0, 5.0, 7.5, 8.0, 8.5, 9.0, 9.5, 10.0, 12.0)


@pytest.mark.req("R-081")
@needs_board
def test_the_repair_flash_after_a_cut_succeeds_20_times_in_20(vboard, repo, cfg_file, mocker):
    import random
    import time
    flash(vboard, ROOT, config=cfg_file)
    rnd = random.Random(28)
    ok = 0
    for i in range(20):
        with open(repo / "firmware" / "pumpmon" / "events.py", "a") as f:
            f.write("\n_REPAIR_%d = 1\n" % i)          # a new version each time
        k = rnd.randrange(1, 4)
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
    assert ok == 20
