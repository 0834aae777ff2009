# Service mode ends by itself (docs/console-protocol.md, Stopping): after a
# service request stopped the monitor (service.stop: logged, the service
# indication on), the Runner's loop waits here for the host to take the REPL
# with its Ctrl-C (a KeyboardInterrupt, which goes on to the REPL). Nobody
# came within HOLD_S (a client that vanished after one line): monitoring
# resumes by itself, as after a reset, logged as monitoring_resumed. The
# firmware's own timer, so the same on every board.
from pumpmon import eventlog as L
from pumpmon.clock import ticks_diff
from pumpmon.service import _quietly

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# board seconds the monitor waits (the loop sleeps, feeding the watchdog)
HOLD_S = const(60)
RESUME_TIMEOUT = const(1)   # monitoring_resumed detail: service_timeout
RESUME_NAMES = ("", "service_timeout")


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
    r._tone = r._led = -1
    r._dirty = 1
