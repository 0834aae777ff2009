"""Release bundles (host_tools/flashing/bundle.py, `make release`) and
`pumpmon flash --bundle FILE` on the virtual board: a clinic installs a
released, identified firmware, and the board's log says which one it runs and
which one it replaced (issue 27: docs/flashing.md, Releases)."""
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from host_tools.flashing import bundle as BU
from host_tools.exitcodes import BAD_INPUT, INCOMPATIBLE
from host_tools.flashing.build import sha256_hex
from host_tools.flashing.errors import FlashError
from host_tools.vboard.served import ServedBoard
from pumpmon import VERSION

from tests.support import ROOT
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def sim_bundle(tmp_path_factory):
    """A bundle for the virtual board, from a copy of the firmware with one
    module changed (so its manifest differs from the working tree's)."""
    tmp = tmp_path_factory.mktemp("bundle")
    repo = tmp / "repo"
    for d in ("firmware", "boards"):
        shutil.copytree(ROOT / d, repo / d, ignore=shutil.ignore_patterns("__pycache__"))
    with open(repo / "firmware" / "pumpmon" / "events.py", "a") as f:
        f.write("\nRELEASE_TEST = 1\n")
    info = {"version": [1, 28, 0], "platform": "linux",
            "mpy": json.loads(subprocess.run(
                [str(BIN / "micropython"), "-c", "import sys; print(sys.implementation._mpy)"],
                capture_output=True, text=True).stdout)}
    return BU.build("sim", tmp / "out", root=repo, info=info)


