# Traces people write (issue 15): an unknown metadata key is refused as
# `config set` refuses an unknown setting (exit 2, FILE:LINE, the nearest
# key); an error never echoes a huge line; what docs/trace-format.md says a
# hand-written trace needs is what the firmware does.
import json
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.exitcodes import BAD_INPUT, OK
from host_tools.formats.trace import INFO_KEYS, TraceError, read_trace
from host_tools.replay import driver

from tests.support import ROOT
BIN = Path(sys.executable).parent
HEADER = "t_ms,reservoir_ml,flow_ul_h\n"


def pumpmon(*args):
    return subprocess.run([str(BIN / "pumpmon")] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.req("R-054")
def test_a_misspelt_setting_is_refused_with_its_line_and_the_nearest_key(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("# pumpmon-trace v1\n# rate_ul_h=30\n# low_reservior_ml=5\n" + HEADER +
                 "0,18.0,30.1\n1000,18.0,29.7\n")
    for cmd in (("trace", "check", p), ("replay", p)):
        r = pumpmon(*cmd)
        assert r.returncode == BAD_INPUT, (cmd, r.stderr)
        assert r.stderr.strip() == (
            "%s:3: unknown metadata key 'low_reservior_ml' (did you mean "
            "'low_reservoir_ml'?); settings are in docs/config.md, your own keys start "
            "with x_" % p)
        assert r.stdout == ""
    # and `config set` says the same of the same typo, before any board is looked for
    r = pumpmon("config", "set", "low_reservior_ml=5", "--port", tmp_path / "none")
    assert r.returncode == BAD_INPUT and "unknown setting 'low_reservior_ml'" in r.stderr


def test_known_descriptive_keys_own_keys_and_prose_pass(tmp_path):
    p = tmp_path / "t.csv"
    meta = "".join("# %s=v\n" % k for k in INFO_KEYS if k != "seed")
    p.write_text("# rate_ul_h=30\n# seed=3\n" + meta + "# x_ward=4B\n"
                 "# see https://example.org/?a=b for the bed plan\n" +
                 HEADER + "0,18.0,30.1\n")
    tr = read_trace(p)
    assert tr.meta["x_ward"] == "4B" and tr.meta["scenario"] == "v"
    assert tr.config_values()["rate_ul_h"] == "30"


def test_everything_the_tools_write_reads_back(tmp_path):
    # the corpus, trace gen and the recorder's keys are all known
    from host_tools.sim.corpus import ALL
    csvs = sorted((ROOT / "traces").glob("*.csv"))
    assert {p.stem for p in csvs} == set(ALL), csvs      # the whole corpus, not none
    for csv in csvs:
        read_trace(csv)
    out = tmp_path / "g.csv"
    assert pumpmon("trace", "gen", "rate 5, 10 min", "-o", out).returncode == OK
    assert read_trace(out).meta["description"] == "rate 5, 10 min"


@pytest.mark.parametrize("make, where", [
    (lambda: "t_ms,reservoir_ml," + "x" * (4 << 20), "header is 't_ms,reservoir_ml,xxx"),
    (lambda: "# rate_ul_h=30\n" + HEADER + "0,18," + "7" * (4 << 20) + "z\n", "flow_ul_h: '777"),
    (lambda: "# rate_ul_h=" + "9" * (4 << 20) + "q\n" + HEADER + "0,18,30\n", "bad metadata"),
    (lambda: "# " + "k" * (4 << 20) + "=1\n" + HEADER + "0,18,30\n", "unknown metadata key"),
])
def test_a_4mb_line_gives_a_short_error(tmp_path, make, where):
    p = tmp_path / "big.csv"
    p.write_text(make())
    r = pumpmon("trace", "check", p)
    assert r.returncode == BAD_INPUT
    line = r.stderr.strip()
    assert "\n" not in line and len(line) < 700, len(line)
    assert where in line and "..." in line
    with pytest.raises(TraceError) as e:
        read_trace(p).validate()
    assert len(str(e.value)) < 700


def _raised(path):
    events = []
    tr = read_trace(path)
    driver.replay(tr.config(), tr.samples(), events.append)
    return [json.loads(x) for x in events if '"alarm_raised"' in x]


@pytest.mark.req("R-006")
def test_the_docs_warning_a_constant_flow_column_is_a_stuck_sensor(tmp_path):
    # docs/trace-format.md, Writing a trace by hand: what a person types
    p = tmp_path / "typed.csv"
    p.write_text("# rate_ul_h=30\n" + HEADER +
                 "".join("%d,18.0,30.0\n" % (i * 1000) for i in range(200)))
    raised = _raised(p)
    assert [(e["alarm"], e["cause"], e["detail"]) for e in raised] == \
        [("malfunction", "flow_sensor", "stuck")]
    assert raised[0]["t_ms"] == 120000                 # flow_stuck_s


def test_the_docs_warning_rows_a_minute_apart_are_sensor_silence(tmp_path):
    p = tmp_path / "sparse.csv"
    p.write_text("# rate_ul_h=30\n" + HEADER +
                 "".join("%d,18.0,%.1f\n" % (i * 60000, 30 + i % 3) for i in range(5)))
    raised = _raised(p)
    assert (raised[0]["alarm"], raised[0]["cause"], raised[0]["detail"]) == \
        ("malfunction", "flow_sensor", "silent")
    assert raised[0]["t_ms"] == 10000                  # flow_fault_s into the first gap
