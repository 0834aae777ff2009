# MicroPython code (runs on the target: the 32-bit unix build or the QEMU
# Cortex-M3), compiled to .mpy with the firmware: the memory budget's
# measured run (host_tools/bench/memory.py drives it). The full monitor of an
# ESP32 with every part a board runs: its board layer and drivers, the Runner
# with the event log, the state file and the sensor recorder on flash, the
# console service, the carers' MQTT link (heap_world.py: the world around it).
#
#   import heap_run; heap_run.main("peak", FLASH_DIR, ORDER)
#   import heap_run; heap_run.main("frag", FLASH_DIR, ORDER, hours)
#   import heap_run; heap_run.main(MODE, FLASH_DIR, ORDER, hours, ROM)
#
# ROM: the firmware's modules from the ROMFS image `pumpmon flash` writes
# (memory.py: a file, or "partition": the board's ROM partition), at /rom.
#
# ORDER: the firmware modules, dependencies first, so that each import's
# cost is the module's own. Prints "IMPORT name bytes", "OBJECT name bytes",
# then one JSON line; "frag" also a "DAY d free" line a day (the
# host reads micropython.mem_info()'s "max free sz" for the largest block).
import gc
import sys

import micropython

import heap_world as W


def _alloc():
    gc.collect()
    return gc.mem_alloc()


def _build(flash, order):
    W.install()
    base = _alloc()
    a = base
    for name in order:
        __import__(name)
        b = _alloc()
        print("IMPORT %s %d" % (name, b - a))
        a = b
    import board
    from pumpmon.config import Config
    from pumpmon.runner import Runner
    from pumpmon import service as S
    from carerlink import link as LK
    objs = []
    b = board.Board()
    objs.append(("board.Board", _alloc() - a))
    a = _alloc()
    cfg = Config({"rate_ul_h": 30.0, "mqtt_host": "127.0.0.1", "wifi_ssid": "home",
                  "wifi_password": "secret1234", "board_id": "bed1",
                  "mqtt_keepalive_s": 60})
    r = Runner(b, cfg, tod_s=None, flash=flash)
    r.note_config(cfg, None)
    objs.append(("Runner (monitor, log, state, recorder)", _alloc() - a))
    a = _alloc()
    con = S.Console(stream=W.Console, out=W.Console, poll=W.Console.poll)
    r.attach_service(S.Service(r, console=con, root=flash))
    objs.append(("Service (console channel)", _alloc() - a))
    a = _alloc()
    r.attach_carer(LK.CarerLink(r, cfg.net, cfg.board_id))
    objs.append(("CarerLink", _alloc() - a))
    for name, n in objs:
        print("OBJECT %s %d" % (name, n))
    return base, b, r


class Puller:
    """`pumpmon log pull` from the board's side: ls log, then every segment
    read in 1 KB replies, one request per loop pass."""

    def __init__(self):
        self.todo = []
        self.rid = 0
        self.name = None
        self.off = 0
        self.pulls = 0
        self.bytes = 0

    def start(self):
        self.todo = None          # None: ls first
        self._ask("ls log")

    def _ask(self, what):
        self.rid += 1
        W.Console.last = ""
        W.Console.send(("PM %d %s" % (self.rid, what)).encode())

    def step(self):
        if self.todo == [] and self.name is None:
            return
        reply = W.Console.last
        if not reply:
            return
        words = reply.split()
        if self.todo is None:                       # the ls reply
            self.todo = [w.split(":")[0] for w in words[3:]]
        elif len(words) >= 6 and words[2] == "OK":  # a read reply: size off k data
            size, off, k = int(words[3]), int(words[4]), int(words[5])
            self.bytes += k
            self.off = off + k
            if k == 0 or self.off >= size:
                self.name = None
        else:
            self.name = None                        # an error: next segment
        if self.name is None:
            if not self.todo:
                self.pulls += 1
                W.Console.last = ""
                return
            self.name = self.todo.pop(0)
            self.off = 0
        self._ask("read log/%s %d" % (self.name, self.off))


def _run(r, passes, peak, puller=None, every=10):
    """passes loop passes; the high-water of gc.mem_alloc() after each, with
    a gc.collect() every 10 passes: live data plus at most 10 passes'
    garbage, 0.1 s (without the collections the high-water is the heap's size, as
    garbage piles up until the heap is full)."""
    step = r.step
    alloc = gc.mem_alloc
    collect = gc.collect
    sleep = r.board.sleep_ms
    i = 0
    while i < passes:
        step()
        if puller is not None:
            puller.step()
        a = alloc()
        if a > peak:
            peak = a
        sleep(10)
        i += 1
        if every and i % every == 0:
            collect()
    return peak


