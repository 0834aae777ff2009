"""The layout rules of CONTRIBUTING.md, checked on the source (issue 18):
no module over 400 lines and no class over 300 lines in host_tools/,
firmware/ and boards/ (vendored code exempt; issue 26), no import cycle among host_tools modules, nothing outside tests/
importing tests/. Static (ast): nothing is imported or run."""
import ast

from tests.support import ROOT
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 300
CHECKED = ("host_tools", "firmware", "boards")
# third-party code kept unchanged (requirements-firmware.txt): not ours to split
VENDORED = ("firmware/umqtt/", "boards/drivers/ssd1306.py")

# Judged exceptions, each with its reason (CONTRIBUTING.md lists them too).
CLASS_EXCEPTIONS = {
    # the engine as it was before issue 11, frozen for the detection
    # benchmark's side-by-side figures: splitting it would edit the reference
    ("host_tools/bench/reference_engine.py", "Engine"),
}
MODULE_EXCEPTIONS = set()

def _py(folder):
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _checked():
    """Every module under the size rule: host_tools/, firmware/, boards/ but the
    vendored files."""
    return [p for folder in CHECKED for p in _py(folder)
            if not _rel(p).startswith(VENDORED)]


def _rel(p):
    return p.relative_to(ROOT).as_posix()


def _lines(text):
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def test_no_module_over_the_limit():
    over = []
    for p in _checked():
        n = _lines(p.read_text(encoding="utf-8"))
        if n > MAX_MODULE_LINES and _rel(p) not in MODULE_EXCEPTIONS:
            over.append("%s: %d lines" % (_rel(p), n))
    assert not over, "modules over %d lines (split by concern): %s" % (
        MAX_MODULE_LINES, "; ".join(over))


