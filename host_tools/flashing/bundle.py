"""A release bundle: one board's compiled firmware, its manifest and hashes,
in one zip, so a clinic flashes a released, identified firmware rather than a
working tree (`make release` builds them, `pumpmon flash --bundle FILE`
installs one: docs/flashing.md, Releases).

A bundle `pumpmon-<VERSION>-<board>.zip` holds:
- `bundle.json`: {"format": 1, "version": pumpmon.VERSION, "board": ...,
  "mpy": the .mpy version word the files were compiled for, "march": ...,
  "manifest": the manifest's version id};
- `manifest.json`: exactly what is installed on the board (every file with
  its SHA-256, and the version id the boot record's `firmware` record shows);
- `files/<board path>`: every file of the manifest;
- `SHA256SUMS`: the SHA-256 of every other member (`sha256sum -c` checks it).
`load` refuses a bundle whose members do not match their hashes, whose
manifest lists a file it lacks or holds one the manifest does not list.
"""
import json
import zipfile
from pathlib import Path

from host_tools.exitcodes import BAD_INPUT, INCOMPATIBLE
from host_tools.flashing.build import (build_files, decode_mpy, manifest_bytes, manifest_for,
                                       offline_info, sha256_hex, target_for)
from host_tools.flashing.errors import FlashError
from host_tools.paths import ROOT

FORMAT = 1
# the boards a release is built for (the virtual board is built on demand)
RELEASE_BOARDS = ("rpi_pico", "esp32")


