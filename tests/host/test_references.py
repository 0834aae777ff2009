"""Every file and test the prose names exists (issue 26): paths in docs/, the
READMEs, CONTRIBUTING.md and the code's comments and docstrings, Markdown
links, and `tests/<folder>/test_<name>.py::<test>` references (a `::name` after one
names a test of the same file). Static: nothing is imported or run.

What counts as a path, so that prose is never mistaken for one: a relative
path that starts with one of the project's top folders (TOP) and ends either
in a file name with a known extension (EXT) or in a `/` (a folder). A
placeholder is written in angle brackets (`boards/<name>/board.py`) and is
not a reference. CHANGELOG.md is history (it names files since removed)."""
import ast
import io
import re
import subprocess
import tokenize

import pytest

from tests.support import ROOT

TOP = ("firmware", "boards", "host_tools", "tests", "docs", "traces", "mcu", ".ci")
EXT = ("py", "md", "txt", "json", "jsonl", "csv", "toml", "ini", "yaml", "yml", "c", "h",
       "sed", "sh", "cfg")
PATH = re.compile(r"(?<![\w./<>*-])((?:%s)/(?:[\w.-]+/)*(?:[\w-][\w.-]*\.(?:%s)|))(?![\w/<>*-])"
                  % ("|".join(re.escape(t) for t in TOP), "|".join(EXT)))
# a test: tests/<folder>/test_<name>.py::<test> or test_<name>.py::<test>, then ::<other>
TEST_REF = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*test_\w+\.py)?::(\w+)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
VENDORED = ("firmware/umqtt/", "boards/drivers/ssd1306.py")


def _prose(rel, text):
    """The parts of a file that are prose: a Markdown file whole, a Python
    file's comments and docstrings, the Makefile's comments."""
    if rel.endswith(".md"):
        return text
    if rel == "Makefile":
        return "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#")
                         or "## " in line)
    parts = [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline)
             if t.type == tokenize.COMMENT]
    for n in ast.walk(ast.parse(text)):
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            doc = ast.get_docstring(n, clean=False)
            if doc:
                parts.append(doc)
    return "\n".join(parts)


def _sources():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    out = []
    for rel in files:
        if rel.endswith(".md"):
            if rel.startswith("docs/") or rel.endswith("README.md") or rel == "CONTRIBUTING.md":
                out.append(rel)
        elif (rel.endswith(".py") and rel.startswith(TOP) and not rel.startswith(VENDORED)) \
                or rel == "Makefile":
            out.append(rel)
    return out


def _defines(path, name):
    return re.search(r"^\s*(?:async\s+)?(?:def|class)\s+%s\b" % re.escape(name),
                     path.read_text(encoding="utf-8"), re.M) is not None


def missing_references(rel, text):
    """What the prose of file rel (text: the file's content) names that does
    not exist: a list of strings."""
    prose = _prose(rel, text)
    bad = []
    for m in PATH.finditer(prose):
        if not (ROOT / m.group(1)).exists():
            bad.append("%s names %s: no such file" % (rel, m.group(1)))
    if rel.endswith(".md"):
        here = (ROOT / rel).parent
        for m in LINK.finditer(prose):
            target = m.group(1).split("#")[0]
            if target and ":" not in target and not (here / target).exists():
                bad.append("%s links to %s: no such file" % (rel, target))
    for line in prose.splitlines():
        current = None
        for m in TEST_REF.finditer(line):
            if m.group(1):
                name = m.group(1)
                found = [ROOT / name] if "/" in name else sorted((ROOT / "tests").rglob(name))
                current = [p for p in found if p.is_file()]
                if not current:
                    bad.append("%s names %s: no such test file" % (rel, name))
                    continue
            if current and not any(_defines(p, m.group(2)) for p in current):
                bad.append("%s names %s::%s: no such test" % (rel, current[0].name, m.group(2)))
    return bad


def test_every_file_and_test_named_exists():
    sources = _sources()
    assert "docs/safety.md" in sources and "firmware/pumpmon/runner.py" in sources
    bad = []
    for rel in sources:
        bad += missing_references(rel, (ROOT / rel).read_text(encoding="utf-8"))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("text, found", [
    ("see tests/host/test_nothing_here.py", True),              # a missing file
    ("docs/no-such-page.md and firmware/pumpmon/", True),
    ("tests/firmware/test_engine.py::test_no_such_test", True),  # a missing test
    ("tests/firmware/test_escalation.py::test_unanswered_high_alarm_escalates_at_ten_minutes,"
     " ::test_no_such_one", True),                              # the second one
    ("[the hazards](hazards-gone.md)", True),                    # a Markdown link
    ("docs/safety.md, firmware/pumpmon/, boards/<name>/board.py", False),
    ("tests/firmware/test_escalation.py::test_unanswered_high_alarm_escalates_at_ten_minutes",
     False),
    ("an and/or choice, 3/4 of a dose, lib/pumpmon/engine.mpy on the board", False),
])
def test_a_wrong_reference_is_found(text, found):
    assert bool(missing_references("docs/example.md", text)) == found, text
