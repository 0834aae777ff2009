"""The safety file's trace: requirements (docs/requirements.md), hazards
(docs/hazards.md) and the tests that verify them, read from the tests
themselves (CONTRIBUTING.md, "Requirements and their tests").

A test names the requirements it verifies in one of two forms:
- host tests (tests/host, tests/vboard, tests/boards, tests/carer):
  `@pytest.mark.req("R-012", "R-013")`;
- firmware tests (tests/firmware/, which also run on MicroPython, where no
  pytest exists): a docstring line `req: R-012, R-013`.
Both are read from the source (ast), so the check needs no test run.

`check(root)` lists every problem: a requirement no test verifies, a test
naming an unknown requirement, a hazard with no control, a control or a
requirement naming an unknown ID, a hazard and a requirement that disagree
about which controls which, a test named in hazards.md that does not exist or
does not carry one of that hazard's controls. tests/host/test_traceability.py
runs it in `make test`.

`python -m host_tools.traceability` (`make trace`) prints the matrix as
Markdown: requirement -> tests -> their result in the last `make test`
(build/test-results.xml, written by `make test`), "not run" without one.
`--check` prints the problems and exits 1 when there are any.
"""
import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from host_tools.paths import BUILD, ROOT

REQ_ID = re.compile(r"^R-\d{3}$")
HAZ_ID = re.compile(r"^H-\d{2}$")
ANY_ID = re.compile(r"\b([RH]-\d{2,3})\b")
DOC_LINE = re.compile(r"^\s*req:\s*(.+?)\s*$", re.M)
TEST_REF = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")
RESULTS = BUILD / "test-results.xml"
# the test folders whose tests name requirements in docstrings (MicroPython)
DOCSTRING_DIRS = ("tests/firmware",)


def _rows(path):
    """The rows of every Markdown table in a file: [(line number, [cells])]."""
    out = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        s = line.strip()
        if not (s.startswith("|") and s.endswith("|")) or set(s) <= set("|-: "):
            continue
        cells = [c.strip() for c in s[1:-1].split("|")]
        out.append((i, cells))
    return out


def _ids(text, pattern):
    return [x for x in ANY_ID.findall(text) if pattern.match(x)]


def requirements(root=ROOT):
    """{R-ID: {"text", "hazards", "group", "line"}} from docs/requirements.md
    (its tables: ID | requirement | hazards), and the problems found."""
    path = Path(root) / "docs" / "requirements.md"
    reqs, problems = {}, []
    group = ""
    lines = path.read_text(encoding="utf-8").splitlines()
    heads = {i: ln[3:].strip() for i, ln in enumerate(lines, 1) if ln.startswith("## ")}
    for n, cells in _rows(path):
        group = heads.get(max([h for h in heads if h < n], default=0), group)
        if not REQ_ID.match(cells[0]):
            continue                                   # a header row
        if len(cells) != 3:
            problems.append("docs/requirements.md:%d: %s: a row is ID | requirement | "
                            "hazards" % (n, cells[0]))
            continue
        if cells[0] in reqs:
            problems.append("docs/requirements.md:%d: %s is defined twice" % (n, cells[0]))
        reqs[cells[0]] = {"text": cells[1], "hazards": _ids(cells[2], HAZ_ID),
                          "group": group, "line": n}
    return reqs, problems


def hazards(root=ROOT):
    """{H-ID: {"hazard", "controls", "tests", "line"}} from docs/hazards.md
    (one table: ID | hazard | cause | harm | controls | verification |
    residual risk), and the problems found."""
    path = Path(root) / "docs" / "hazards.md"
    out, problems = {}, []
    for n, cells in _rows(path):
        if not HAZ_ID.match(cells[0]):
            continue
        if len(cells) != 7:
            problems.append("docs/hazards.md:%d: %s: a row has 7 cells (ID | hazard | cause "
                            "| harm | risk controls | verification | residual risk)"
                            % (n, cells[0]))
            continue
        if cells[0] in out:
            problems.append("docs/hazards.md:%d: %s is defined twice" % (n, cells[0]))
        out[cells[0]] = {"hazard": cells[1], "controls": _ids(cells[4], REQ_ID),
                         "unknown_ids": [x for x in ANY_ID.findall(cells[4])
                                         if not REQ_ID.match(x)],
                         "tests": TEST_REF.findall(cells[5]), "line": n}
    return out, problems


