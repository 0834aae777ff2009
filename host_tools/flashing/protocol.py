"""The flash protocol: put the firmware on a board, compiled, incremental,
verified and atomic (`pumpmon flash`, host_tools/commands/flash.py; the
swap alone is `pumpmon config set`'s too). docs/flashing.md tells it whole.

  1. validate --config on the host (refused before anything is sent)
  2. connect (mpremote's SerialTransport), finish any swap an earlier flash
     left half done (firmware/boot.py's code), ask the board what it runs
  3. compile for it (.mpy version and -march), build the manifest
  4. hash every file on the board; stage only what differs in .pm_stage/
     (a staged file left by a cut flash is kept when its hash is right)
  5. verify the staged files by hash, on the board
  5b. on a board with a ROM partition large enough: write the compiled
     modules as one ROMFS image there and verify it by hash (romfs.py)
  6. commit: write the journal (.pm_journal.tmp, then one rename), then swap
     by renames, stale files out, the manifest last; remove the journal
  7. run the self-test (from /rom when the image was written: after a soft
     reset, as boot.py sets it up), then soft-reset in the friendly REPL so boot.py and
     main.py run as at power-on, and watch the monitor come up

A refusal of the flash is a FlashError (host_tools/flashing/errors.py), a
failure of the connection a DeviceError (host_tools/device/errors.py): both
carry the exit status of docs/exit-codes.md.
"""
import json
import time

from host_tools.device.errors import BoardError, NoSpace
from host_tools.device.ports import usb_boards
from host_tools.device.session import CONFIG, JOURNAL, MANIFEST, OLD, STAGE, BoardSession
from host_tools.exitcodes import PROBLEM, SELFTEST, VERIFY, CommandError
from host_tools.flashing import bundle as bundles
from host_tools.flashing import guide, plan, prebuild, romfs
from host_tools.flashing.build import (board_for, config_bytes, manifest_bytes, manifest_for,
                                       sha256_hex, sources, target_for)
from host_tools.flashing.errors import FlashError, no_space
from host_tools.flashing.progress import Progress
from host_tools.paths import ROOT

JOURNAL_ROOM = 4096     # bytes kept free for the journal and manifest


def _free_bytes(info):
    s = info.get("statvfs")
    if not s or len(s) < 5:
        return None, 4096
    frsize = s[1] or s[0]
    return s[4] * frsize, max(frsize, 1)


def _round_up(n, block):
    return (n + block - 1) // block * block


def _folders(paths):
    out = set()
    for p in paths:
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            out.add("/".join(parts[:i]))
    return out


def _put_back_config(b, old_text, new_data, version):
    """The board refused the new configuration: install the previous one
    again (the same atomic swap), so no flash leaves a board worse than it
    found it. Returns the text that says so."""
    if old_text is None:
        return " (there was no previous configuration to put back)"
    old = old_text.encode()
    if old == new_data:
        return ""
    try:
        commit(b, {CONFIG: old}, [], None, version, version)
    except (CommandError, BoardError) as e:
        return " (the previous configuration could not be put back: %s)" % e
    return " (the previous configuration was put back)"


