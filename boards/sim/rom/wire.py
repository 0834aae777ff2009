# The virtual board's wire protocol: the records the host (host_tools/vboard/)
# and the board's ROM (boards/sim/rom/link.py) exchange over the hardware
# link's unix sockets, written once, here, for both sides. The host imports
# this file by path (host_tools.paths.rom_module); the ROM imports it on the
# unix port, so it stays MicroPython code: no f-strings, no dataclasses, and
# the byte helpers fill preallocated buffers (nothing allocated per sample).
#
# Host -> VM, 24 bytes, little-endian ("<BBBBqiii"):
#   kind, a, b, c, due (world ms, int64), v0 (int32), v1 (int32), pad (int32)
#   SAMPLE: a flow flags, b button, c refill, v0 level uL, v1 flow 0.1 uL/h
#   FAULT:  a fault key (FAULT_*), v0 its value (a mode, ms or bytes)
# VM -> host, 16 bytes, little-endian ("<BBxxqi"):
#   kind, small, 2 pad bytes, world ms (int64), value (int32)
# Board time is virtual (worldclock.py): the VM asks for time with ADVANCE
# (world = the board ms it wants to reach, small = 1 when its watchdog fires
# there, value = ms since the last feed or -1), and the host answers with the
# SAMPLEs and FAULTs due up to then (each with its due time) and a GRANT
# (due = the horizon: the VM may sleep on alone while below it; v0 = GRANT_*
# flags). So every record is taken exactly at its board time.
try:
    from micropython import const
except ImportError:     # CPython (the host)
    def const(x):
        return x

IN_FORMAT = "<BBBBqiii"
IN_SIZE = const(24)
IN_DUE = const(4)       # offsets of the fields the ROM reads by hand
IN_V0 = const(12)
IN_V1 = const(16)
OUT_FORMAT = "<BBxxqi"
OUT_SIZE = const(16)
OUT_WORLD = const(4)
OUT_VALUE = const(12)

NONE = const(-2147483648)   # "no reading" in a sample's level or flow

# host -> VM record kinds
SAMPLE = const(83)      # 'S'
FAULT = const(70)       # 'F'
GRANT = const(71)       # 'G': the time asked for is granted; due = the next horizon
GRANT_WDT_OFF = const(1)    # GRANT v0 flag: the watchdog was stopped (Ctrl-C)
# VM -> host record kinds
LINK_DATA = const(104)  # 'h': first record of the data link (value: the VM's token)
LINK_URGENT = const(117)    # 'u': first record of the urgent link (host -> VM faults "now")
TONE = const(90)        # 'Z': buzzer frequency, Hz (0: silent)
DUTY = const(68)        # 'D': the buzzer PWM's duty (duty_u16), sent before its TONE
LED = const(76)         # 'L': light colour index (pumpmon.patterns.COLOUR_NAMES)
WDT_ARM = const(75)     # 'K': watchdog armed, value = timeout ms
WDT_FEED = const(87)    # 'W': watchdog fed (at most 10 a second of real time: "not hung")
BEGIN = const(66)       # 'B': the firmware reads its sensors for the first time
HEARTBEAT = const(72)   # 'H': the heartbeat pin's new level (issue 12: the independent sounder's input)
HEAP = const(77)        # 'M': the heap (gc, inside the VM): small 0 = a new high-water of
#                         gc.mem_alloc() at the firmware's sleeps (a gc.collect() each
#                         HEAP_COLLECT_MS of board time: live data plus at most that much
#                         garbage), 1 = the heap's size, 2 = what the ROM itself holds
#                         (after a gc.collect(), at boot: a new VM's figures start)
HEAP_COLLECT_MS = const(10000)
ADVANCE = const(65)     # 'A': the VM asks for board time (see above); it waits for the GRANT

