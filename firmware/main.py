# Board entry point: run after boot.py on every reset. The board layer comes
# from /board.py (boards/<name>/board.py); everything else from pumpmon.
from pumpmon import alarms as A
from pumpmon.runner import Runner, load_config


def main():
    import board
    b = board.Board()
    cfg, err = load_config("config.json")
    r = Runner(b, cfg)
    if err:
        print("pumpmon: bad configuration:", err)
        r.monitor.fault(A.D_CONFIG)
    r.run()


main()
