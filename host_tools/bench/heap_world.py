# MicroPython code (runs on the target: the 32-bit unix build or the QEMU
# Cortex-M3): the world around the full monitor for the memory budget
# (host_tools/bench/memory.py, heap_run.py) and the Pico's loop-garbage bench
# (host_tools/bench/boards.py MP_PROGRAM, which sets World's pins and level
# calibration to the Pico's). It stands in for an ESP32's
# `machine`, `time` (a simulated clock), `neopixel`, `network` (Wi-Fi always
# up) and `socket`/`select` (heap_broker.py: the carers' MQTT broker in
# memory, which drops the connection when told), and feeds the drivers the
# I2C frames and ADC values of a pump delivering 30 uL/h from an 18 mL
# reservoir. Everything here is the harness, not the monitor: it is loaded
# before the heap is measured.
import sys

# the carers' broker, socket and select (heap_run reaches Broker as W.Broker)
from heap_broker import POLLIN, Broker, FakeSelect, FakeSocket  # noqa: F401

_MASK = (1 << 30) - 1
_HALF = 1 << 29


class World:
    t = (1 << 30) - 600000     # ms; the ticks wrap during a run
    stride = 10                # ms one sleep_ms(10) of the loop moves the clock
    flow_raw = 36              # SF06 counts (x 25/3 = 0.1 uL/h): 36 = 30 uL/h
    n = 0
    level_ul = 18000
    button = 0                 # 1: the alarm button is held
    refill = 0                 # 1: the refill key is turned
    frames = {}
    # the board's keys (active low) and level calibration: boards/esp32/pins.py
    # (BUTTON, REFILL; LEVEL_CAL: 4965 counts at 0, 9930 per 5 mL)
    button_pin = 27
    refill_pin = 14
    adc_zero = 4965
    adc_5ml = 9930


class FakeTime:
    @staticmethod
    def ticks_ms():
        return World.t & _MASK

    @staticmethod
    def ticks_add(t, d):
        return (t + d) & _MASK

    @staticmethod
    def ticks_diff(a, b):
        return ((a - b + _HALF) & _MASK) - _HALF

    @staticmethod
    def sleep_ms(ms):
        # kept below 2**30: a small int on a 32-bit port (a long int here
        # would be the harness allocating on every pass)
        World.t = (World.t + (World.stride if ms == 10 else ms)) & _MASK

    @staticmethod
    def sleep_us(us):
        pass

    @staticmethod
    def time():
        return 0

    @staticmethod
    def localtime(t=None):
        return (2000, 1, 1, 0, 0, 0, 5, 1)

    gmtime = localtime


def _crc(hi, lo):
    crc = 0xFF
    for b in (hi, lo):
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _frame(raw):
    out = bytearray(9)
    for i, w in enumerate((raw & 0xFFFF, 4600, 0)):
        out[3 * i] = w >> 8
        out[3 * i + 1] = w & 0xFF
        out[3 * i + 2] = _crc(w >> 8, w & 0xFF)
    return bytes(out)


for _raw in (-1, 0, 1, 35, 36, 37):
    World.frames[_raw] = _frame(_raw)


class FakeMachine:
    PWRON_RESET = 1
    HARD_RESET = 2
    WDT_RESET = 3
    DEEPSLEEP_RESET = 4
    SOFT_RESET = 5

    @staticmethod
    def reset_cause():
        return 1

    class Pin:
        IN = 0
        OUT = 1
        OPEN_DRAIN = 2
        PULL_UP = 1

        def __init__(self, pid, mode=-1, pull=-1, value=None):
            self.pid = pid

        def init(self, mode=-1, pull=-1, value=None):
            pass

        def value(self, v=None):
            if self.pid == World.button_pin:
                return 0 if World.button else 1
            if self.pid == World.refill_pin:
                return 0 if World.refill else 1
            return 1

    class I2C:
        def __init__(self, bus_id, scl=None, sda=None, freq=0):
            pass

        def writeto(self, addr, buf, stop=True):
            return len(buf)

        def writevto(self, addr, vector, stop=True):   # the display (0x3C)
            n = 0
            for b in vector:
                n += len(b)
            return n

        def readfrom_into(self, addr, buf, stop=True):
            World.n = (World.n + 1) % 3
            buf[:] = World.frames[World.flow_raw + World.n - 1]

        def readfrom_mem_into(self, addr, reg, buf):
            for i in range(len(buf)):     # the DS3231: stopped at 2000-00-00
                buf[i] = 0

        def writeto_mem(self, addr, reg, buf):
            pass

    class RTC:
        def datetime(self, t=None):
            return (2021, 1, 1, 4, 0, 0, 0, 0)

    class ADC:
        ATTN_11DB = 3

        def __init__(self, src):
            self.k = 0

        def init(self, atten=0):
            pass

        def read_u16(self):
            self.k ^= 16
            return World.adc_zero + World.level_ul * World.adc_5ml // 5000 + self.k

    class PWM:
        def __init__(self, pin, freq=0, duty_u16=0):
            self.hz = 0
            self.changes = 0

        def freq(self, hz=None):
            self.hz = hz
            self.changes += 1

        def duty_u16(self, d=None):
            pass

    class WDT:
        def __init__(self, id=0, timeout=5000):
            self.fed = 0

        def feed(self):
            self.fed += 1


class FakeNeoPixel:
    class NeoPixel:
        def __init__(self, pin, n):
            self.px = [(0, 0, 0)] * n

        def __setitem__(self, i, v):
            self.px[i] = v

        def write(self):
            pass


class FakeNetwork:
    STA_IF = 0

    class WLAN:
        def __init__(self, i):
            pass

        def active(self, on=None):
            return True

        def isconnected(self):
            return True

        def connect(self, ssid, password):
            pass

        def disconnect(self):
            pass


class Console:
    """The USB console's two ends: requests a host would type, the replies."""
    inbox = bytearray(256)
    n_in = 0
    pos = 0
    last = ""
    replies = 0

    @staticmethod
    def send(line):
        b = Console.inbox
        k = len(line)
        b[:k] = line
        b[k] = 10
        Console.n_in = k + 1
        Console.pos = 0

    @staticmethod
    def readinto(buf):
        if Console.pos >= Console.n_in:
            return 0
        buf[0] = Console.inbox[Console.pos]
        Console.pos += 1
        return 1

    _ready = ((0, POLLIN),)

    @staticmethod
    def poll(t):
        return Console._ready if Console.pos < Console.n_in else ()

    part = []

    @staticmethod
    def write(text):
        # a reply may come in pieces: `last` is the whole line once it ends
        Console.part.append(text)
        if text.endswith("\n"):
            Console.last = "".join(Console.part)
            Console.part = []
            Console.replies += 1


def install():
    """The fakes in place of the board's modules (before `import board`)."""
    sys.modules["time"] = FakeTime
    sys.modules["machine"] = FakeMachine
    sys.modules["neopixel"] = FakeNeoPixel
    sys.modules["network"] = FakeNetwork
    sys.modules["socket"] = FakeSocket
    # umqtt.simple imports it by its old name: on the unix port that finds
    # the real socket module, on the QEMU port (no network) nothing
    sys.modules["usocket"] = FakeSocket
    sys.modules["select"] = FakeSelect
