# Reading config.json on the board: whatever the file holds (not JSON, JSON
# that is not an object, duplicate keys, a huge file or value, bytes that are
# not UTF-8, a MemoryError while parsing) the answer is a Config or a reason,
# never an exception. The monitor then runs on the fallback configuration
# with malfunction/internal (bad_config) sounding (runner.load_config).
import json

from pumpmon.config import Config

MAX_BYTES = 4096       # a real configuration is a few hundred bytes


class Duplicate(ValueError):
    """A key given twice; .line is the line of the second one (load() names
    the file: FILE:LINE)."""

    def __init__(self, key, line):
        super().__init__("setting %s given twice" % _shown(key))
        self.key = key
        self.line = line


_ESC = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def unescape(raw):
    """The text of a JSON string body as JSON reads it: \\uXXXX (a
    surrogate pair joined into one character) and the one-letter escapes.
    Keys are compared after this, so "flow_window\\u005fs" is the key
    "flow_window_s" (a reader sees one key, the parser keeps the other)."""
    if "\\" not in raw:
        return raw
    out = []
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = raw[i + 1]
        if e == "u" and i + 6 <= n:
            try:
                cp = int(raw[i + 2:i + 6], 16)
            except ValueError:
                cp = -1
            if cp >= 0:
                i += 6
                if 0xD800 <= cp < 0xDC00 and raw[i:i + 2] == "\\u" and i + 6 <= n:
                    try:
                        lo = int(raw[i + 2:i + 6], 16)
                    except ValueError:
                        lo = -1
                    if 0xDC00 <= lo < 0xE000:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                try:
                    out.append(chr(cp))
                except ValueError:   # a port that refuses a lone surrogate
                    out.append("\\u%04x" % cp)
                continue
        out.append(_ESC.get(e, e))
        i += 2
    return "".join(out)


def duplicate_key(text):
    """(key, line) of the first key that appears twice in the top-level JSON
    object of text, compared as JSON reads them (after unescaping), or None
    (the JSON parser would silently keep the last one). line: 1-based, of
    the second one."""
    seen = []
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            k = j + 1
            while k < n and text[k] in " \t\r\n":
                k += 1
            if depth == 1 and k < n and text[k] == ":":
                key = unescape(text[i + 1:j])
                if key in seen:
                    return key, text.count("\n", 0, i) + 1
                seen.append(key)
            i = j + 1
            continue
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        i += 1
    return None


def parse(data):
    """config.json's bytes -> the settings dict; ValueError with the reason."""
    if len(data) > MAX_BYTES:
        raise ValueError("too large (%d bytes, at most %d)" % (len(data), MAX_BYTES))
    try:
        text = data.decode("utf-8")
    except Exception:  # noqa: BLE001 - UnicodeError on CPython and MicroPython
        raise ValueError("not UTF-8 text")
    try:
        values = json.loads(text)
    except ValueError:
        raise ValueError("not valid JSON")
    if not isinstance(values, dict):
        raise ValueError("not a JSON object ({...})")
    dup = duplicate_key(text)
    if dup is not None:
        raise Duplicate(dup[0], dup[1])
    return values


def _shown(key):
    """A key for a message: quoted, anything outside printable ASCII as an escape."""
    out = []
    for c in key:
        o = ord(c)
        out.append(c if 32 <= o < 127 and c != '"' and c != "\\" else
                   ("\\u%04x" % o if o < 0x10000 else "\\U%08x" % o))
    return '"' + "".join(out) + '"'


def load(path):
    """(Config, None) or (None, reason naming the file)."""
    try:
        import os
        # read as much as the file holds (+1, to see a file over the limit),
        # not MAX_BYTES: on a Pico-sized heap with every module imported
        # (flash's self-test) a 4-KB block may not be free, though 300 B are
        n = os.stat(path)[6]
        with open(path, "rb") as f:
            data = f.read(min(n, MAX_BYTES) + 1)
    except OSError as e:
        return None, "%s: cannot read: %s" % (path, e)
    except MemoryError:
        return None, "%s: out of memory while reading" % path
    try:
        return Config(parse(data)), None
    except MemoryError:
        return None, "%s: out of memory while parsing" % path
    except Duplicate as e:
        return None, "%s:%d: %s" % (path, e.line, e)
    except Exception as e:  # noqa: BLE001 - bad JSON, a bad setting, anything
        return None, "%s: %s" % (path, e)