def commit(b, payloads, remove, manifest_data, version, old_version, progress=None,
           free=None, block=4096):
    """Stage payloads ({path: bytes}, the manifest included under MANIFEST
    when given), verify them on the board, then swap with the journal.
    Returns (files sent, bytes sent, files resumed from an earlier cut)."""
    todo = dict(payloads)
    if manifest_data is not None:
        todo[MANIFEST] = manifest_data
    staged = set(b.walk(STAGE))
    want = {p: sha256_hex(d) for p, d in todo.items()}
    have = b.hashes([STAGE + "/" + p for p in sorted(staged & set(todo))])
    resumed = [p for p in todo if have.get(STAGE + "/" + p) == want[p]]
    extra = sorted(staged - set(todo))
    if extra:
        b.remove([STAGE + "/" + p for p in extra])
    send = [p for p in sorted(todo) if p not in resumed]
    # the staged files, the folders of .pm_stage/ and .pm_old/ (made during
    # the swap: they must fit too), the journal
    folders = _folders([STAGE + "/" + p for p in todo] +
                       [OLD + "/" + p for p in list(payloads) + list(remove)])
    need = (sum(_round_up(len(todo[p]), block) for p in send) + block * len(folders) +
            JOURNAL_ROOM)
    if free is not None and need > free:
        b.rmtree(STAGE)
        raise no_space(need, free)
    sent_files = sent_bytes = 0
    before = b.sent
    try:
        for p in send:
            b.write(STAGE + "/" + p, todo[p], progress.add if progress else None)
            if p != MANIFEST:
                sent_files += 1
                sent_bytes += len(todo[p])
            if progress and p != MANIFEST:
                progress.file_done()
        # verify every staged file on the board; one more try for a bad one
        for attempt in (1, 2):
            got = b.hashes([STAGE + "/" + p for p in sorted(todo)])
            bad = [p for p in sorted(todo) if got.get(STAGE + "/" + p) != want[p]]
            if not bad:
                break
            if attempt == 2:
                b.rmtree(STAGE)
                raise FlashError(VERIFY, "verification failed: %s on the board has "
                                 "SHA-256 %s, expected %s; nothing was changed" % (
                                     bad[0], got.get(STAGE + "/" + bad[0]), want[bad[0]]))
            for p in bad:
                b.write(STAGE + "/" + p, todo[p])
        journal = {"format": 1, "version": version, "from": old_version,
                   "install": [[p, want[p]] for p in sorted(payloads)],
                   "remove": sorted(remove),
                   "manifest": want.get(MANIFEST)}
        jdata = (json.dumps(journal, separators=(",", ":")) + "\n").encode()
        b.write(JOURNAL + ".tmp", jdata)
    except NoSpace:
        written = b.sent - before
        b.remove([JOURNAL + ".tmp"])
        b.rmtree(STAGE)
        raise no_space(need, free, written)
    if b.hashes([JOURNAL + ".tmp"])[JOURNAL + ".tmp"] != sha256_hex(jdata):
        b.remove([JOURNAL + ".tmp"])
        raise FlashError(VERIFY, "verification failed: the journal did not reach the "
                         "board intact; nothing was changed")
    b.exec("os.rename(%r, %r)" % (JOURNAL + ".tmp", JOURNAL))     # the commit point
    result = b.recover()
    if result != "completed":
        raise FlashError(VERIFY, "verification failed: the swap could not complete on "
                         "the board and was rolled back (%s); the previous version runs"
                         % result)
    return sent_files, sent_bytes, len([p for p in resumed if p != MANIFEST])


