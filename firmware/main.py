# Board entry point: run after boot.py on every reset. The board layer comes
# from /board.py (boards/<name>/board.py); everything else from pumpmon.
# The event log lives in /log/ and the alarm state in /state.bin on the
# board's flash (docs/log-format.md).
from pumpmon import alarms as A
from pumpmon.runner import Runner, load_config, time_of_day
from pumpmon.service import Service


def main():
    import board
    b = board.Board()
    cfg, err = load_config("config.json")
    tod, clock_err = time_of_day(b, cfg)
    err = err or clock_err
    # restores the alarms latched before a reset and logs the boot
    r = Runner(b, cfg, tod_s=tod, flash="/")
    r.note_config(cfg, err)
    if err:
        print("pumpmon: bad configuration:", err)
        r.monitor.fault(A.D_CONFIG)
    # the console channel: hosts read the log, status, configuration and
    # recording between ticks, without stopping the monitor
    # (docs/console-protocol.md)
    Service(r)
    r.run()


main()