def _mark_ids(dec):
    """The IDs of a `pytest.mark.req(...)` decorator, else None."""
    if not isinstance(dec, ast.Call):
        return None
    f = dec.func
    if not (isinstance(f, ast.Attribute) and f.attr == "req" and
            isinstance(f.value, ast.Attribute) and f.value.attr == "mark"):
        return None
    return [a.value for a in dec.args if isinstance(a, ast.Constant)]


def tests(root=ROOT):
    """{(file, function): [R-IDs]} of every test function under tests/ (an
    empty list: no mark), and the problems found (a mark of the wrong form
    for its folder)."""
    root = Path(root)
    out, problems = {}, []
    for p in sorted((root / "tests").rglob("test_*.py")):
        rel = p.relative_to(root).as_posix()
        tree = ast.parse(p.read_text(encoding="utf-8"), rel)
        in_fw = rel.startswith(DOCSTRING_DIRS)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or \
                    not node.name.startswith("test_"):
                continue
            ids = []
            for dec in node.decorator_list:
                got = _mark_ids(dec)
                if got is not None:
                    if in_fw:
                        problems.append("%s:%d: %s: a firmware test names its requirements "
                                        "in its docstring (req: R-...), not with a pytest "
                                        "mark (it runs on MicroPython too)"
                                        % (rel, node.lineno, node.name))
                    ids += got
            doc = ast.get_docstring(node) or ""
            for m in DOC_LINE.finditer(doc):
                ids += [x.strip() for x in m.group(1).split(",") if x.strip()]
            out[(rel, node.name)] = ids
    return out, problems


def check(root=ROOT):
    """Every problem of the trace (an empty list: the file is whole)."""
    reqs, problems = requirements(root)
    hz, hp = hazards(root)
    problems += hp
    found, tp = tests(root)
    problems += tp
    verified = {r: [] for r in reqs}
    for (f, fn), ids in sorted(found.items()):
        for r in ids:
            if r not in reqs:
                problems.append("%s::%s names %s, which docs/requirements.md does not "
                                "define" % (f, fn, r))
            else:
                verified[r].append("%s::%s" % (f, fn))
    for r, v in sorted(verified.items()):
        if not v:
            problems.append("%s (docs/requirements.md:%d) has no test" % (r, reqs[r]["line"]))
    for h, row in sorted(hz.items()):
        where = "%s (docs/hazards.md:%d)" % (h, row["line"])
        if not row["controls"]:
            problems.append("%s has no risk control" % where)
        for x in row["unknown_ids"]:
            problems.append("%s: risk control %s is not a requirement ID" % (where, x))
        for r in row["controls"]:
            if r not in reqs:
                problems.append("%s names %s, which docs/requirements.md does not define"
                                % (where, r))
            elif h not in reqs[r]["hazards"]:
                problems.append("%s lists %s as a control, but %s does not name %s"
                                % (where, r, r, h))
        for f, fn in row["tests"]:
            ids = found.get((f, fn))
            if ids is None:
                problems.append("%s: verification %s::%s: no such test" % (where, f, fn))
            elif not set(ids) & set(row["controls"]):
                problems.append("%s: %s::%s verifies none of its controls (%s)"
                                % (where, f, fn, ", ".join(ids) or "no mark"))
    for r, row in sorted(reqs.items()):
        for h in row["hazards"]:
            if h not in hz:
                problems.append("%s (docs/requirements.md:%d) names %s, which "
                                "docs/hazards.md does not define" % (r, row["line"], h))
            elif r not in hz[h]["controls"]:
                problems.append("%s names %s, but %s does not list %s as a control"
                                % (r, h, h, r))
    return problems


def pins(root=ROOT):
    """{name: version} of every pinned third-party component: `name==version`
    lines of requirements*.txt and pyproject.toml's dependencies, and
    MicroPython's tag in the Makefile (MP_TAG, the 32-bit port's source).
    Names lower case, '_' as '-'."""
    root = Path(root)
    out = {}
    pin = re.compile(r'^\s*"?([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;",#]+)', re.M)
    for p in sorted(root.glob("requirements*.txt")) + [root / "pyproject.toml"]:
        for name, ver in pin.findall(p.read_text(encoding="utf-8")):
            out[name.lower().replace("_", "-")] = ver
    m = re.search(r"^MP_TAG\s*:=\s*v(\S+)", (root / "Makefile").read_text(), re.M)
    if m:
        out["micropython"] = m.group(1)
    return out


