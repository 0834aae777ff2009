"""Compile the firmware before the board is touched.

A flash session takes the board's raw REPL with its watchdog armed (8 s of
the board's time, fed before every exchange: host_tools/device/session.py).
A cold compile (mpy-cross for every module) on a busy host can take longer
than the board allows between feeds, more so on the virtual board run at
high speed, and the board then resets in the middle of the session. So:

- `predict(root, board)`: the compile target the board will most likely ask
  for (what it reported the last time it was flashed, remembered in
  build/flash-cache/, else the typical board of that name), compiled before
  connecting (`build_files` fills the cache; a second build is cache hits);
- `build_fed(session, ...)`: when the board turns out to need another target,
  the compile runs in a thread while this one keeps the watchdog fed.
"""
import json
from concurrent.futures import ThreadPoolExecutor

from host_tools.flashing.build import build_files, cache_dir, offline_info, target_for

FEED_S = 0.1            # the longest host-side pause between two feeds


def _memo(root, board):
    return cache_dir(root) / ("last-target-%s.json" % board)


def remember(root, board, info):
    """Keep what the board said about itself for the next flash's prediction."""
    keep = {k: info.get(k) for k in ("version", "platform", "mpy")}
    try:
        p = _memo(root, board)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(keep) + "\n")
    except OSError:
        pass                    # a read-only tree: only the prediction is lost


def predict(root, board, source=False):
    """The target `board` will most likely need, or None when unknown."""
    if not board:
        return None
    info = None
    try:
        info = json.loads(_memo(root, board).read_text())
    except (OSError, ValueError):
        pass
    if not isinstance(info, dict):
        info = offline_info(board)
    try:
        return target_for(info, source)
    except Exception:  # noqa: BLE001 - a stale memo: no prediction, no harm
        return None


def same_target(a, b):
    keys = ("mpy", "march", "compat", "source")
    return a is not None and b is not None and all(a.get(k) == b.get(k) for k in keys)


def build_fed(session, root, board, target):
    """build_files() in a thread; the board's watchdog fed meanwhile."""
    with ThreadPoolExecutor(max_workers=1) as ex:
        fut = ex.submit(build_files, root, board, target)
        while True:
            try:
                return fut.result(timeout=FEED_S)
            except TimeoutError:
                session.exec("pass")        # exec() feeds the watchdog first


def last_board(root):
    """The board folder flashed most recently from this tree (None: none yet)."""
    d = cache_dir(root)
    try:
        memos = sorted(d.glob("last-target-*.json"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return None
    return memos[-1].name[len("last-target-"):-len(".json")] if memos else None


def compile_ahead(root, board, target, say, quiet_s=0.3):
    """build_files() before the board is touched; says so when it takes
    longer than quiet_s (a cold cache), so a long compile is never silent."""
    with ThreadPoolExecutor(max_workers=1) as ex:
        fut = ex.submit(build_files, root, board, target)
        try:
            return fut.result(timeout=quiet_s)
        except TimeoutError:
            say("compiling the firmware for %s (%s) before touching the board..."
                % (board, target["label"]))
        return fut.result()
