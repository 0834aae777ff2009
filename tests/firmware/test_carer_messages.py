# What the carers' link says (docs/carer.md, issue 28): the alarm state with
# QoS 1 until the broker acknowledges it, "I am coming" logged and published
# without ever silencing the bedside, and an escalated alarm nobody answered
# calling the second contact. Scripted brokers (carer_script.py); the link
# imports a socket module, so the unix ports run these.
from carer_script import ScriptWire, new_link, scripted

from pumpmon import alarms as A


def test_alarm_state_goes_with_qos_1_until_the_broker_acknowledges_it():
    """req: R-072"""
    import json
    from carerlink import link as LK
    from carerlink import packets as P
    b, r, lk = new_link()
    w = scripted(lk, ScriptWire(ack=False))
    r.run(100 * 3)
    assert lk.state == LK.UP
    states = [p for p in w.pubs if p[1] == "pumpmon/bed4/state"]
    assert states and states[0][0] & 0x06 == 0x02 and states[0][0] & P.RETAIN
    # no PUBACK: sent again with DUP after half a keep-alive, same packet id
    r.run(100 * 6)
    again = [p for p in w.pubs if p[1] == "pumpmon/bed4/state"]
    assert len(again) >= 2 and again[1][0] & P.DUP and again[1][2] == again[0][2]
    assert lk.ch.resent >= 1
    # the broker acknowledges from now on: nothing is sent again
    w.ack = True
    w.todo += P.puback(again[-1][2])
    r.run(100 * 2)
    n = len([p for p in w.pubs if p[1] == "pumpmon/bed4/state"])
    assert not lk.ch.inflight and lk.ch.acked >= 1
    r.run(100 * 20)
    assert len([p for p in w.pubs if p[1] == "pumpmon/bed4/state"]) == n
    # heartbeats are QoS 0; the state says the bedside has not escalated
    hbs = [p for p in w.pubs if p[1] == "pumpmon/bed4/heartbeat"]
    assert hbs and all(h[0] & 0x06 == 0 for h in hbs)
    assert json.loads(lk.ch.state_msg())["escalated"] is False
    # a broker that never acknowledges: the connection is dropped and made again
    b2, r2, lk2 = new_link()
    w2 = scripted(lk2, ScriptWire(ack=False))
    r2.run(100 * 40)
    assert w2.opens >= 2 and lk2.ch.resent >= 3


def test_i_am_coming_is_logged_published_and_never_silences_the_bedside():
    """req: R-073"""
    import json
    from carerlink import packets as P
    from pumpmon import eventlog as L
    b, r, lk = new_link()
    logged = []
    r.write = lambda code, cond=255, detail=0, *v, **k: logged.append((code, cond, detail))
    w = scripted(lk, ScriptWire())
    r.run(100 * 2)
    # the monitor subscribed to its coming topic
    assert P.subscribe(1, b"pumpmon/bed4/coming", 1) in w.sent
    r.monitor.manager.update(b.t, 1 << A.NO_FLOW, 0)
    r.run(100)
    before = (r.monitor.manager.sound_kind(), r.monitor.manager.shown)
    msg = P.publish(b"pumpmon/bed4/coming", b'{"contact": 2, "name": "Anna"}', 0, 1, 77)
    w.todo += msg
    r.run(100)
    # acknowledged to the broker (QoS 1), logged with the alarm and contact
    assert P.puback(77) in w.sent
    assert (L.CARER_COMING, A.NO_FLOW, 2) in logged, logged
    assert lk.coming[0] == 2
    # the bedside goes on exactly as before
    assert (r.monitor.manager.sound_kind(), r.monitor.manager.shown) == before
    st = json.loads(lk.ch.state_msg())
    assert st["coming"]["contact"] == 2 and st["alarms"]["no_flow"]["on"]
    # a retained "coming" (an old answer replayed by the broker) is not taken
    lk.ch.coming = None
    w.todo += P.publish(b"pumpmon/bed4/coming", b"1", 1, 0, 0)
    r.run(10)
    assert lk.coming is None


def test_an_escalated_alarm_nobody_answered_calls_the_second_contact():
    """req: R-074"""
    import json
    from carerlink import packets as P
    b, r, lk = new_link()
    w = scripted(lk, ScriptWire())
    r.run(100 * 2)
    mg = r.monitor.manager
    mg.update(b.t, 1 << A.NO_FLOW, 0)
    r.run(100)
    assert json.loads(lk.ch.escalation_msg(lk.ch.second_call()))["call"] is False
    n0 = len([p for p in w.pubs if p[1] == "pumpmon/bed4/escalation"])
    # the bedside's one timer says escalated (manager.escalated): called, QoS 1, retained
    mg.escalated = 1
    r.run(100)
    esc = [p for p in w.pubs if p[1] == "pumpmon/bed4/escalation"]
    assert len(esc) == n0 + 1 and esc[-1][0] & 0x06 == 0x02 and esc[-1][0] & P.RETAIN
    assert lk.ch.call == 1 and json.loads(lk.ch.state_msg())["escalated"] is True
    # a carer answers: the call ends, the bedside escalation does not
    w.todo += P.publish(b"pumpmon/bed4/coming", b'{"contact": 1}', 0, 1, 5)
    r.run(100)
    assert lk.ch.call == 0 and mg.escalated == 1
    assert len([p for p in w.pubs if p[1] == "pumpmon/bed4/escalation"]) == n0 + 2