def _rewrite(src, dest, change):
    """A copy of a bundle with its members passed through change(members)."""
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    change(members)
    with zipfile.ZipFile(dest, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    return dest


@pytest.mark.req("R-051")
def test_a_bundle_holds_the_manifest_its_files_and_their_hashes(sim_bundle):
    assert sim_bundle.name == "pumpmon-%s-sim.zip" % VERSION
    meta, files, man_data = BU.load(sim_bundle)
    man = json.loads(man_data)
    assert meta["version"] == VERSION and meta["board"] == "sim"
    assert meta["manifest"] == man["version"] and set(files) == set(man["files"])
    assert "lib/pumpmon/engine.mpy" in files and "main.py" in files
    for p, h in man["files"].items():
        assert sha256_hex(files[p]) == h
    with zipfile.ZipFile(sim_bundle) as z:
        sums = z.read("SHA256SUMS").decode()
    assert "%s  manifest.json" % sha256_hex(man_data) in sums


@pytest.mark.parametrize("damage, words", [
    (lambda m: m.__setitem__("files/main.py", m["files/main.py"] + b"#"),
     "files/main.py does not match its SHA-256"),
    (lambda m: m.pop("files/boot.py"), "SHA256SUMS does not list exactly its members"),
    (lambda m: m.pop("manifest.json"), "manifest.json is missing"),
    (lambda m: m.__setitem__("SHA256SUMS", b"nonsense\n"), "SHA256SUMS line 1"),
])
@pytest.mark.req("R-051")
def test_a_damaged_bundle_is_refused_naming_the_file(sim_bundle, tmp_path, damage, words):
    bad = _rewrite(sim_bundle, tmp_path / "bad.zip", damage)
    with pytest.raises(FlashError) as e:
        BU.load(bad)
    assert e.value.status == BAD_INPUT
    assert str(e.value).startswith(str(bad)) and words in str(e.value), str(e.value)


@pytest.mark.req("R-051")
def test_a_file_changed_with_its_sum_still_fails_the_manifest(sim_bundle, tmp_path):
    def change(m):
        m["files/main.py"] += b"#"
        m["SHA256SUMS"] = "".join("%s  %s\n" % (sha256_hex(m[n]), n) for n in sorted(m)
                                  if n != "SHA256SUMS").encode()
    bad = _rewrite(sim_bundle, tmp_path / "bad.zip", change)
    with pytest.raises(FlashError) as e:
        BU.load(bad)
    assert "main.py does not match the manifest" in str(e.value)


@pytest.mark.req("R-051")
def test_another_board_or_architecture_is_refused(sim_bundle):
    rel = BU.load(sim_bundle)
    with pytest.raises(FlashError) as e:
        BU.load(sim_bundle, board="rpi_pico")
    assert e.value.status == BAD_INPUT and "built for the sim board" in str(e.value)
    with pytest.raises(FlashError) as e:
        BU.files_for(rel, "rpi_pico", {"mpy": 6 | (3 << 8) | (4 << 10), "march": "armv6m",
                                       "label": "MicroPython 1.24.0"}, sim_bundle)
    assert e.value.status == INCOMPATIBLE
    arm = dict(rel[0], march="armv6m")
    with pytest.raises(FlashError):
        BU.check_target(arm, {"mpy": rel[0]["mpy"], "march": "x64", "label": "x"}, sim_bundle)


@pytest.mark.req("R-052")
def test_release_needs_a_changelog_entry_and_is_reproducible(tmp_path):
    assert BU.changelog_entry(VERSION)            # this version has its section
    (tmp_path / "CHANGELOG.md").write_text("# Changelog\n\n## %s\n\n## 0.0.1\n- x\n" % VERSION)
    with pytest.raises(FlashError) as e:
        BU.changelog_entry(VERSION, root=tmp_path)   # a heading with nothing under it
    assert "CHANGELOG.md" in str(e.value)
    a = BU.build("rpi_pico", tmp_path / "a")
    b = BU.build("rpi_pico", tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()          # same sources, same bundle
    meta, files, _m = BU.load(a)
    assert meta["march"] == "armv6m" and "board.mpy" in files and "failsafe.json" in files


@pytest.mark.req("R-030", "R-051")
def test_flash_a_bundle_on_the_virtual_board_logs_old_and_new_identity(sim_bundle, tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    cfg = tmp_path / "config.json"
    cfg.write_text('{"rate_ul_h": 30}')
    board = ServedBoard(tmp_path / "tty", flash)
    try:
        assert board.ready, board.line

        def pumpmon(*args):
            return subprocess.run([str(BIN / "pumpmon")] + [str(a) for a in args], cwd=ROOT,
                                  capture_output=True, text=True, timeout=300)
        r = pumpmon("flash", "--port", board.port, "--config", cfg, "--json")
        assert r.returncode == 0, r.stderr
        first = json.loads(r.stdout)["version"]
        r = pumpmon("flash", "--port", board.port, "--bundle", sim_bundle)
        assert r.returncode == 0, r.stderr
        meta, files, man_data = BU.load(sim_bundle)
        assert "version %s (was %s)" % (meta["manifest"], first) in r.stdout, r.stdout
        assert "release %s from %s" % (VERSION, sim_bundle) in r.stdout, r.stdout
        # installed byte for byte, the manifest included
        assert (flash / "manifest.json").read_bytes() == man_data
        for p, data in files.items():
            assert (flash / p).read_bytes() == data, p
        # the running monitor says which firmware it is
        r = pumpmon("status", "--port", board.port, "--json")
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["firmware"] == VERSION and st["manifest"] == meta["manifest"][:7], st
        r = pumpmon("log", "pull", "--port", board.port, "--dest", tmp_path / "log", "--json")
        assert r.returncode == 0, r.stderr
        fw = [x for x in map(json.loads, r.stdout.splitlines()) if x["event"] == "firmware"]
        last = fw[-1]
        assert (last["change"], last["manifest"], last["previous_manifest"]) == (
            "flashed", meta["manifest"][:7], first[:7]), fw
        # a bundle for another board: refused before anything is sent
        other = _rewrite(sim_bundle, tmp_path / "o.zip", lambda m: None)
        r = pumpmon("flash", "--port", board.port, "--bundle", other, "--board", "esp32")
        assert r.returncode == BAD_INPUT and "built for the sim board" in r.stderr
    finally:
        board.stop()


@pytest.mark.req("R-051")
def test_a_dry_run_of_a_bundle_lists_its_files_not_the_working_trees(sim_bundle):
    from host_tools.flashing.protocol import flash
    meta, files, _m = BU.load(sim_bundle)
    s = flash(bundle=str(sim_bundle), dry_run=True, progress=False)
    assert s["would_send"] == sorted(files) and s["version"] == meta["manifest"]
    assert s["board"] == "sim" and s["bytes_to_send"] == sum(map(len, files.values()))
