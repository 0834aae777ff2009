# Reading a running board never stops it monitoring (issue 13), on the
# virtual board with the real firmware on the real unix port: a client that
# asks the status and pulls the whole event log every 30 s of board time,
# through the console channel (docs/console-protocol.md), while the drug
# stops. The alarm comes when the replay of the same trace says it must, the
# timeline shows its sound without a gap, and `status` answers while it sounds.
import json
import subprocess
import threading

import pytest

from tests.support import BIN, ROOT
from tests.vboard_helpers import _flash_firmware, _trace

import logread
from pumpmon import patterns as P

from host_tools.device.session import BoardSession


def _replay_no_flow(trace):
    r = subprocess.run([str(BIN / "pumpmon"), "replay", str(trace)], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    ev = [json.loads(x) for x in r.stdout.splitlines()]
    return next(e["t_ms"] for e in ev if e["event"] == "alarm_raised"
                and e.get("alarm") == "no_flow")


@pytest.mark.req("R-028", "R-038")
def test_a_client_pulling_the_log_every_30_s_never_delays_or_gaps_the_alarm(
        start_board, tmp_path):
    cfg = _trace(tmp_path / "t.csv", duration_s=520, factor=[(200, 0.0)])
    due = _replay_no_flow(tmp_path / "t.csv")
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "20")
    _flash_firmware(b, cfg, tmp_path)
    pulls = []          # (up_s, status dict, {segment: bytes})
    errors = []
    stop = threading.Event()

    def client():
        s = BoardSession(b.port, raw=False)
        try:
            nxt = 0
            while not stop.is_set():
                st = s.status()
                if st["up_s"] >= nxt:
                    d = tmp_path / ("pull%d" % len(pulls))
                    d.mkdir()
                    names = s.fetch_folder("log", d)
                    pulls.append((st["up_s"], st, {n: (d / n).read_bytes() for n in names}))
                    nxt = st["up_s"] + 30
                stop.wait(0.1)
        except Exception as e:   # noqa: BLE001 - reported by the test
            errors.append(repr(e))
        finally:
            s.close()

    t = threading.Thread(target=client, daemon=True)
    t.start()
    try:
        b.wait(lambda: b.status()["trace_done"] or errors, 120, "the trace to end")
    finally:
        stop.set()
        t.join(30)
    assert not errors, errors
    # `pumpmon status` on the command line, while the alarm sounds (the
    # client has let go of the port: a serial port has one owner)
    r = subprocess.run([str(BIN / "pumpmon"), "status", "--port", b.port, "--json"],
                       capture_output=True, text=True, timeout=60)
    cli_json = (r.returncode, r.stdout, r.stderr)
    r = subprocess.run([str(BIN / "pumpmon"), "status", "--port", b.port],
                       capture_output=True, text=True, timeout=60)
    cli_text = (r.returncode, r.stdout, r.stderr)
    assert cli_json[0] == 0, cli_json
    st = json.loads(cli_json[1])
    # (after the trace's end its last row stays: a stuck sensor may be alarming too)
    assert "no_flow/low_flow" in st["alarms"] and st["monitoring"] and st["port"] == b.port
    assert cli_text[0] == 0 and "alarms: no_flow/low_flow" in cli_text[1], cli_text
    rows = b.timeline()
    ev = [r for r in rows if r["kind"] == "event"]
    # the monitor ran through: one boot of main.py after the flash, no stop
    boots = [r for r in rows if r["kind"] == "boot"]
    flashed = max(i for i, r in enumerate(rows) if r["kind"] == "boot")
    assert all(r["kind"] != "boot" for r in rows[flashed + 1:])
    assert not [r for r in ev if r["event"] == "monitoring_stopped"], ev
    assert len(boots) >= 1
    # pulls about every 30 s of board time, all the way through. The client
    # polls every 0.1 s of real time while board time runs up to 20x, so on
    # a loaded host it starts a pull some board seconds late (seen: 31-32 s
    # apart at 4 workers on 2 cores); the alarm's own timing is checked below
    ups = [p[0] for p in pulls]
    assert len(pulls) >= 14 and all(b2 - a <= 40 for a, b2 in zip(ups, ups[1:])), ups
    # no_flow on time: when the replay of the same trace raises it
    nf = [r for r in ev if r["event"] == "alarm_raised" and r.get("alarm") == "no_flow"]
    assert nf, ev
    assert abs(nf[0]["t_ms"] - due) <= 2000, (nf[0]["t_ms"], due)
    # the sound: a burst every REPEAT_HIGH from the alarm to the end, no gap
    w_nf = nf[0]["world_ms"]
    bursts = []
    last_on = None
    for r in rows:
        if r["kind"] == "tone" and r["world_ms"] >= w_nf and r["hz"]:
            if last_on is None or r["world_ms"] - last_on > 1500:
                bursts.append(r["world_ms"])
            last_on = r["world_ms"]
    end = rows[-1]["world_ms"]
    assert len(bursts) >= (end - w_nf) // P.REPEAT_HIGH - 1, bursts
    # (a burst every 6 s; a loaded host makes the VM's 10 ms passes coarser in
    # board time, so a few hundred ms of jitter; an interrupted monitor would
    # be silent for minutes: its flow window starts again)
    gaps = [y - x for x, y in zip(bursts, bursts[1:])]
    assert max(gaps) <= P.REPEAT_HIGH + 1000, gaps
    assert end - bursts[-1] <= P.REPEAT_HIGH + 1000
    # `status` answered while the alarm sounded, and said so
    alarming = [p[1] for p in pulls if p[1]["up_s"] * 1000 > nf[0]["t_ms"] + 2000]
    assert alarming and all(st["alarms"] == ["no_flow/low_flow"] and st["monitoring"]
                            for st in alarming), alarming
    # every pull got the log as it was: the last one equals the board's files
    # (but the newest segment, which may have grown since)
    last = pulls[-1][2]
    for name, data in last.items():
        now = (b.flash / "log" / name).read_bytes()
        assert now[:len(data)] == data
    got, bad = logread.read_all(str(b.flash / "log"))
    assert not bad
