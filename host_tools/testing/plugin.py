"""The pytest plugin for testers' trace folders (docs/testing.md).

Installed with the package (entry point `pytest11`), so pytest loads it in
every run: it stays inert until asked. Only `--pumpmon-traces DIR` (or the
ini option `pumpmon_traces`) turns collection on; until a trace item runs or
a test asks for the `pumpmon_replay` fixture, nothing but pytest and the
standard library is imported (the firmware, the trace reader and matplotlib
come later).

Each `NAME.csv` under a configured folder with a sibling `NAME.expect.json`
is one test item, `NAME`: the trace is replayed on the chosen runtime
(`--pumpmon-runtime cpython|micropython|both`) and must meet its expectation;
where a sibling `NAME.events.jsonl` exists too, the events must be exactly
those (a snapshot, as `pumpmon trace corpus` writes them).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

RUNTIME_CHOICES = ("cpython", "micropython", "both")
EXPECT = ".expect.json"
SNAPSHOT = ".events.jsonl"


def pytest_addoption(parser):
    group = parser.getgroup("pumpmon", "pumpmon trace replays (docs/testing.md)")
    group.addoption("--pumpmon-traces", action="append", default=[], metavar="DIR",
                    help="collect every trace in DIR that has a sibling NAME.expect.json "
                         "as a test (repeatable)")
    group.addoption("--pumpmon-runtime", choices=RUNTIME_CHOICES, default=None,
                    help="where the firmware runs: cpython (default), micropython (the unix "
                         "port), both (the events must also be identical)")
    group.addoption("--pumpmon-plots", metavar="DIR", default=None,
                    help="where a failing trace's plot goes (default: next to --junitxml, "
                         "else pumpmon-plots/ in the rootdir)")
    parser.addini("pumpmon_traces", type="paths", default=[],
                  help="folders of traces to collect (as --pumpmon-traces)")
    parser.addini("pumpmon_runtime", default="cpython",
                  help="cpython, micropython or both (as --pumpmon-runtime)")


def pytest_configure(config):
    config.addinivalue_line("markers", "pumpmon_config(path): the monitor configuration "
                            "file (relative to the test's file) the pumpmon_replay fixture uses")
    config.addinivalue_line("markers", "pumpmon_trace: a trace replayed against its "
                            "expectation (collected from --pumpmon-traces)")
    dirs = _trace_dirs(config)
    config._pumpmon_dirs = dirs
    if not dirs:
        return
    runtime = config.getoption("pumpmon_runtime") or config.getini("pumpmon_runtime")
    if runtime not in RUNTIME_CHOICES:
        raise pytest.UsageError("pumpmon_runtime = %r: use one of %s"
                                % (runtime, ", ".join(RUNTIME_CHOICES)))
    for d in dirs:
        if not d.is_dir():
            raise pytest.UsageError("--pumpmon-traces %s: no such folder" % d)
    # The folders are collected even when they are not among the paths pytest
    # was given, but only in a run that names no paths of its own (a bare
    # `pytest`): `pytest tests/test_<name>.py` stays that one file.
    from _pytest.config import Config as _C
    if config.args_source != _C.ArgsSource.ARGS:
        given = [Path(a).resolve() for a in config.args]
        for d in dirs:
            if not any(d == g or g in d.parents for g in given):
                config.args.append(str(d))


def _trace_dirs(config):
    opt = config.getoption("pumpmon_traces") or []
    if opt:
        return [Path(d).resolve() for d in opt]
    return [Path(p).resolve() for p in config.getini("pumpmon_traces")]


def _runtime(config):
    return config.getoption("pumpmon_runtime") or config.getini("pumpmon_runtime") or "cpython"


def pytest_collect_file(file_path, parent):
    dirs = getattr(parent.config, "_pumpmon_dirs", None)
    if not dirs or file_path.suffix != ".csv":
        return None
    if not any(d == file_path.parent or d in file_path.parents for d in dirs):
        return None
    if not file_path.with_name(file_path.name[:-4] + EXPECT).is_file():
        return None
    return TraceFile.from_parent(parent, path=file_path)


class TraceFile(pytest.File):
    """A trace with its expectation: one item, named after the trace."""

    def collect(self):
        yield TraceItem.from_parent(self, name=self.path.name[:-4])


class TraceFailure(AssertionError):
    """The trace did not meet its expectation (or its snapshot)."""


class TraceItem(pytest.Item):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.runtime = _runtime(self.config)
        self.expect = self.path.with_name(self.name + EXPECT)
        self.snapshot = self.path.with_name(self.name + SNAPSHOT)
        self.add_marker("pumpmon_trace")

    def runtest(self):
        from host_tools.testing import api
        config = self._config_file()
        r = api.replay_trace(self.path, config, self.runtime)
        self.user_properties.append(("pumpmon_runtime", self.runtime))
        self.user_properties.append(("pumpmon_events", len(r.events)))
        lines = r.check(self.expect)
        words = r.explain(self.expect) if lines else []
        snap = None
        if self.snapshot.is_file():
            want = self.snapshot.read_text(encoding="utf-8")
            if r.jsonl != want:
                snap = _snapshot_diff(want, r.jsonl, self.snapshot.name)
        if lines or snap:
            plot = self._plot(r, config)
            raise TraceFailure((words, lines, snap, plot))

    def _config_file(self):
        """NAME.config.json beside the trace, when there is one (settings over
        its metadata, as `pumpmon replay --config`)."""
        c = self.path.with_name(self.name + ".config.json")
        return c if c.is_file() else None

    def _plot(self, r, config):
        """A plot next to the report; or how to get one."""
        from host_tools.extras import missing     # the one message naming the extra
        if missing("plot"):
            return "no plot of this trace: %s" % missing("plot")
        out = _plot_dir(self.config) / (self.name + ".png")
        out.parent.mkdir(parents=True, exist_ok=True)
        r.plot(out, config)
        self.user_properties.append(("pumpmon_plot", str(out)))
        return "plot: %s" % out

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, TraceFailure):
            words, lines, snap, plot = excinfo.value.args[0]
            out = ["%s (%s) did not do what %s expects:" % (
                self.path.name, self.runtime, self.expect.name)]
            out += ["  - " + w for w in words]
            if lines:
                out += ["", "  as `pumpmon replay --check` says it:"]
                out += ["    " + x for x in lines]
            if snap:
                out += ["", "  the events differ from %s (regenerate it only after an "
                        "intended change):" % self.snapshot.name] + ["    " + x for x in snap]
            out += ["", "  " + plot]
            return "\n".join(out)
        from host_tools.testing.api import ReplayError, TraceError
        if isinstance(excinfo.value, (ReplayError, TraceError)):
            return "%s: %s" % (self.path.name, excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, "trace %s (%s)" % (self.name, self.runtime)


def _snapshot_diff(want, got, name, limit=20):
    import difflib
    diff = list(difflib.unified_diff(want.splitlines(), got.splitlines(), name, "this replay",
                                     lineterm="", n=1))
    return diff[:limit] + (["... (%d more lines)" % (len(diff) - limit)]
                           if len(diff) > limit else [])


def _plot_dir(config):
    d = config.getoption("pumpmon_plots")
    if d:
        return Path(d).resolve()
    xml = config.getoption("xmlpath", None)
    if xml:
        return Path(xml).resolve().parent / "pumpmon-plots"
    return Path(str(config.rootpath)) / "pumpmon-plots"


class Replayer:
    """What the pumpmon_replay fixture gives a test: the API with the
    runtime of the run and the configuration the test names."""

    def __init__(self, runtime, config, base):
        self.runtime = runtime
        self.config = config
        self._base = base

    def _path(self, p):
        p = Path(p)
        return p if p.is_absolute() else self._base / p

    def __call__(self, trace, config=None):
        """Replay a trace file (relative to the test's folder)."""
        from host_tools.testing import api
        return api.replay_trace(self._path(trace), self._config(config), self.runtime)

    def samples(self, samples, settings=None, config=None):
        """Replay samples written in code (api.replay_samples)."""
        from host_tools.testing import api
        return api.replay_samples(samples, settings, self._config(config), self.runtime)

    def _config(self, config):
        c = config if config is not None else self.config
        if c is None or not isinstance(c, (str, os.PathLike)):
            return c
        return self._path(c)


@pytest.fixture
def pumpmon_replay(request):
    """Replay traces in a test: pumpmon_replay("x.csv").first_raised("no_flow").
    The configuration: @pytest.mark.pumpmon_config("monitor.json") on the
    test (a file relative to the test's file, as `pumpmon replay --config`)."""
    m = request.node.get_closest_marker("pumpmon_config")
    config = m.args[0] if m and m.args else None
    runtime = _runtime(request.config)
    return Replayer(runtime if runtime != "both" else "both", config,
                    Path(str(request.path)).parent)
