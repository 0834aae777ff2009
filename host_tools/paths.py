"""Where the project's parts are: the one place that finds firmware/, boards/,
traces/, the build folder and the MicroPython tools.

Two cases, told apart once here so no other module has to:
- a source tree (a clone, or `pip install -e .`): the folders next to
  host_tools/;
- an installed package (`pip install .` into any venv): the same folders are
  shipped inside the package as data (host_tools/firmware, host_tools/boards,
  host_tools/traces: see pyproject.toml), so every command works from any
  directory.
"""
import os
import shutil
import sys
from pathlib import Path

HOST_TOOLS = Path(__file__).resolve().parent
# the folder that holds the host_tools package: on MICROPYPATH for the parts of
# host_tools that run on the unix port (replay driver, sensor model)
PACKAGES = HOST_TOOLS.parent


def _is_tree(d):
    return (d / "firmware" / "main.py").is_file() and (d / "boards").is_dir()


SOURCE_TREE = _is_tree(PACKAGES)
# ROOT holds firmware/, boards/ and traces/ (flash and the corpus take a root
# so a test can point them at a copy)
ROOT = PACKAGES if SOURCE_TREE else HOST_TOOLS
FIRMWARE = ROOT / "firmware"
BOARDS = ROOT / "boards"
TRACES = ROOT / "traces"
DOCS = ROOT / "docs"           # the documentation (shipped in the package too)
ROM = BOARDS / "sim" / "rom"
# build output: in the tree when there is one, else a per-user cache
BUILD = ROOT / "build" if SOURCE_TREE else Path(
    os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pumpmon"


def tool(name):
    """Path of a command-line tool installed with the host tools (next to this
    Python first: the venv's bin/), else on PATH; None when there is none."""
    p = Path(sys.executable).parent / name
    if p.exists():
        return str(p)
    return shutil.which(name)


def micropython():
    """The MicroPython unix port's executable; FileNotFoundError naming the fix."""
    p = tool("micropython")
    if not p:
        raise FileNotFoundError("cannot find the MicroPython unix port (run make setup)")
    return p


def micropython_path(*extra):
    """MICROPYPATH for running the firmware core (and host_tools' MicroPython
    parts) on the unix port."""
    return ":".join([".frozen", str(FIRMWARE), str(PACKAGES)] + [str(e) for e in extra])


def micropython_env(*extra):
    env = dict(os.environ)
    env["MICROPYPATH"] = micropython_path(*extra)
    return env


def rom_module(name):
    """Import a module of the virtual board's ROM (boards/sim/rom/<name>.py) on
    the host: the wire protocol is written once, there, for both sides."""
    import importlib.util
    key = "pumpmon_rom_" + name
    mod = sys.modules.get(key)
    if mod is None:
        spec = importlib.util.spec_from_file_location(key, ROM / (name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return mod


def trace_file(name):
    """A trace argument: a file as given, else a bundled trace by its name
    (`occlusion`, `occlusion.csv`: traces/ in the tree or the package)."""
    p = Path(name)
    if p.exists() or p.parent != Path("."):
        return str(p)
    bundled = TRACES / (name if name.endswith(".csv") else name + ".csv")
    return str(bundled) if bundled.is_file() else str(p)
