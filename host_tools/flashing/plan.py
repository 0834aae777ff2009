"""What a flash would send and remove (the one comparison `pumpmon flash`
makes), and its dry runs, which change nothing (docs/flashing.md):

- with no port: build for a typical board and list every file;
- a board whose monitor runs: read through its console channel
  (docs/console-protocol.md): its MicroPython and platform from `status`,
  its manifest and configuration with `read`; the file hashes compared are
  the manifest's (boot.py checks every file against them at start-up). The
  monitor is never stopped: no service mode, no reset, nothing in its log;
- a board at its REPL (blank, or a monitor stopped by hand): read there as
  it is (no soft reset, the watchdog left alone) and left at its REPL.
"""
import json
import time

from host_tools.device.errors import BoardError, ChannelError
from host_tools.device.session import CONFIG, MANIFEST, BoardSession
from host_tools.exitcodes import BAD_INPUT, BUSY, PROBLEM
from host_tools.flashing.build import (board_for, build_files, manifest_bytes, manifest_for,
                                       offline_info, sha256_hex, target_for)
from host_tools.flashing import romfs
from host_tools.flashing.errors import FlashError


def plan(want, files, old_files, live, man_data):
    """(install, stale, new_manifest): the paths of `want` ({path: bytes}, the
    configuration included) whose hash on the board (`live`) differs; the
    files of the old manifest this build no longer has; whether the manifest
    changes."""
    install = [p for p in sorted(want) if live.get(p) != sha256_hex(want[p])]
    stale = [p for p in sorted(old_files)
             if p not in files and p not in (CONFIG, MANIFEST) and live.get(p)]
    new_manifest = bool(install or stale) or live.get(MANIFEST) != sha256_hex(man_data)
    return install, stale, new_manifest


def _summary(board, port, target, man, want, install, stale, skipped, t0, how,
             bytecode="decided by the board when flashed: a ROMFS image in its ROM "
             "partition if it reports one large enough, else .mpy on littlefs (warned)"):
    return {"bytecode": bytecode, "files_sent": 0, "bytes_sent": 0, "files_skipped": skipped, "files_removed": 0,
            "files_resumed": 0, "board": board, "port": port, "micropython": target["label"],
            "version": man["version"], "mpy": target["mpy"], "dry_run": True,
            "would_send": install, "would_remove": stale,
            "bytes_to_send": sum(len(want[p]) for p in install),
            "selftest": "skipped (dry run)", "read": how,
            "seconds": round(time.monotonic() - t0, 3)}


def _files(root, board, target, rel):
    """(files, manifest): built for the target, or a release bundle's
    (flashing/bundle.py: (info, files, manifest bytes))."""
    if rel:
        return rel[1], json.loads(rel[2])
    files = build_files(root, board, target)
    return files, manifest_for(files, board, target)


def offline(root, board, source, cfg_data, t0, rel=None):
    """No board: build everything for a typical `board` (or take a release
    bundle's files); a first flash."""
    target = target_for(offline_info(board), source)
    files, man = _files(root, board, target, rel)
    want = dict(files)
    if cfg_data is not None:
        want[CONFIG] = cfg_data
    return _summary(board, None, target, man, want, sorted(want), [], 0, t0, None)


def _version(text):
    try:
        return [int(x) for x in str(text).split(".")[:3]]
    except ValueError:
        return None


def _json(data):
    try:
        d = json.loads(data) if data else {}
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def _through_channel(b, st, source):
    """(info, old manifest dict, live hashes) read from a running monitor."""
    man_data = b.fetch(MANIFEST)
    cfg = b.fetch(CONFIG)
    old = _json(man_data)
    info = {"version": _version(st.get("micropython")), "platform": st.get("platform", ""),
            "mpy": old.get("mpy")}
    if info["mpy"] is None and not source:
        raise FlashError(BAD_INPUT, "dry run: the board's manifest names no .mpy "
                         "version (it was flashed with --source): add --source")
    live = dict(old.get("files") or {})
    live[MANIFEST] = sha256_hex(man_data) if man_data is not None else None
    live[CONFIG] = sha256_hex(cfg) if cfg is not None else None
    return info, old, live


def on_board(port, root, board, source, cfg_data, t0, rel=None):
    """A dry run against a board: what a flash would send and remove."""
    b = BoardSession(port, raw=False)
    raw = False
    try:
        try:
            st = b.status()
        except ChannelError as e:
            if "REPL" not in str(e):
                raise FlashError(BUSY, "dry run: the board on %s does not answer its "
                                 "console channel (%s; an older firmware?), and a dry run "
                                 "never stops a monitor: nothing compared" % (b.port, e))
            st = None
        rom = None
        if st is not None:
            info, old, live = _through_channel(b, st, source)
            how = "read through the console channel; the monitor kept running"
            # the partition is asked only at a REPL: the installed manifest says
            # where the modules run now
            bytecode = ("a ROMFS image, as now (the partition is checked when flashed)"
                        if old.get("romfs") else
                        ".mpy on littlefs now; a ROMFS image if the board reports a "
                        "partition when flashed")
        else:
            # nothing runs: the REPL is taken as it is (no soft reset, no watchdog)
            b.enter_raw(soft_reset=False, watchdog=False)
            raw = True
            info = b.probe()
            old = _json(b.read_text(MANIFEST))
            live = None
            how = "read at its REPL (no monitor was running; none was started)"
            rom = romfs.board_rom(b)
        target = target_for(info, source)
        board = board or board_for(info)
        files, man = _files(root, board, target, rel)
        want = dict(files)
        if cfg_data is not None:
            want[CONFIG] = cfg_data
        old_files = old.get("files") or {}
        if live is None:
            live = b.hashes(sorted(set(want) | set(old_files) | {MANIFEST}))
        install, stale, _new = plan(want, files, old_files, live, manifest_bytes(man))
        if st is None:                  # at the REPL: the flash's own choice
            img, warning = romfs.decide(rom, files, board, target["source"], rel is not None)
            bytecode = ("a ROMFS image (%d bytes) in the ROM partition (%d bytes)"
                        % (len(img), rom) if img is not None else ".mpy on littlefs" +
                        ("; " + warning if warning else ""))
        return _summary(board, b.port, target, man, want, install, stale,
                        len(want) - len(install), t0, how, bytecode)
    except ChannelError as e:           # the monitor refused a read: nothing was changed
        raise FlashError(PROBLEM, "dry run: the monitor on %s refused a read (%s); "
                         "nothing was changed" % (b.port, e))
    except BoardError as e:
        raise FlashError(PROBLEM, "dry run: the board raised an error: %s" % e.last_line)
    finally:
        if raw:
            try:
                b.t.exit_raw_repl()         # back to the friendly REPL, nothing reset
            except Exception:
                pass
        b.close()