def peak(flash, order):
    base, b, r = _build(flash, order)
    setup_live = _alloc()
    W.World.stride = 10
    puller = Puller()
    steady = 100 * 60 * 10                 # 10 min of 10 ms loop passes
    pk = _run(r, steady // 2, setup_live)
    puller.start()                         # a log pull while delivering
    pk = _run(r, steady // 2, pk, puller)
    quiet = r.monitor.manager.shown == 0 and b.buzzer.pwm.changes == 0
    peak_steady = pk
    W.World.flow_raw = 0                   # the pump stops
    pk = _run(r, 100 * 60 * 15, setup_live)    # no_flow within ~10 min, then sounding
    sounded = b.buzzer.pwm.changes > 0 and r.monitor.manager.shown != 0
    link = r.carer
    for name in sys.modules:
        if name not in order and name not in ("heap_world", "heap_broker", "heap_run", "board"):
            print("LAZY %s" % name)
    gc.collect()
    micropython.mem_info()
    print('{"heap": %d, "base": %d, "setup_live": %d, "peak_steady": %d, "peak_alarm": %d, '
          '"quiet_before": %d, "alarm_sounded": %d, "link_up": %d, "published": %d, '
          '"pulled": %d, "end_live": %d, "link_error": "%s", "display": %d}' % (
              gc.mem_alloc() + gc.mem_free(), base, setup_live, peak_steady, pk,
              quiet, sounded, link.state == 4, W.Broker.published, puller.bytes,
              gc.mem_alloc(), link.last_error, r.screen is not None))


def frag(flash, order, hours):
    """Normal delivery for `hours` with a 1 s loop pass (the sampling period):
    a 20 min stop (no_flow, acknowledged) every morning, a refill a week, a
    log pull every 6 h, the carers' broker gone 2 min every hour."""
    base, b, r = _build(flash, order)
    W.World.stride = 1000
    world = W.World
    puller = Puller()
    low = gc.mem_free()
    day = 0
    left = hours
    while left > 0:
        for h in range(min(24, left)):
            for m in range(60):
                W.Broker.down = 1 if m < 2 else 0
                if h == 6:
                    world.flow_raw = 0 if m < 20 else 36
                    world.button = 1 if m == 25 else 0
                if h == 12 and day % 7 == 6:
                    world.refill = 1 if m < 10 else 0
                    if m == 5:
                        world.level_ul = 18000
                if m == 30 and h % 6 == 0:
                    puller.start()
                _run(r, 60, 0, puller, 0)     # the GC as it comes: no collect()
                f = gc.mem_free()
                if f < low:
                    low = f
            if world.flow_raw:
                world.level_ul -= 30
        left -= 24
        day += 1
        gc.collect()
        print("DAY %d %d" % (day, gc.mem_free()))
    gc.collect()
    micropython.mem_info()
    mg = r.monitor.manager
    print('{"heap": %d, "base": %d, "hours": %d, "end_live": %d, "lowest_free": %d, '
          '"pulls": %d, "connects": %d, "drops": %d, "shown": %d, "internal": %d, '
          '"link_error": "%s"}' % (
              gc.mem_alloc() + gc.mem_free(), base, hours, gc.mem_alloc(), low,
              puller.pulls, W.Broker.connects, W.Broker.drops, mg.shown,
              r.monitor.internal, r.carer.last_error))


def _mount_rom(rom):
    """The firmware from the ROMFS image `pumpmon flash` writes (memory.py):
    a file read into the heap (the unix port: before the base is taken), or
    "partition": the board's ROM partition (QEMU's loader put the image there
    and the firmware mounted it at /rom as it started). /rom and /rom/lib
    first on sys.path, as firmware/failsafe.py's use_rom() puts them."""
    import vfs
    if rom != "partition":
        with open(rom, "rb") as f:
            img = f.read()
        vfs.mount(vfs.VfsRom(img), "/rom")
    for p in [p for p in sys.path if p.startswith("/rom")]:
        sys.path.remove(p)
    sys.path.insert(0, "/rom/lib")
    sys.path.insert(0, "/rom")


def main(mode, flash, order, hours=24, rom=None):
    if rom is not None:
        _mount_rom(rom)
    try:
        if mode == "peak":
            peak(flash, order)
        else:
            frag(flash, order, hours)
    except MemoryError as e:
        gc.collect()
        micropython.mem_info()
        print('{"error": "MemoryError: %s"}' % e)