def test_no_class_over_the_limit():
    over = []
    for p in _checked():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"), str(p))):
            if isinstance(node, ast.ClassDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_CLASS_LINES and (_rel(p), node.name) not in CLASS_EXCEPTIONS:
                    over.append("%s: class %s, %d lines" % (_rel(p), node.name, n))
    assert not over, "classes over %d lines: %s" % (MAX_CLASS_LINES, "; ".join(over))


def test_the_exceptions_are_still_needed():
    # an exception list that outlives its reason hides the next offender
    for rel, name in CLASS_EXCEPTIONS:
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        sizes = [n.end_lineno - n.lineno + 1 for n in ast.walk(tree)
                 if isinstance(n, ast.ClassDef) and n.name == name]
        assert sizes and max(sizes) > MAX_CLASS_LINES, (rel, name, sizes)
    for rel in MODULE_EXCEPTIONS:
        assert _lines((ROOT / rel).read_text(encoding="utf-8")) > MAX_MODULE_LINES, rel


def test_the_size_rule_covers_firmware_and_boards():
    checked = {_rel(p) for p in _checked()}
    assert "firmware/pumpmon/alarms.py" in checked and "boards/rpi_pico/board.py" in checked
    assert "boards/drivers/sf06.py" in checked and "firmware/main.py" in checked
    assert not any(r.startswith(VENDORED) for r in checked)


def _module_name(p):
    parts = list(p.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _dynamic(tree):
    """Does the module import by name at run time (importlib.import_module,
    __import__)? cli.py does: its command table names the modules."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            f = n.func
            if (isinstance(f, ast.Attribute) and f.attr == "import_module") or \
                    (isinstance(f, ast.Name) and f.id == "__import__"):
                return True
    return False


def _imports(p, known):
    """host_tools modules that p imports anywhere: at the top level or in a
    function (a deferred import is still a dependency, and it is how a cycle
    hides), relative imports resolved, and in a module that imports by name
    at run time every string that names a module."""
    tree = ast.parse(p.read_text(encoding="utf-8"), str(p))
    here = _module_name(p)
    package = here if p.name == "__init__.py" else here.rpartition(".")[0]
    dynamic = _dynamic(tree)
    out = set()
    for n in ast.walk(tree):
        names = []
        if isinstance(n, ast.Import):
            names = [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                up = package.split(".")[:len(package.split(".")) - (n.level - 1)]
                base = ".".join(up + ([n.module] if n.module else []))
            names = [base] + [base + "." + a.name for a in n.names]
        elif dynamic and isinstance(n, ast.Constant) and isinstance(n.value, str):
            names = [n.value]
        for name in names:
            if name in known and name != here:
                out.add(name)
    return out


def import_graph():
    files = {_module_name(p): p for p in _py("host_tools")}
    return {m: _imports(p, files) for m, p in files.items()}


def package_of(module):
    """The package a module belongs to: host_tools.device.session ->
    host_tools.device; a module directly in host_tools/ (cli, exitcodes,
    paths, terminal...) is a package of its own."""
    return ".".join(module.split(".")[:2])


def package_graph(graph):
    """The module graph folded onto packages: {package: {packages it
    imports}}, with {(a, b): [(module of a, module of b), ...]} saying which
    imports make each edge."""
    packages, why = {}, {}
    for m, deps in graph.items():
        a = package_of(m)
        packages.setdefault(a, set())
        for d in deps:
            b = package_of(d)
            if a != b:
                packages[a].add(b)
                why.setdefault((a, b), []).append((m, d))
    return packages, why


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state = {}

    def visit(m, path):
        state[m] = 1
        path.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return path[path.index(d):] + [d]
            if not state.get(d):
                found = visit(d, path)
                if found:
                    return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if not state.get(m):
            found = visit(m, [])
            if found:
                return found
    return None


def test_no_import_cycle_in_host_tools():
    graph = import_graph()
    assert len(graph) > 50 and "host_tools.cli" in graph      # the walk found the package
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_import_cycle_between_packages():
    # issue 26: a package is a layer. device (the board session) is below
    # flashing (which uses it), view below vboard (which shows through it):
    # a cycle between two packages means neither can be read, tested or
    # replaced without the other, even when no two modules form one
    packages, why = package_graph(import_graph())
    assert {"host_tools.device", "host_tools.flashing", "host_tools.view",
            "host_tools.vboard", "host_tools.exitcodes"} <= set(packages)
    assert "host_tools.device" in packages["host_tools.flashing"]   # the walk found edges
    assert "host_tools.commands" in packages["host_tools.cli"]      # ... by name too
    cycle = find_cycle(packages)
    assert cycle is None, "package import cycle %s: %s" % (" -> ".join(cycle), "; ".join(
        "%s -> %s by %s" % (a, b, ", ".join("%s imports %s" % mm for mm in sorted(why[a, b])))
        for a, b in zip(cycle, cycle[1:])))


def test_the_import_walk_sees_every_kind_of_import(tmp_path, monkeypatch):
    # deferred, relative and by-name imports: each would hide a cycle if missed
    pkg = tmp_path / "host_tools" / "pkg"
    pkg.mkdir(parents=True)
    (tmp_path / "host_tools" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from host_tools.pkg import b\n")
    (pkg / "b.py").write_text("from . import c\nfrom .c import x\n")
    (pkg / "c.py").write_text("import importlib\nimportlib.import_module('host_tools.pkg.a')\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    graph = import_graph()
    assert graph["host_tools.pkg.a"] == {"host_tools.pkg", "host_tools.pkg.b"}
    assert graph["host_tools.pkg.b"] == {"host_tools.pkg", "host_tools.pkg.c"}
    assert graph["host_tools.pkg.c"] == {"host_tools.pkg.a"}
    assert find_cycle(graph) is not None


def test_the_cycle_finder_finds_cycles():
    # the check above proves nothing unless a cycle would be found
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    # and a cycle of packages made by modules that form none between them
    packages, why = package_graph({"x.p.m1": {"x.q.m2"}, "x.q.m2": set(),
                                   "x.q.m3": {"x.p.m4"}, "x.p.m4": set()})
    assert find_cycle(packages) == ["x.p", "x.q", "x.p"]
    assert why["x.q", "x.p"] == [("x.q.m3", "x.p.m4")]


def test_nothing_outside_tests_imports_tests():
    bad = []
    for folder in ("host_tools", "firmware", "boards"):
        for p in _py(folder):
            text = p.read_text(encoding="utf-8")
            for n in ast.walk(ast.parse(text, str(p))):
                mods = []
                if isinstance(n, ast.Import):
                    mods = [a.name for a in n.names]
                elif isinstance(n, ast.ImportFrom) and n.module:
                    mods = [n.module]
                if any(m == "tests" or m.startswith("tests.") for m in mods):
                    bad.append("%s:%d imports %s" % (_rel(p), n.lineno, mods[0]))
            # a tests folder put on sys.path (the way bench once reached test helpers)
            for i, line in enumerate(text.splitlines(), 1):
                if "sys.path" in line and "tests" in line:
                    bad.append("%s:%d puts tests/ on sys.path" % (_rel(p), i))
    assert not bad, "; ".join(bad)
