# The tests' in-memory board: host_tools/sim/memboard.py (shared with the
# benchmarks). MicroPython-compatible.
from host_tools.sim.memboard import MemBoard as FakeBoard  # noqa: F401