def firmware_version(root=ROOT):
    """pumpmon.VERSION as written in firmware/pumpmon/__init__.py."""
    import ast
    p = Path(root) / "firmware" / "pumpmon" / "__init__.py"
    for node in ast.parse(p.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "VERSION":
            return ast.literal_eval(node.value)
    raise FlashError(BAD_INPUT, "%s: no VERSION" % p)


def changelog_entry(version, root=ROOT):
    """The CHANGELOG.md section of `version` (a release needs one)."""
    p = Path(root) / "CHANGELOG.md"
    text = p.read_text(encoding="utf-8") if p.is_file() else ""
    head = "## %s" % version
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line == head or line.startswith(head + " "):
            body = []
            for rest in lines[i + 1:]:
                if rest.startswith("## "):
                    break
                body.append(rest)
            if any(b.strip() for b in body):
                return "\n".join(body).strip()
            break
    raise FlashError(BAD_INPUT, "%s: no section '%s' with its changes: a release "
                     "says what changed" % (p, head))


def bundle_name(version, board):
    return "pumpmon-%s-%s.zip" % (version, board)


def build(board, out_dir, root=ROOT, info=None):
    """Compile the firmware for `board` (its usual port and architecture, or
    the probe answer `info`) and write its bundle into out_dir; its path."""
    target = target_for(info or offline_info(board))
    files = build_files(root, board, target)
    man = manifest_for(files, board, target)
    man_data = manifest_bytes(man)
    version = firmware_version(root)
    meta = {"format": FORMAT, "version": version, "board": board, "mpy": target["mpy"],
            "march": target["march"], "manifest": man["version"]}
    members = {"bundle.json": (json.dumps(meta, sort_keys=True, indent=1) + "\n").encode(),
               "manifest.json": man_data}
    for p in sorted(files):
        members["files/" + p] = files[p]
    sums = "".join("%s  %s\n" % (sha256_hex(members[m]), m) for m in sorted(members))
    members["SHA256SUMS"] = sums.encode()
    out = Path(out_dir) / bundle_name(version, board)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for m in sorted(members):
            # a fixed date: the same sources give the same bundle bytes
            zi = zipfile.ZipInfo(m, date_time=(2020, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, members[m])
    tmp.replace(out)
    return out


def _bad(path, why):
    return FlashError(BAD_INPUT, "%s: not a valid pumpmon bundle: %s" % (path, why))


def load(path, board=None):
    """(meta, {board path: bytes}, manifest bytes) of a bundle, every hash
    checked (and built for `board` when given); FlashError(BAD_INPUT)
    naming the file otherwise."""
    try:
        with zipfile.ZipFile(path) as z:
            members = {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
    except (OSError, zipfile.BadZipFile, KeyError) as e:
        raise _bad(path, e)
    for need in ("bundle.json", "manifest.json", "SHA256SUMS"):
        if need not in members:
            raise _bad(path, "%s is missing" % need)
    sums = {}
    for i, line in enumerate(members["SHA256SUMS"].decode("utf-8", "replace").splitlines()):
        h, _sep, name = line.partition("  ")
        if not name:
            raise _bad(path, "SHA256SUMS line %d: not 'HASH  NAME'" % (i + 1))
        sums[name] = h
    if set(sums) != set(members) - {"SHA256SUMS"}:
        raise _bad(path, "SHA256SUMS does not list exactly its members (%s)" % ", ".join(
            sorted(set(sums) ^ (set(members) - {"SHA256SUMS"}))))
    for name, h in sorted(sums.items()):
        if sha256_hex(members[name]) != h:
            raise _bad(path, "%s does not match its SHA-256" % name)
    try:
        meta = json.loads(members["bundle.json"])
        man = json.loads(members["manifest.json"])
        listed = man["files"]
    except (ValueError, KeyError, TypeError) as e:
        raise _bad(path, "bundle.json or manifest.json unreadable: %s" % e)
    if meta.get("format") != FORMAT:
        raise _bad(path, "format %r, this pumpmon reads %d" % (meta.get("format"), FORMAT))
    files = {n[len("files/"):]: d for n, d in members.items() if n.startswith("files/")}
    if set(files) != set(listed):
        raise _bad(path, "the manifest and the files differ (%s)" % ", ".join(
            sorted(set(files) ^ set(listed))))
    for p, h in listed.items():
        if sha256_hex(files[p]) != h:
            raise _bad(path, "%s does not match the manifest" % p)
    if man.get("version") != meta.get("manifest") or man.get("board") != meta.get("board"):
        raise _bad(path, "bundle.json and manifest.json disagree")
    if board and board != meta["board"]:
        raise FlashError(BAD_INPUT, "%s is built for the %s board, not %s"
                         % (path, meta["board"], board))
    return meta, files, members["manifest.json"]


def files_for(rel, board, target, path):
    """The bundle's files for a board that probed as `board` with `target`;
    FlashError(INCOMPATIBLE) when it was built for another."""
    meta = rel[0]
    if board != meta["board"]:
        raise FlashError(INCOMPATIBLE, "%s is built for the %s board; this board is %s"
                         % (path, meta["board"], board))
    check_target(meta, target, path)
    return rel[1]


def check_target(meta, target, path):
    """Refuse a bundle compiled for another .mpy version or architecture
    than the board runs (FlashError(INCOMPATIBLE))."""
    if meta.get("mpy") is None:
        return                                  # source files load anywhere
    ver, sub, _arch = decode_mpy(int(meta["mpy"]))
    bver, bsub, _barch = decode_mpy(int(target["mpy"]))
    if ver != bver or sub > bsub or (meta.get("march") and meta["march"] != target["march"]):
        raise FlashError(INCOMPATIBLE,
                         "%s: compiled for .mpy v%d.%d %s, the board loads %s"
                         % (path, ver, sub, meta.get("march"), target["label"]))


def main(argv=None):
    """`python -m host_tools.flashing.bundle OUT_DIR [BOARD...]`: `make release`."""
    import sys
    args = sys.argv[1:] if argv is None else argv
    out = args[0] if args else str(Path(ROOT) / "build" / "release")
    boards = args[1:] or list(RELEASE_BOARDS)
    version = firmware_version()
    changelog_entry(version)
    for b in boards:
        p = build(b, out)
        meta, files, _m = load(p)
        print("%s: %d files, manifest %s, firmware %s" % (p, len(files), meta["manifest"],
                                                          version))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
