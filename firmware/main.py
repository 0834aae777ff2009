# Board entry point: run after boot.py on every reset. The board layer comes
# from /board.py (boards/<name>/board.py); everything else from pumpmon.
# The event log lives in /log/ and the alarm state in /state.bin on the
# board's flash (docs/log-format.md). The one place that wires the Runner's
# collaborators in: the console channel (Runner.attach_service) and the
# carers' link (Runner.attach_carer).
#
# Fail-safe (docs/safety.md): the watchdog is armed first, before any import
# that can fail; anything that stops the monitor from starting (a missing or
# damaged module, a board layer that raises, MemoryError, a bad boot) ends in
# failsafe.run(): malfunction sound and red light from code that needs only
# `machine`, logged when the flash allows. Firmware files that boot.py found
# missing or damaged (PM_DAMAGED) but that still let the monitor run are its
# malfunction/internal (firmware_damaged).
WDT_MS = 8000
try:
    import machine
    _wdt = machine.WDT(timeout=WDT_MS)
except Exception:  # noqa: BLE001 - no watchdog here (a port without one)
    _wdt = None


def monitor(damaged):
    import board
    from pumpmon import alarms as A
    from pumpmon.runner import Runner, load_config, time_of_day
    from pumpmon.service import Service
    b = board.Board()
    cfg, err = load_config("config.json")
    tod, clock_err = time_of_day(b, cfg)
    err = err or clock_err
    # restores the alarms latched before a reset and logs the boot
    # flash "": the current directory, "/" on a board at boot
    r = Runner(b, cfg, tod_s=tod, flash="")
    r.note_config(cfg, err)            # logged, with each change (store.py)
    if err:
        print("pumpmon: bad configuration:", err)
        r.monitor.fault(A.D_CONFIG)
    if damaged:
        print("pumpmon: firmware damaged:", "; ".join(damaged))
        r.monitor.fault(A.D_FIRMWARE)
    if r.store.boot[0] == "power_on":
        r.power_on_test()              # every light colour and a tone, logged
    # the console channel: hosts read the log, status, configuration and
    # recording between ticks, without stopping the monitor
    # (docs/console-protocol.md)
    r.attach_service(Service(r))
    carers(r, cfg)
    r.run()
    return r.stop




def carers(r, cfg):
    # the carers' link over MQTT when config.json names a broker
    # (docs/carer.md); the monitor runs the same without it
    if cfg.net is None:
        return
    try:
        from carerlink.link import CarerLink
        r.attach_carer(CarerLink(r, cfg.net, cfg.board_id))
    except Exception as e:  # noqa: BLE001 - no link: logged, monitoring goes on
        print("pumpmon: carer link not started:", e)
        r.monitor.link_lost(1)


def main(g):
    damaged = g.get("PM_DAMAGED")          # boot.py's manifest check
    try:
        if damaged is None:                # boot.py did not check: do it here
            import failsafe
            damaged = failsafe.problems()
        # code that is not what was flashed is not run: a truncated .mpy can
        # hang the import (a silent watchdog reset loop) or misjudge. Only a
        # damaged fail-safe file, or a ROMFS image not the one flashed (the
        # modules then come from littlefs, checked above), leave the monitor
        # running (firmware_damaged)
        code = [p for p in damaged if not p.startswith("failsafe.")
                and not p.startswith("romfs:")]
        if code:
            raise RuntimeError("firmware damaged: " + "; ".join(code))
        if monitor(damaged):
            # a service request stopped it on purpose (logged, the service
            # tone and light on): the REPL, for the tool that asked
            return
        reason = "the monitor returned"
    except KeyboardInterrupt:
        raise                              # someone at the console
    except BaseException as e:  # noqa: BLE001 - ImportError, MemoryError, SystemExit...
        reason = "%s: %s" % (type(e).__name__, e)
    try:
        import failsafe
    except BaseException:  # noqa: BLE001 - failsafe.py itself is gone
        print("pumpmon: cannot start and failsafe.py is missing:", reason)
        while True:
            pass                           # the watchdog resets the board
    failsafe.run(reason, _wdt)


main(globals())