# FAULT record keys, and the values each takes
FAULT_FLOW = const(1)
FAULT_LEVEL = const(2)
FAULT_FLASH = const(3)
FAULT_HANG = const(4)
FAULT_BUTTON = const(5)     # value: ms the button is held
FAULT_CUT = const(6)        # value: flash bytes written before the power goes
FAULT_BUZZER = const(7)     # value: BUZZER_* (issue 12: a buzzer driver that raises)
FAULT_KEYS = {"flow": FAULT_FLOW, "level": FAULT_LEVEL, "flash": FAULT_FLASH,
              "hang": FAULT_HANG, "button": FAULT_BUTTON, "cut-after": FAULT_CUT,
              "buzzer": FAULT_BUZZER}
SENSOR_OK = const(0)
SENSOR_SILENT = const(1)
SENSOR_STUCK = const(2)
SENSOR_RANGE = const(3)
FLOW_AIR = const(4)
FLOW_MODES = {"ok": SENSOR_OK, "silent": SENSOR_SILENT, "stuck": SENSOR_STUCK,
              "range": SENSOR_RANGE, "air": FLOW_AIR}
LEVEL_MODES = {"ok": SENSOR_OK, "silent": SENSOR_SILENT, "stuck": SENSOR_STUCK,
               "range": SENSOR_RANGE}
FLASH_OK = const(0)
FLASH_FAIL = const(1)       # every write fails (EIO)
FLASH_FULL = const(2)       # every growing write fails (ENOSPC)
FLASH_MODES = {"ok": FLASH_OK, "fail": FLASH_FAIL, "full": FLASH_FULL}
BUZZER_OK = const(0)
BUZZER_FAIL = const(1)      # set_tone raises OSError(ENODEV)
BUZZER_MODES = {"ok": BUZZER_OK, "fail": BUZZER_FAIL}

# the control link: one text line each way, VM asks, host answers "ok"
HELLO = "hello"         # "hello TOKEN": the VM is up; answer "ok skip_main=0|1 started=0|1"
# (REPL, RESET and CUT carry the board's time: "reset 12345")
REPL = "repl"           # the ROM hands over to the REPL (the host holds console input)
TYPED = "typed"         # "typed 12345 HEX": console bytes nobody read before the REPL, given
#                         back to the host, which writes them again once the REPL reads
RESET = "reset"         # machine.reset(): the host ends this VM and starts another
CUT = "cut"             # the flash's cut-after fault fired: a power cut


# ---- the ROM's side: by hand into preallocated buffers ----------------------------
def put_out(tx, kind, small, world, value):
    """Fill the 16-byte VM -> host record tx."""
    tx[0] = kind
    tx[1] = small & 255
    i = OUT_WORLD
    while i < OUT_WORLD + 8:
        tx[i] = world & 255
        world >>= 8
        i += 1
    v = value & 0xFFFFFFFF
    tx[OUT_VALUE] = v & 255
    tx[OUT_VALUE + 1] = (v >> 8) & 255
    tx[OUT_VALUE + 2] = (v >> 16) & 255
    tx[OUT_VALUE + 3] = (v >> 24) & 255


def get_i32(rx, at):
    v = rx[at] | (rx[at + 1] << 8) | (rx[at + 2] << 16) | (rx[at + 3] << 24)
    if v & 0x80000000:
        v -= 0x100000000
    return v


def get_due(rx):
    """The due time (world ms) of a host -> VM record (non-negative)."""
    due = 0
    i = IN_DUE + 7
    while i >= IN_DUE:
        due = (due << 8) | rx[i]
        i -= 1
    return due


# ---- the host's side: struct -------------------------------------------------------
def pack_in(kind, a, b, c, due, v0, v1):
    import struct
    return struct.pack(IN_FORMAT, kind, a, b, c, due, v0, v1, 0)


def unpack_out(buf, off=0):
    """(kind, small, world, value) of the VM -> host record at buf[off:]."""
    import struct
    return struct.unpack_from(OUT_FORMAT, buf, off)
