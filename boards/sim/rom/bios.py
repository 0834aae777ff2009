# The virtual board's "ROM": run by the MicroPython unix port (as its main
# script, with -i) before the REPL, on every power-on, hard and soft reset of
# the virtual board (host_tools/vboard/ starts one unix-port process per
# reset). It does what a board's firmware does before the user's code runs:
#   - mounts the board's flash (a host folder, flashfs.py) as "/", with the
#     size limit of a real flash: OSError(ENOSPC) past it;
#   - connects the peripherals (link.py): unix sockets to the host, one for
#     samples, faults, LED/buzzer/watchdog traffic (non-blocking, fixed
#     24/16-byte records of wire.py, nothing allocated per sample), one for
#     faults "now", one for rare synchronous requests (hello, reset, "the
#     REPL starts now", power cut);
#   - replaces `machine` (simmachine.py: reset, soft_reset, reset_cause, WDT,
#     ...) and `time` (worldclock.py: ticks_ms/ticks_us/sleep*/time are
#     board time, virtual: it moves when the firmware sleeps, as far as the
#     host grants); simclocks.py adds the I2C bus with its DS3231 and the
#     board's RTC, which `time.localtime` reads;
#   - runs boot.py, then main.py (not after a soft reset in raw REPL mode, as
#     a real board), printing tracebacks like pyexec does;
#   - returns, leaving the unix port's own REPL (friendly and raw REPL).
# Nothing here is on the flash: `import simhw` gives board.py the link.
import sys
import os

# the ROM's modules, next to this file (the unix port puts the script's folder
# first on sys.path): imported before the flash replaces "/", and taken out of
# sys.modules again so the firmware's own imports never find them
_ROM = ("wire", "link", "flashfs", "worldclock", "simmachine", "simclocks", "simoled")


def _bios():
    import flashfs
    import link as _link
    import simclocks
    import simmachine
    import worldclock
    args = {}
    for a in sys.argv[1:]:
        kv = a.split("=", 1)
        if len(kv) == 2:
            args[kv[0]] = kv[1]
    mode = args.get("mode", "normal")   # normal | raw (soft reset in raw REPL)
    clock = worldclock.WorldClock(int(args["world"]), int(args.get("speed", "0")),
                                  int(args.get("epoch", "0")))
    link = _link.Link(args["sock"], args.get("token", ""), args.get("cause", "power_on"),
                      clock)
    # From the hello above the host may turn a Ctrl-C into SIGINT. One that
    # lands before the flash is "/" must not leave the REPL on the host's own
    # files (no size limit, not the board's flash: seen once under load), so
    # each of the two parts below is done again until it completes (each can
    # run twice: the first reads files and builds objects, the second only
    # mounts); the Ctrl-C still stops boot.py and main.py (link.interrupted)
    while True:
        try:
            flash = _attach(link, args, clock, flashfs, simclocks, simmachine, worldclock)
            break
        except KeyboardInterrupt:
            link.interrupted = 1
    while True:
        try:
            _mount(flash, link)
            return link, mode
        except KeyboardInterrupt:
            link.interrupted = 1


def _attach(link, args, clock, flashfs, simclocks, simmachine, worldclock):
    """The flash, `machine`, `time` and the clocks (the ROM's modules still
    importable: simclocks imports simoled); returns the flash."""
    flash = flashfs.FlashFS(args["flash"], int(args.get("size", "1048576")),
                            int(args.get("block", "4096")), link)

    class SimHW:
        pass

    hw = SimHW()
    hw.link = link
    hw.world_ms = clock.world_ms
    hw.clock = clock        # world time for other parts: world_ms(), epoch_ms()
    hw.flash = flash
    sys.modules["simhw"] = hw
    sys.modules["machine"] = simmachine.machine_module(link)
    sys.modules["time"] = worldclock.time_module(clock)
    # the DS3231 on I2C and the Pico-like RTC (time.localtime reads it)
    simclocks.fit(sys.modules["machine"], sys.modules["time"], clock.world_ms, link.cause,
                  args["sock"], epoch_ms=clock.epoch_ms)
    return flash


def _mount(flash, link):
    """The ROM's modules out of sight, the flash as "/"."""
    for name in _ROM:
        sys.modules.pop(name, None)

    # ---- the flash becomes "/" --------------------------------------------------
    try:
        os.umount("/")
    except OSError:
        pass                    # (done already by an interrupted pass)
    os.mount(flash, "/")
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]
    link.heap.boot()


def _run(name, g):
    try:
        os.stat(name)
    except OSError:
        return 0
    try:
        execfile(name, g)
    except KeyboardInterrupt as e:
        sys.print_exception(e)
        return 1
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - like pyexec: print and go on
        sys.print_exception(e)
    return 0


def _unread():
    """The console bytes written before the REPL and never read. A port whose
    REPL switches its tty to raw with TCSAFLUSH (v1.28's unix port, the
    32-bit build) would discard them: mpremote's Ctrl-A sent while main.py
    stopped, and the raw REPL never came. The host holds new input from the
    REPL request on, so these are all there are; it writes them again."""
    import select
    p = select.poll()
    p.register(sys.stdin, select.POLLIN)
    one = bytearray(1)
    got = bytearray()
    while p.poll(0) and sys.stdin.buffer.readinto(one):
        got += one
    return bytes(got)


def _start():
    link = None
    g = globals()
    try:
        link, mode = _bios()
        skip = "skip_main=1" in link.hello
        stop = _run("boot.py", g)
        if mode != "raw" and not skip and not stop and not link.interrupted:
            _run("main.py", g)
    except KeyboardInterrupt as e:
        sys.print_exception(e)
    finally:
        if link is not None:     # always: the host waits for it in raw mode
            link.request_at("repl")
            typed = _unread()
            if typed:
                link.request_at("typed", typed.hex())


_start()
del _start, _run, _bios, _attach, _mount, _unread, _ROM, sys, os