def soup_problems(root=ROOT):
    """Where docs/soup.md's table and the pins disagree: a component whose
    version differs from its pin, a pin without a row, a row without a pin."""
    path = Path(root) / "docs" / "soup.md"
    have = pins(root)
    rows = {}
    problems = []
    for n, cells in _rows(path):
        # the table of every pin: its first cell is the package in backticks
        if len(cells) < 2 or not re.match(r"^`[^`]+`$", cells[0]):
            continue
        name = cells[0].strip("`").lower().replace("_", "-")
        rows[name] = (n, cells[1].strip("`"))
    for name, (n, ver) in sorted(rows.items()):
        if name not in have:
            problems.append("docs/soup.md:%d: %s is not pinned anywhere" % (n, name))
        elif have[name] != ver:
            problems.append("docs/soup.md:%d: %s %s, but the pin says %s"
                            % (n, name, ver, have[name]))
    for name in sorted(set(have) - set(rows)):
        problems.append("docs/soup.md: %s %s is pinned but has no row" % (name, have[name]))
    return problems


def last_results(path=RESULTS):
    """{(file, function): {"passed": n, "failed": n, "skipped": n}} from a
    JUnit XML file (parametrised cases counted under their function)."""
    out = {}
    p = Path(path)
    if not p.is_file():
        return out
    for case in ET.parse(p).getroot().iter("testcase"):
        cls = case.get("classname", "")
        name = case.get("name", "").split("[")[0]
        parts = cls.split(".")
        # tests.host.test_<x>[.Class] -> tests/host/test_<x>.py
        k = max(i for i, s in enumerate(parts) if s.startswith("test_") or i == 0)
        f = "/".join(parts[:k + 1]) + ".py"
        kind = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                kind = "failed"
            elif child.tag == "skipped":
                kind = "skipped"
        d = out.setdefault((f, name), {"passed": 0, "failed": 0, "skipped": 0})
        d[kind] += 1
    return out


def _result(res):
    if res is None:
        return "not run"
    if res["failed"]:
        return "**FAILED** (%d of %d)" % (res["failed"], sum(res.values()))
    if res["passed"]:
        return "passed" + (" (%d cases)" % res["passed"] if res["passed"] > 1 else "")
    return "skipped"


def matrix(root=ROOT, results=RESULTS):
    """The trace as Markdown: one row per requirement and test."""
    reqs, _p = requirements(root)
    found, _p = tests(root)
    res = last_results(results)
    by_req = {r: [] for r in reqs}
    for key, ids in sorted(found.items()):
        for r in ids:
            if r in by_req:
                by_req[r].append(key)
    src = Path(results)
    lines = ["# Requirements -> tests -> last result", "",
             "From docs/requirements.md and the marks in tests/; results from %s." % (
                 src.name + " (the last `make test`)" if src.is_file()
                 else "no test run (`make test` writes build/test-results.xml)"),
             "", "| requirement | hazards | test | last result |", "| --- | --- | --- | --- |"]
    n_tests = set()
    for r in sorted(reqs):
        hz = ", ".join(reqs[r]["hazards"]) or "-"
        rows = by_req[r] or [None]
        for i, key in enumerate(rows):
            first = "%s %s" % (r, reqs[r]["text"]) if i == 0 else ""
            if key is None:
                lines.append("| %s | %s | **no test** | - |" % (first, hz))
                continue
            n_tests.add(key)
            lines.append("| %s | %s | %s::%s | %s |" % (first, hz if i == 0 else "", key[0],
                                                         key[1], _result(res.get(key))))
    lines += ["", "%d requirements, %d marked tests." % (len(reqs), len(n_tests))]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        problems = check()
        for p in problems:
            print(p)
        print("%d problems" % len(problems) if problems else "the trace is whole")
        return 1 if problems else 0
    sys.stdout.write(matrix())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
