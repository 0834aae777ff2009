# The carers' link's retries (docs/carer.md, issue 28): a link that keeps
# dropping is retried ever more slowly, the back-off starts again after a
# connection that stayed up, and the start-up grace hides only a broker not
# up yet. Scripted brokers (carer_script.py); the link imports a socket
# module, so the unix ports run these, not the bare-metal one.
from carer_script import ScriptWire, new_link, scripted

from pumpmon import alarms as A

BIT = 1 << A.CARER_LINK


def test_a_link_that_drops_within_seconds_is_retried_ever_more_slowly():
    """req: R-079"""
    from carerlink import link as LK
    seed = 28
    for trial in range(2):
        b, r, lk = new_link()
        # up for 0.2-3 s (20-300 passes, drawn), then dropped, every time
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        w = scripted(lk, ScriptWire(drop_after=20 + seed % 281))
        r.run(100 * 1800)
        # 1+2+4+...+60 s, then one attempt a minute: never one a second
        assert w.opens <= 30 + 8, (trial, w.opens)
        assert lk._backoff == LK.BACKOFF_MAX_MS
        # the bedside shows the lost link (down for most of the time)
        assert r.monitor.internal == 0


def test_a_connection_that_stayed_up_starts_the_back_off_again():
    """req: R-079"""
    from carerlink import link as LK
    b, r, lk = new_link()
    w = scripted(lk, ScriptWire(drop_after=100 * 90))        # up 90 s each time
    r.run(100 * 600)
    # each drop after a stable minute is retried after 1 s
    assert w.opens >= 6 and lk._backoff <= 2 * LK.BACKOFF_MIN_MS


def test_start_up_grace_hides_only_a_broker_not_up_yet():
    """req: R-079"""
    from carerlink import link as LK
    from carerlink.wire import LinkError
    from pumpmon import eventlog as L
    # a broker not listening yet at start-up: retried quietly for a keep-alive
    # period (10 s), then indicated at the bedside and logged with the reason
    b, r, lk = new_link()
    logged = []
    r.write = lambda code, cond=255, detail=0, *v, **k: logged.append((code, detail) + v)
    r.run(100 * 9)
    assert "refused" in lk.last_error and not [x for x in logged if x[0] == L.CARER_LINK]
    assert not r.monitor.manager.shown & BIT
    r.run(100 * 3)
    link = [x for x in logged if x[0] == L.CARER_LINK]
    assert r.monitor.manager.shown & BIT and link and link[0][2] == 111, link
    # a refusal (wrong password) is said at once, grace or not
    b, r, lk = new_link()
    logged = []
    r.write = lambda code, cond=255, detail=0, *v, **k: logged.append((code, detail) + v)

    def refuse(now):
        raise LinkError("the broker refused the connection: not authorised", 1005)
    lk._connect = refuse
    r.run(100)
    assert [x[2] for x in logged if x[0] == L.CARER_LINK] == [1005]
    # a link that was up and went down is never hidden
    b, r, lk = new_link()
    logged = []
    r.write = lambda code, cond=255, detail=0, *v, **k: logged.append((code, detail) + v)
    scripted(lk, ScriptWire(drop_after=100))
    r.run(100 * 3)
    downs = [x for x in logged if x[0] == L.CARER_LINK and x[1] == LK.UP and x[2] == 104]
    assert downs, logged


def test_a_broker_that_never_acknowledges_is_a_lost_link():
    """A broker that takes every connection and never acknowledges our
    messages (PUBACK) tells carers nothing: the bedside shows the lost link
    from a keep-alive period after start-up and keeps showing it, and the
    connections, each ended by the unanswered state, are retried ever more
    slowly (a connection counts as good only once acknowledged). When the
    broker answers again the indication clears; when it stops answering on a
    good connection the indication is back within a resend and a keep-alive
    period.
    req: R-046, R-079"""
    from carerlink import link as LK
    b, r, lk = new_link({"mqtt_keepalive_s": 60})       # resend after 30 s, 4 sends
    w = scripted(lk, ScriptWire(ack=False))
    r.run(100 * 59)
    assert not r.monitor.manager.shown & BIT             # a keep-alive period: not yet
    on = 0
    for _minute in range(30):
        r.run(100 * 60)
        on += 1 if r.monitor.manager.shown & BIT else 0
    assert on == 30, on
    # each connection lasts 2 min (4 unanswered sends): retried 1, 2, 4 ... 60 s
    # after them (12 in 31 min), not 1 s after each (15)
    assert lk._backoff == LK.BACKOFF_MAX_MS and w.opens <= 13, (lk._backoff, w.opens)
    w.ack = True                                         # the broker answers again
    r.run(100 * 65)                                      # (the next attempt: <= 60 s)
    assert lk.state == LK.UP and lk.ch.confirmed and not r.monitor.manager.shown & BIT
    w.ack = False                                        # and stops, on a good connection
    r.run(100 * 1)
    lk.ch.dirty = 1                                      # a state to send
    r.run(100 * (30 + 60 + 3))
    assert r.monitor.manager.shown & BIT, lk.state
