# Issue 28: tests, benches and demos send traffic only to this machine
# (127.0.0.0/8, ::1). Every IPv4 or IPv6 address written in the project's
# code, tests and configuration must be a loopback (or the wildcard 0.0.0.0
# a listener binds), outside docs/ and the config-parsing fixtures named
# below (addresses only handed to Config(), never connected to). Version
# numbers (requirements, pyproject) have three parts or are pinned versions.
import ipaddress
import re
import subprocess

import pytest

from tests.support import ROOT
# files whose non-loopback addresses are only parsed (Config), never dialled
PARSE_ONLY = {
    "tests/firmware/test_carer_settings.py",
    "tests/firmware/test_silent_paths.py",
    "tests/host/test_log.py",
    "tests/carer/test_config_secrets.py",
}
V4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])")
V6 = re.compile(r"(?<![\w:.[])([0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7})(?![\w:.])")
VERSIONS = ("requirements", "pyproject.toml", "Makefile")


def _files():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    for f in out:
        if f.startswith(("docs/", "traces/")) or f.endswith((".md", ".csv", ".png")):
            continue
        if f in PARSE_ONLY or f == "tests/test_loopback_only.py":
            continue
        yield f


def _bad(text, versions):
    bad = []
    for m in V4.finditer(text):
        try:
            a = ipaddress.ip_address(m.group(1))
        except ValueError:
            continue                       # 300.1.2.3: not an address
        if not (a.is_loopback or a.is_unspecified):
            if versions and re.search(r"[=<>~]=?\s*$", text[:m.start()].splitlines()[-1]):
                continue                   # a pinned version (pkg==1.2.3.4)
            bad.append(m.group(1))
    for m in V6.finditer(text):
        try:
            a = ipaddress.ip_address(m.group(1))
        except ValueError:
            continue
        if not (a.is_loopback or a.is_unspecified):
            bad.append(m.group(1))
    return bad


@pytest.mark.req("R-088")
def test_the_project_dials_only_loopback_addresses():
    found = {}
    for f in _files():
        p = ROOT / f
        try:
            text = p.read_text()
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        bad = _bad(text, f.startswith(VERSIONS))
        if bad:
            found[f] = sorted(set(bad))
    assert not found, "non-loopback addresses outside docs and parse-only fixtures: %s" % found


@pytest.mark.req("R-088")
def test_the_check_finds_what_it_must():
    assert _bad('connect(("192.0.2.1", 1883))', False) == ["192.0.2.1"]
    assert _bad('host = "10.0.0.7"', False) == ["10.0.0.7"]
    assert _bad('addr = "2001:db8::1"', False) == ["2001:db8::1"]
    assert _bad('("127.0.0.1", p) ("127.1.2.3", p) "::1" "0.0.0.0"', False) == []
    assert _bad("amqtt==0.12.1\nfoo==1.2.3.4\n", True) == []
