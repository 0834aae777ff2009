# The last line of defence: what sounds when the monitor itself cannot run
# (a firmware file missing or damaged, a module that does not import, a
# board layer that raises, MemoryError). It needs nothing of the firmware:
# only `machine` (and `time`), and the board's pin numbers from its `pins`
# module (lib/pins.mpy) or, when that does not import, from `failsafe.json`
# (written per board by `pumpmon flash`). On the virtual board its ROM's
# `simhw` link is the buzzer and the light. Kept as source (not .mpy) so an
# incompatible compiler cannot break it. docs/safety.md.
#
#   check(root)       the manifest's files that are missing or differ (SHA-256)
#   use_rom(root)     the compiled modules from the ROM partition's image (/rom)
#                     when it is the one the manifest names, else from littlefs
#   problems(root)    check() and use_rom() together, at start-up (boot, main)
#   start(reason)     steady tone + red light, logged; returns at once (boot.py:
#                     the REPL must stay reachable for `pumpmon flash`)
#   run(reason, wdt)  the malfunction melody and red blips, watchdog fed; never
#                     returns (main.py, after the monitor failed to start)
try:
    from time import sleep_ms, ticks_diff, ticks_ms
except ImportError:  # CPython (tests): the board's wrapping ticks are not needed
    import time as _t

    def ticks_ms():
        return int(_t.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def sleep_ms(ms):
        _t.sleep(ms / 1000)

# malfunction/internal as the monitor plays it (patterns.SOUND/LIGHT of
# alarms.KIND_MALFUNCTION; tests check the copy): IEC 60601-1-8 equipment
# failure melody C5 C4 C4 - C5 C4, high priority, and short red blips
SOUND = (523, 150, 100, 262, 150, 100, 262, 150, 350, 523, 150, 100, 262, 150, 600,
         523, 150, 100, 262, 150, 100, 262, 150, 350, 523, 150, 100, 262, 150, 2600)
LIGHT = (140, 560)     # red on, off (ms)
STEADY_HZ = 523        # start(): one steady C5 until someone reflashes
RED = 3                # patterns.RED
# log: eventlog FAULT record, detail alarms.D_BOOT (tests check the numbers)
FAULT = 21
D_BOOT = 16
NOTE = "failsafe.txt"  # the last reason, as text, when the event log cannot be used
LOOPS = -1             # run(): passes before returning (tests); < 0 forever
MANIFEST = "manifest.json"
ROM = "/rom"           # where the ports mount the ROM partition's ROMFS image


def _sha256_hex(p):
    import binascii
    import hashlib
    h = hashlib.sha256()
    buf = bytearray(512)
    mv = memoryview(buf)
    with open(p, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(mv[:n])
    return binascii.hexlify(h.digest()).decode()


def check(root=""):
    """Problems with the installed firmware: [] when every file the manifest
    lists is there with its hash. A missing or unreadable manifest is one."""
    try:
        import json
        with open(root + MANIFEST) as f:
            files = json.load(f)["files"]
        names = sorted(files)
    except OSError:
        return ["%s: missing" % MANIFEST]
    except Exception:  # noqa: BLE001 - any damage is a finding
        return ["%s: unreadable" % MANIFEST]
    out = []
    for p in names:
        try:
            if _sha256_hex(root + p) != files[p]:
                out.append("%s: damaged" % p)
        except Exception:  # noqa: BLE001
            out.append("%s: missing" % p)
    return out


def rom_problem(root=""):
    """(named, problem): named when the manifest names a ROMFS image (its
    "romfs": SHA-256 and size; host_tools/flashing/romfs.py); problem None
    when the board's ROM partition holds exactly that image."""
    try:
        import json
        with open(root + MANIFEST) as f:
            want = json.load(f).get("romfs")
    except Exception:  # noqa: BLE001 - check() reports the manifest
        return False, None
    if not want:
        return False, None
    try:
        import binascii
        import hashlib
        import vfs
        seg = vfs.rom_ioctl(2, 0)
        if isinstance(seg, int) or len(seg) < want["size"]:
            return True, "romfs: missing"
        h = hashlib.sha256(memoryview(seg)[:want["size"]])
        if binascii.hexlify(h.digest()).decode() != want["sha256"]:
            return True, "romfs: damaged"
    except Exception:  # noqa: BLE001 - no ROM partition, no vfs
        return True, "romfs: missing"
    return True, None


def use_rom(root=""):
    """Where the compiled modules come from (boot.py, main.py): the ROM
    partition's image, mounted at /rom and first on sys.path, when the
    manifest names it and it has its hash (bytecode run in place: docs/boards.md,
    "ROMFS"); else /rom leaves sys.path and is unmounted, and the copies on
    littlefs (lib/, board.mpy) are used, whatever an earlier flash left there.
    Returns the problem ("romfs: damaged" / "missing") or None."""
    import sys
    named, problem = rom_problem(root)
    keep = [p for p in sys.path if p != ROM and not p.startswith(ROM + "/")]
    try:
        import vfs
        if named and problem is None:
            try:
                vfs.mount(vfs.VfsRom(vfs.rom_ioctl(2, 0)), ROM)
            except OSError:
                pass                      # mounted at start by the port (EPERM)
            keep = [ROM, ROM + "/lib"] + keep
        else:
            vfs.umount(ROM)
    except Exception:  # noqa: BLE001 - nothing mounted, or no vfs (CPython)
        pass
    while sys.path:
        sys.path.pop()
    for p in keep:
        sys.path.append(p)
    return problem


def problems(root=""):
    """At start-up (boot.py, or main.py when boot.py did not check): the
    manifest's files that are missing or damaged (check) and a ROMFS image
    that is not the one named (use_rom, which puts the modules on sys.path
    from /rom or littlefs)."""
    bad = check(root)
    rom = use_rom(root)
    if rom:
        bad.append(rom)
    return bad


class Outputs:
    """The buzzer and the red light with nothing but `machine`; each call
    in its own try, so a broken buzzer never stops the light."""

    def __init__(self, root=""):
        self.link = None
        self.pwm = None
        self.red = None
        self.np = None
        self.rgb = (160, 0, 0)
        try:
            import simhw               # the virtual board
            self.link = simhw.link
            return
        except Exception:  # noqa: BLE001
            pass
        pins = _pins(root)
        try:
            from machine import PWM, Pin
            if pins.get("buzzer") is not None:
                self.pwm = PWM(Pin(pins["buzzer"]))
        except Exception:  # noqa: BLE001
            pass
        try:
            from machine import Pin
            if pins.get("red") is not None:
                self.red = Pin(pins["red"], Pin.OUT)
            elif pins.get("pixel") is not None:
                from neopixel import NeoPixel
                self.np = NeoPixel(Pin(pins["pixel"], Pin.OUT), 1)
                if pins.get("rgb"):
                    self.rgb = tuple(pins["rgb"])
        except Exception:  # noqa: BLE001
            pass

    def tone(self, hz):
        try:
            if self.link is not None:
                self.link.set_tone(hz)
            elif self.pwm is not None:
                if hz > 0:
                    self.pwm.freq(hz)
                    self.pwm.duty_u16(32768)
                else:
                    self.pwm.duty_u16(0)
        except Exception:  # noqa: BLE001
            pass

    def light(self, on):
        try:
            if self.link is not None:
                self.link.set_led(RED if on else 0)
            elif self.red is not None:
                self.red.value(1 if on else 0)
            elif self.np is not None:
                self.np[0] = self.rgb if on else (0, 0, 0)
                self.np.write()
        except Exception:  # noqa: BLE001
            pass

    def feed(self, wdt):
        try:
            if wdt is not None:
                wdt.feed()
            elif self.link is not None:
                self.link.feed_watchdog()
        except Exception:  # noqa: BLE001
            pass


def _pins(root=""):
    """{'buzzer', 'red' or 'pixel' (+ 'rgb')} from the board's pins module,
    else from failsafe.json, else {}."""
    try:
        import pins as P
        d = {"buzzer": P.BUZZER}
        if hasattr(P, "LED_RED"):
            d["red"] = P.LED_RED
        elif hasattr(P, "PIXEL"):
            d["pixel"] = P.PIXEL
            d["rgb"] = P.PIXEL_RGB[RED]
        return d
    except Exception:  # noqa: BLE001
        pass
    try:
        import json
        with open(root + "failsafe.json") as f:
            d = json.load(f)
        return d if isinstance(d, dict) else {}
    except Exception:  # noqa: BLE001
        return {}


def log(reason, root=""):
    """Log the failure when the flash allows: an internal_fault record
    (detail boot_failure) in the event log, else the reason in failsafe.txt."""
    print("pumpmon: FAILSAFE alarm:", reason)   # "pumpmon:": pumpmon flash sees it
    try:
        from pumpmon import eventlog as L
        lg = L.EventLog(root + "log")
        ok = lg.append(FAULT, L.NO_COND, D_BOOT, sync=True)
        lg.close()
        if ok:
            return True
    except BaseException:  # noqa: BLE001 - the log code itself may be the damage
        pass
    try:
        with open(root + NOTE, "w") as f:
            f.write(str(reason)[:200] + "\n")
        return True
    except BaseException:  # noqa: BLE001
        return False


def start(reason, root="", out=None):
    """Sound and show at once, without blocking: the tone and the light stay
    on (PWM and the pin keep their state) whatever runs next."""
    out = out or Outputs(root)
    out.tone(STEADY_HZ)
    out.light(1)
    log(reason, root)
    return out


def run(reason, wdt=None, root="", out=None, loops=None):
    """The malfunction melody and red blips, the watchdog fed, forever
    (loops: passes, for tests). A hang here starves the watchdog: the board
    resets and comes back here."""
    out = out or Outputs(root)
    out.tone(STEADY_HZ)
    out.light(1)
    log(reason, root)
    if loops is None:
        loops = LOOPS
    t0 = ticks_ms()
    n = 0
    hz = -1
    lit = -1
    period = 0
    for i in range(2, len(SOUND), 3):
        period += SOUND[i - 1] + SOUND[i]
    try:
        while loops != 0:
            t = ticks_diff(ticks_ms(), t0) % period
            want = 0
            i = 0
            while i < len(SOUND):
                if t < SOUND[i + 1]:
                    want = SOUND[i]
                    break
                t -= SOUND[i + 1]
                if t < SOUND[i + 2]:
                    break
                t -= SOUND[i + 2]
                i += 3
            if want != hz:
                hz = want
                out.tone(hz)
            on = 1 if ticks_diff(ticks_ms(), t0) % (LIGHT[0] + LIGHT[1]) < LIGHT[0] \
                else 0
            if on != lit:
                lit = on
                out.light(on)
            out.feed(wdt)
            sleep_ms(10)
            n += 1
            if loops > 0:
                loops -= 1
    except KeyboardInterrupt:
        # someone at the REPL (pumpmon flash): give way, but never silent
        out.tone(STEADY_HZ)
        out.light(1)
        raise
    return n
