# `pumpmon board serve --mcu` (host_tools/mcu/serve.py, docs/mcu.md): the
# emulated Cortex-M3 (`make mcu`) as a board the host tools talk to. The
# real firmware is flashed onto it with `pumpmon flash` (.mpy for its
# architecture, boot.py, main.py, config), it resets and the monitor boots;
# with no sensors attached (boards/qemu/) it does what a real board with its
# sensors unplugged does: malfunction/flow_sensor and level_sensor within
# their fault times, logged, answered by `pumpmon status` and `pumpmon log
# pull`. The serving process stops its QEMU (by pid) on SIGINT.
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host_tools.mcu import qemu

ROOT = Path(__file__).resolve().parents[2]
PUMPMON = str(Path(sys.executable).parent / "pumpmon")
FLOW_FAULT_S = 10
LEVEL_FAULT_S = 15


def _pm(env, *args, timeout=300):
    return subprocess.run([PUMPMON] + [str(a) for a in args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def served(tmp_path):
    assert qemu.available() is None, qemu.available() + " (make test does)"
    env = dict(os.environ, PUMPMON_RUNTIME_DIR=str(tmp_path / "run"))
    link = tmp_path / "ttyMCU0"
    p = subprocess.Popen([PUMPMON, "board", "serve", "--mcu", "--json", "--pty", str(link)],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        info = json.loads(p.stdout.readline())
        yield env, info, p
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        p.stdout.close()
        p.stderr.close()


def _records(env, tmp_path):
    r = _pm(env, "log", "pull", "--port", tmp_path / "ttyMCU0", "--json",
            "--dest", tmp_path / "pulled")
    assert r.returncode == 0, r.stdout + r.stderr
    return [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]


@pytest.mark.req("R-057")
def test_flashed_mcu_without_sensors_raises_both_sensor_faults(served, tmp_path):
    env, info, proc = served
    port = str(tmp_path / "ttyMCU0")
    assert info["port"] == port and os.path.realpath(port) == info["tty"]
    devs = json.loads(_pm(env, "devs", "--json").stdout)["boards"]
    assert [b["port"] for b in devs if b["kind"] == "virtual"] == [port], devs

    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"board_id": "qemu-test", "rate_ul_h": 30.0,
                               "reservoir_capacity_ml": 20.0, "low_reservoir_ml": 4.0,
                               "flow_fault_s": FLOW_FAULT_S, "level_fault_s": LEVEL_FAULT_S}))
    r = _pm(env, "flash", "--port", port, "--config", cfg, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["selftest"] == "passed", summary
    print(summary)

    # the monitor boots from what was flashed and, with nothing on its bus or
    # ADC, raises both sensor faults (high priority: sounding, red light)
    want = {"malfunction/flow_sensor", "malfunction/level_sensor"}
    deadline = time.monotonic() + 240
    while True:
        r = _pm(env, "status", "--port", port, "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        st = json.loads(r.stdout)
        assert st["monitoring"] and st["platform"] == "qemu", st
        if want <= set(st["alarms"]) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert want <= set(st["alarms"]), st
    assert st["led"] == "red" and st["tone_hz"] or "sounding" in st["sound_pattern"], st
    assert st["boot_cause"] == "power_on" and st["heap_total"] <= qemu.PICO_HEAP, st

    # logged, each within its fault time of the boot (the board's own clock)
    recs = _records(env, tmp_path)
    assert [r["event"] for r in recs[:2]] == ["boot", "firmware"], recs
    raised = {r["alarm"] + "/" + r["cause"]: r for r in recs if r["event"] == "alarm_raised"}
    for alarm, fault_s in (("malfunction/flow_sensor", FLOW_FAULT_S),
                           ("malfunction/level_sensor", LEVEL_FAULT_S)):
        assert alarm in raised, recs
        r = raised[alarm]
        assert r["detail"] == "silent" and r["priority"] == "high", r
        assert fault_s * 1000 <= r["uptime_ms"] <= (fault_s + 2) * 1000, r

    # Ctrl-C: the serving process stops its QEMU (by pid), its link and advert
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0, proc.stderr.read()
    assert not Path("/proc/%d" % info["qemu_pid"]).exists()
    assert not os.path.lexists(port)
    assert json.loads(_pm(env, "devs", "--json").stdout)["boards"] == []


@pytest.mark.req("R-057")
def test_machine_reset_restarts_the_mcu_with_its_files(tmp_path):
    # machine.reset() is a system reset (mcu/reset.sed), not QEMU's end: the
    # same QEMU and pty, the clock restarted, the flash (in PSRAM) keeps its files
    mpremote = str(Path(sys.executable).parent / "mpremote")
    with qemu.Qemu() as q:
        def mp(*args):
            r = subprocess.run([mpremote, "connect", q.pty] + list(args), capture_output=True,
                               text=True, timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
            return r.stdout
        mp("exec", "import time; open('kept', 'w').write('x'); time.sleep_ms(4000)")
        up = int(mp("exec", "import time; print(time.ticks_ms())"))
        assert up >= 4000
        mp("exec", "--no-follow", "import machine; machine.reset()")
        time.sleep(1)
        assert q.alive()                 # upstream's machine.reset() ended QEMU
        assert int(mp("exec", "import time; print(time.ticks_ms())")) < up
        assert mp("exec", "print(open('kept').read())").strip() == "x"


@pytest.mark.req("R-057")
def test_second_flash_onto_the_running_mcu_monitor_takes_the_new_config(served, tmp_path):
    # A device engineer flashes twice: the second `pumpmon flash` asks the
    # running monitor for service mode, then takes the REPL with Ctrl-C. The
    # qemu port read its UART only when the firmware read its console, so
    # that Ctrl-C never reached the monitor and the flash failed with exit 4
    # (busy). mcu/mphalport.c now takes the UART's bytes where the firmware
    # waits (time.sleep_ms, select.poll), as a board's UART interrupt does.
    env, info, _proc = served
    port = str(tmp_path / "ttyMCU0")

    def flash(name, **cfg):
        path = tmp_path / name
        path.write_text(json.dumps(dict({"reservoir_capacity_ml": 20.0,
                                         "low_reservoir_ml": 4.0}, **cfg)))
        r = _pm(env, "flash", "--port", port, "--config", path, "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout.splitlines()[-1])["selftest"] == "passed", r.stdout

    def status():
        r = _pm(env, "status", "--port", port, "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout)

    flash("a.json", board_id="qemu-a", rate_ul_h=30.0, flow_fault_s=FLOW_FAULT_S,
          level_fault_s=LEVEL_FAULT_S)
    # the monitor runs (its loop sleeping in time.sleep_ms) and has raised
    # malfunction/flow_sensor at 10 s of board time; status and a log pull
    # go through its console channel while it runs
    deadline = time.monotonic() + 120
    while True:
        st = status()
        assert st["monitoring"], st
        if "malfunction/flow_sensor" in st["alarms"] or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert "malfunction/flow_sensor" in st["alarms"] and st["prog_mean"] == 300, st
    assert "alarm_raised" in [r["event"] for r in _records(env, tmp_path)]

    # the second flash, onto the running monitor: only the config changes
    flash("b.json", board_id="qemu-b", rate_ul_h=40.0, flow_fault_s=5, level_fault_s=20)
    st = status()
    assert st["monitoring"] and st["boot_cause"] == "soft", st
    assert st["prog_mean"] == 400, st              # the new rate is in force
    recs = _records(env, tmp_path)
    stops = [r for r in recs if r["event"] == "monitoring_stopped"]
    assert [(r["detail"], r["service"]) for r in stops] == [("service", "flash")], stops
    changed = {r["setting"]: (r["old"], r["new"]) for r in recs
               if r["event"] == "config_changed"}
    assert changed["rate_ul_h"] == ("30", "40") and changed["flow_fault_s"] == ("10", "5"), recs

    # a Ctrl-C from a plain mpremote is no silent way to stop the monitor: it
    # reaches the running loop, which logs monitoring_stopped (interrupted)
    # and leaves the service indication on (docs/console-protocol.md, Stopping)
    mpremote = str(Path(sys.executable).parent / "mpremote")
    r = subprocess.run([mpremote, "connect", port, "exec", "print(7 * 6)"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "42", r.stdout + r.stderr
    last = _records(env, tmp_path)[-1]
    assert (last["event"], last["detail"]) == ("monitoring_stopped", "interrupted"), last
