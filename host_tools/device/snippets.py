"""The code a board session sends to the board's raw REPL (MicroPython,
as text): helpers defined once per session, the probe, the clock setting,
and firmware/boot.py's own functions (recover, rmtree, sha256_hex), sent
verbatim so the board's swap and hashing have one definition."""
from host_tools.paths import FIRMWARE

BOOT_PY = FIRMWARE / "boot.py"

# helpers defined once per session in the board's REPL globals, after
# firmware/boot.py's own functions (recover, rmtree, sha256_hex: one
# definition, the board's)
# (WATCHDOG: armed by a session that will end with a reset; a look that
# changes nothing, such as a dry run at the REPL, defines the helpers without it)
WATCHDOG = r"""
try:
    import machine
    _pmwdt = machine.WDT(timeout=8000)
except Exception:
    _pmwdt = None
"""
HELPERS = r"""
import os, sys, json, binascii, hashlib
def _pmwd():
    if _pmwdt:
        _pmwdt.feed()
def _pmh(p):
    try:
        return sha256_hex(p)
    except OSError:
        return None
def _pmhash(ps):
    d = {}
    for p in ps:
        d[p] = _pmh(p)
    print(json.dumps(d))
def _pmdirs(p):
    c = ''
    for x in p.split('/')[:-1]:
        c = c + x
        try:
            os.mkdir(c)
        except OSError:
            pass
        c = c + '/'
def _pmopen(p):
    global _pmf
    _pmdirs(p)
    _pmf = open(p, 'wb')
def _pmw(s):
    _pmf.write(binascii.a2b_base64(s))
def _pmclose():
    _pmf.close()
def _pmrm(p):
    try:
        os.remove(p)
    except OSError:
        pass
def _pmwalk(d, r, out):
    try:
        names = os.listdir(d + r)
    except OSError:
        return out
    for n in names:
        q = r + n
        if os.stat(d + q)[0] & 0x4000:
            _pmwalk(d, q + '/', out)
        else:
            out.append(q)
    return out
def _pmrb(p, o, n):
    try:
        f = open(p, 'rb')
    except OSError:
        print('-')
        return
    with f:
        f.seek(o)
        print(binascii.b2a_base64(f.read(n)).decode().strip())
def _pmread(p):
    try:
        with open(p) as f:
            print(json.dumps(f.read()))
    except OSError:
        print('null')
"""

PROBE = r"""
import sys, os, json
_i = sys.implementation
try:
    _s = list(os.statvfs(os.getcwd()))
except Exception:
    _s = None
try:
    _m = os.uname().machine
except Exception:
    _m = getattr(_i, '_machine', '')
print(json.dumps({'version': list(_i.version[:3]), 'release': sys.version,
    'mpy': getattr(_i, '_mpy', None), 'platform': sys.platform, 'machine': _m,
    'statvfs': _s, 'cwd': os.getcwd()}))
"""

# a virtual board's world time (Unix ms), or nothing on a real board
WORLD_TIME = """try:
    import simhw
    print(simhw.clock.epoch_ms())
except (ImportError, AttributeError):
    pass
"""

# (year, month, day, weekday 0 = Monday, h, m, s, subseconds): rp2 and esp32
SET_CLOCK = """try:
    import machine
    _rtc = machine.RTC()
except (ImportError, AttributeError):
    print('none')
else:
    _rtc.datetime(%r)
    print('set')
"""

_BOOT = None


def boot_source():
    # firmware/boot.py without its `if __name__ == "__main__"` tail
    global _BOOT
    if _BOOT is None:
        src = BOOT_PY.read_text()
        _BOOT = src.split('\nif __name__ == "__main__":')[0]
    return _BOOT

