# Service mode (docs/console-protocol.md, Stopping): a service request or
# Ctrl-C stops the monitor (stop(): logged, the service indication on, the
# log closed). After a service request the Runner's loop waits here for the
# host to take the REPL with its Ctrl-C (a KeyboardInterrupt, which goes on
# to the REPL). Nobody came within HOLD_S (a client that vanished after one
# line): monitoring resumes by itself, as after a reset, logged as
# monitoring_resumed. The firmware's own timer, so the same on every board.
from pumpmon import eventlog as L
from pumpmon import patterns as P
from pumpmon import service as S
from pumpmon.clock import ticks_diff

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# board seconds the monitor waits (the loop sleeps, feeding the watchdog)
HOLD_S = const(60)
RESUME_TIMEOUT = const(1)   # monitoring_resumed detail: service_timeout
RESUME_NAMES = ("", "service_timeout")


def stop(r, detail, why=0):
    """The monitor stops (a service request, or Ctrl-C): log it (synced),
    save the alarm state, put the buzzer and the light on the service
    indication (held by the hardware while the board sits in the REPL), and
    let Runner.run() end. Never raises; each step is tried on its own, so a
    failing one (the log, the buzzer) never keeps the others from happening."""
    r.stop = detail
    r.stop_why = why
    st, log, rec, b = r.store, r.log, r.rec, r.board
    if log is not None:
        _quietly(log.interrupted)
    if rec is not None:
        _quietly(rec.interrupted)
    _quietly(r.write, L.MONITORING_STOPPED, L.NO_COND, detail, why, 0, 0, 0, True)
    if st is not None:
        _quietly(st.save_state)
    _quietly(b.set_tone, P.SERVICE_TONE)
    _quietly(b.set_led, P.SERVICE_LED)
    r.driven(P.SERVICE_TONE, P.SERVICE_LED)
    if r.screen is not None:      # NOT MONITORING on the display (screen.py)
        _quietly(r.screen.stopped, detail == S.STOP_SERVICE)
    if log is not None:
        _quietly(log.close)
    if rec is not None:
        _quietly(rec.close)


def _quietly(fn, *args):
    try:
        fn(*args)
    except Exception:            # noqa: BLE001 - stopping must reach its end
        pass


def stop_interrupted(r):
    """Ctrl-C reached the main loop: log it and sound the service
    indication before the REPL takes over. A second Ctrl-C (mpremote sends
    more than one) must not cut the log write short, so the console's
    interrupt character is off meanwhile."""
    kbd = None
    try:
        from micropython import kbd_intr as kbd
        kbd(-1)
    except ImportError:
        pass
    try:
        stop(r, S.STOP_INTERRUPT, 0)
    finally:
        if kbd is not None:
            kbd(3)


def hold(r, loop_ms=10):
    """After a service request stopped the monitor (logged, the service
    indication on): wait up to HOLD_S for the host's Ctrl-C, which raises
    KeyboardInterrupt here and goes on to the REPL. True when nobody came
    and monitoring has resumed (the Runner's loop goes on)."""
    b = r.board
    t0 = b.ticks_ms()
    why = r.stop_why
    while ticks_diff(b.ticks_ms(), t0) < HOLD_S * 1000:
        _quietly(b.feed_watchdog)
        b.sleep_ms(loop_ms)
    resume(r, RESUME_TIMEOUT, ticks_diff(b.ticks_ms(), t0) // 1000, why)
    return True


def resume(r, why, held_s, service_why=0):
    """Monitoring again after a stop (hold()'s timeout), as after a
    reset of a real board: logged (monitoring_resumed, synced), and
    monitoring_interrupted shown until acknowledged (it was not monitoring
    for held_s). The engine starts afresh (the seconds it did not see are
    not a sensor silence; the flow window fills again), the shown alarms
    kept as a reset restores them (a high one stays until judged again);
    the sound and the light are driven again from the next pass."""
    from pumpmon.engine import Engine
    r.stop = 0
    m = r.monitor
    mg = m.manager
    r.uptime(r.board.ticks_ms())      # the record's time: now, not the stop's
    _quietly(r.write, L.MONITORING_RESUMED, L.NO_COND, why, held_s, service_why, 0, 0,
             True)
    e = m.engine
    m.engine = Engine(r.cfg, r.board.ticks_ms(), (e.tod_s + held_s) % 86400)
    m.restore(mg.shown, mg.acked)
    m.interrupt()
    r.driven(-1, -1)
    if r.store is not None:
        r.store.dirty = 1             # the alarm state saved at the next pass