def flash(port=None, board=None, config=None, dry_run=False, source=False, progress=True,
          settle=1.0, root=ROOT, log=None, bundle=None):
    """Flash one board; the summary dict. Raises FlashError (refused or
    failed) or DeviceError (the connection). bundle: a release bundle
    (host_tools/flashing/bundle.py) to install instead of root's build."""
    t0 = time.monotonic()
    say = log or (lambda msg: None)
    cfg_data = None
    if config:
        cfg_data, values = config_bytes(config)        # refused before connecting
        guide.refuse_unedited_example(root, config, values)
    rel = bundles.load(bundle, board) if bundle else None   # every hash, before any board
    board = rel[0]["board"] if rel else board
    if board:
        sources(root, board)                            # a bad --board: refused now
    if dry_run:                                         # changes nothing (plan.py)
        if not port and not usb_boards():
            return plan.offline(root, board or "rpi_pico", source, cfg_data, t0, rel)
        return plan.on_board(port, root, board, source, cfg_data, t0, rel)
    # compile before the board is touched: its watchdog runs during the session
    guess = board or prebuild.last_board(root)
    pre_target = prebuild.predict(root, guess, source) if rel is None else None
    pre_files = None
    if pre_target is not None:
        pre_files = prebuild.compile_ahead(root, guess, pre_target, say)
    # a running monitor is asked for service mode first: logged on the board
    # (monitoring_stopped), its service indication on until the reset at the
    # end (docs/console-protocol.md); a board without one is simply taken
    b = BoardSession(port, raw=False)
    running = False
    try:
        b.enter_service("flash")
        pending = b.recover()                           # an earlier flash cut short
        if pending:
            say("an interrupted update was %s on the board" % pending.replace("_", " "))
        info = b.probe()
        target = target_for(info, source)
        board = board or board_for(info)
        sources(root, board)
        say("board: %s on %s (%s)" % (board, b.port, target["label"]))
        if rel is not None:
            files = bundles.files_for(rel, board_for(info), target, bundle)
        elif pre_files is not None and guess == board and prebuild.same_target(pre_target,
                                                                                 target):
            files = pre_files
        else:
            say("compiling the firmware for %s (%s), the board's watchdog fed meanwhile..."
                % (board, target["label"]))
            files = prebuild.build_fed(b, root, board, target)
        prebuild.remember(root, board, info)
        man = manifest_for(files, board, target)
        rom_size = romfs.board_rom(b)
        img, warning = romfs.decide(rom_size, files, board, target["source"], rel is not None)
        use_rom = img is not None
        if use_rom:
            man["romfs"] = romfs.entry(img)
        if warning:
            say(warning)
        man_data = manifest_bytes(man)
        if rel is not None:                             # installed as released, byte for byte
            man_data = rel[2]
            man = json.loads(man_data)
        old_text = b.read_text(MANIFEST)
        try:
            old = json.loads(old_text) if old_text else {}
            old_files = old.get("files", {}) if isinstance(old, dict) else {}
        except ValueError:
            old, old_files = {}, {}
        want = dict(files)
        old_cfg = None
        if cfg_data is None:
            # no --config: the board's own configuration must do, or nothing is sent
            guide.require_board_config(b.read_text(CONFIG), board, root)
        if cfg_data is not None:
            want[CONFIG] = cfg_data
            old_cfg = b.read_text(CONFIG)               # put back if the board refuses the new
        live = b.hashes(sorted(set(want) | set(old_files) | {MANIFEST}))
        install, stale, new_manifest = plan.plan(want, files, old_files, live, man_data)
        summary = {"files_sent": 0, "bytes_sent": 0,
                   "files_skipped": len(want) - len(install),
                   "files_removed": len(stale), "files_resumed": 0,
                   "board": board, "port": b.port, "micropython": target["label"],
                   "version": man["version"], "mpy": target["mpy"], "dry_run": False,
                   "previous_version": old.get("version") if isinstance(old, dict) else None,
                   "firmware": rel[0]["version"] if rel else bundles.firmware_version(root),
                   "bundle": bundle, "bytecode": "romfs" if use_rom else "littlefs",
                   "romfs_bytes_sent": 0}
        if use_rom:                                     # before the commit: see romfs.py
            say("the firmware's modules as a ROMFS image (%d bytes) in the board's ROM "
                "partition (%d bytes)" % (len(img), rom_size))
            summary["romfs_bytes_sent"] = romfs.deploy(b, img)
        if install or stale or new_manifest:
            free, block = _free_bytes(info)
            total = sum(len(want[p]) for p in install) + len(man_data)
            bar = Progress(total, len(install), progress)
            try:
                n, nbytes, resumed = commit(
                    b, {p: want[p] for p in install}, stale, man_data, man["version"],
                    old.get("version") if isinstance(old, dict) else None, bar, free, block)
            finally:
                bar.end()
            summary.update(files_sent=n, bytes_sent=nbytes, files_resumed=resumed)
        else:
            b.rmtree(STAGE)                             # a cut flash's leftovers
        summary["seconds_update"] = round(time.monotonic() - t0, 3)
        if use_rom:
            b.enter_raw(soft_reset=True)    # boot.py puts the new image first (failsafe.py)
        elif rom_size is not None:
            b.exec(romfs.RELEASE)           # no image of an earlier flash judged here
        st = b.selftest()
        if not st.get("ok"):
            problems = st.get("problems") or ["no detail"]
            hint = ""
            if cfg_data is None and any(p.startswith(CONFIG) for p in problems):
                hint = " (%s)" % guide.config_hint(board, root)
            elif cfg_data is not None and any(p.startswith(CONFIG) for p in problems):
                hint = _put_back_config(b, old_cfg, cfg_data, man["version"])
            raise FlashError(SELFTEST, "self-test failed on the board: "
                             + "; ".join(problems) + hint)
        if st.get("version") != man["version"]:
            raise FlashError(SELFTEST, "self-test failed: the board runs version %s, "
                             "expected %s" % (st.get("version"), man["version"]))
        summary["clock"] = b.set_clock()    # a dose schedule runs on it
        summary["clock_zone"] = b.clock_zone      # set by set_clock: which time it is
        bad, _console = b.start_monitor(settle)
        running = True
        if bad:
            raise FlashError(SELFTEST, "the monitor did not come up: %s" % bad)
        summary["selftest"] = "passed"
        summary["seconds"] = round(time.monotonic() - t0, 3)
        summary["alarms"] = guide.active_alarms(b)      # after the flash's own time
        return summary
    except BoardError as e:
        raise FlashError(PROBLEM, "the board raised an error: %s" % e.last_line)
    finally:
        if not running:
            _restart_quietly(b)
        b.close()


def _restart_quietly(b):
    # after a refusal, leave the board running its (previous) monitor
    try:
        b.start_monitor(0.3)
    except Exception:
        pass
