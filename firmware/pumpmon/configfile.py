# Reading config.json on the board: whatever the file holds (not JSON, JSON
# that is not an object, duplicate keys, a huge file or value, bytes that are
# not UTF-8, a MemoryError while parsing) the answer is a Config or a reason,
# never an exception. The monitor then runs on the fallback configuration
# with malfunction/internal (bad_config) sounding (runner.load_config).
import json

from pumpmon.config import Config

MAX_BYTES = 4096       # a real configuration is a few hundred bytes


def duplicate_key(text):
    """The first key that appears twice in the top-level JSON object of
    text, or None (the JSON parser would silently keep the last one)."""
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
                key = text[i + 1:j]
                if key in seen:
                    return key
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
        raise ValueError("setting %r given twice" % dup)
    return values


def load(path):
    """(Config, None) or (None, reason naming the file)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        return None, "%s: cannot read: %s" % (path, e)
    except MemoryError:
        return None, "%s: out of memory while reading" % path
    try:
        return Config(parse(data)), None
    except MemoryError:
        return None, "%s: out of memory while parsing" % path
    except Exception as e:  # noqa: BLE001 - bad JSON, a bad setting, anything
        return None, "%s: %s" % (path, e)
