"""`make lint`: the board code type-checks against each board's official
MicroPython stubs (pinned in requirements-stubs-*.txt, installed by `make
stubs` into .venv/stubs/<port>/), with mypy. A deliberate type error in a
copy of the board code must fail it, or the check proves nothing."""
import fcntl
import shutil
import subprocess

import pytest

from tests.support import ROOT
STUBS = ROOT / ".venv" / "stubs"


def make(*args, timeout=600):
    # -o: never rebuild the venv from inside a test (make setup did it)
    return subprocess.run(["make", "-s", "--no-print-directory", "-o", ".venv/.installed"]
                          + list(args), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def stubs():
    with open(ROOT / ".venv" / ".stubs.lock", "w") as lock:   # xdist workers
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = make("stubs")
    assert r.returncode == 0, r.stdout + r.stderr
    for port, marker in (("rp2", "rp2/__init__.pyi"), ("esp32", "esp32.pyi")):
        assert (STUBS / port / marker).exists()
        assert (STUBS / port / "stdlib" / "builtins.pyi").exists()
    assert not (STUBS / "rp2" / "esp32.pyi").exists()   # each port in its own folder
    assert not (STUBS / "esp32" / "rp2").exists()


def test_board_code_type_checks_against_both_ports_stubs(stubs):
    r = make("lint")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert out.count("Success: no issues found") == 2, out
    # each port checked with its own stubs, and only those (no CPython typeshed)
    cmds = make("-n", "lint").stdout
    assert "--custom-typeshed-dir .venv/stubs/rp2 " in cmds
    assert "MYPYPATH=.venv/stubs/rp2:boards/drivers:boards/rpi_pico " in cmds
    assert "--custom-typeshed-dir .venv/stubs/esp32 " in cmds
    assert "MYPYPATH=.venv/stubs/esp32:boards/drivers:boards/esp32 " in cmds


def _copy(tmp_path):
    dst = tmp_path / "boards"
    for d in ("drivers", "rpi_pico", "esp32"):
        shutil.copytree(ROOT / "boards" / d, dst / d)
    return dst


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


# (file in the copy, text, replacement, what mypy must say)
BREAKS = [
    ("drivers/board_base.py", "self.buzzer.tone(hz)", 'self.buzzer.tone("loud")',
     'Argument 1 to "tone" of "Buzzer" has incompatible type "str"'),
    # an ESP32-only API used on the Pico: only the rp2 stubs can tell
    ("rpi_pico/board.py", "self.level = AnalogLevel(ADC(Pin(P.LEVEL_ADC))",
     "adc = ADC(Pin(P.LEVEL_ADC))\n        adc.init(atten=ADC.ATTN_11DB)\n"
     "        self.level = AnalogLevel(adc", '"ADC" has no attribute "init"'),
    ("esp32/board.py", "self.flow.start(time.ticks_ms())", "self.flow.start(time.time_ns)",
     'Argument 1 to "start" of "SF06LF" has incompatible type'),
    ("drivers/sf06.py", "self.i2c.readfrom_into(self.addr, b)",
     "self.i2c.readfrom_into(self.addr, b, 1, 2)", 'Too many arguments for "readfrom_into"'),
]


def test_a_deliberate_type_error_fails_lint(stubs, tmp_path):
    clean = _copy(tmp_path / "clean")
    r = make("lint", "BOARDS=%s" % clean)
    assert r.returncode == 0, r.stdout + r.stderr       # the copy itself is fine
    for i, (rel, old, new, message) in enumerate(BREAKS):
        broken = _copy(tmp_path / ("broken%d" % i))
        _edit(broken / rel, old, new)
        r = make("lint", "BOARDS=%s" % broken)
        out = r.stdout + r.stderr
        assert r.returncode != 0, (rel, out)
        assert message in out, out
