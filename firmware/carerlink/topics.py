# The carers' link's topics and messages (docs/carer.md): what a monitor
# publishes on the home's MQTT broker, in Home Assistant's conventions.
#   pumpmon/<id>/status       "online" / "offline" (retained; "offline" is
#                             the Last Will the broker publishes for us)
#   pumpmon/<id>/state        the alarms now (retained JSON, on every change)
#   pumpmon/<id>/heartbeat    uptime and keep-alive (every keep-alive / 2)
#   pumpmon/<id>/escalation   the second contact's call (retained JSON, QoS 1)
#   pumpmon/<id>/coming       carers publish here: "I am coming" (the monitor
#                             subscribes; never retained)
#   homeassistant/<component>/pumpmon_<id>/<object>/config   discovery (retained)
# Pure: builds text from the alarm table and the manager's masks; the host's
# `pumpmon carer` and the tests import the same names.
import json

from pumpmon import alarms as A

PREFIX = "pumpmon"
DISCOVERY = "homeassistant"
ONLINE = "online"
OFFLINE = "offline"
# one Home Assistant entity per alarm kind (alarms.KIND_NAMES, each once):
# object id, entity name
ENTITIES = (
    ("no_flow", "No flow"),
    ("malfunction", "Malfunction"),
    ("low_reservoir", "Low reservoir"),
    ("under_delivery", "Under-delivery"),
    ("monitoring_interrupted", "Monitoring interrupted (technical)"),
    ("pump_stopped", "Pump stopped by a clinician"),
    ("over_delivery", "Over-delivery (possible overdose)"),
)


def node_id(board_id):
    """The monitor's id in topics: board_id with only [A-Za-z0-9_-] kept."""
    out = ""
    for c in board_id or "":
        if ("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in "_-":
            out += c
    return out or "monitor"


def topic(nid, leaf):
    return "%s/%s/%s" % (PREFIX, nid, leaf)


# the retained discovery messages: one binary sensor per entity, then the
# alarm's sensor
N_DISCOVERY = len(ENTITIES) + 1


def discovery(nid, version=""):
    """[(topic, payload)] of the retained discovery messages."""
    return [discovery_one(nid, i, version) for i in range(N_DISCOVERY)]


def discovery_one(nid, i, version=""):
    """(topic, payload) of discovery message i (0 <= i < N_DISCOVERY): one at
    a time, so a board builds ~600 bytes of JSON per loop pass, not all 8."""
    st = topic(nid, "state")
    device = {"identifiers": ["pumpmon_" + nid], "name": "pumpmon " + nid,
              "manufacturer": "pumpmon", "model": "bedside pump monitor"}
    if version:
        device["sw_version"] = version
    if i < len(ENTITIES):
        obj, name = ENTITIES[i]
        cfg = {
            "name": name,
            "unique_id": "pumpmon_%s_%s" % (nid, obj),
            "state_topic": st,
            "value_template": "{{ 'ON' if value_json.alarms.%s.on else 'OFF' }}" % obj,
            "payload_on": "ON",
            "payload_off": "OFF",
            "device_class": "problem",
            "json_attributes_topic": st,
            "json_attributes_template": "{{ value_json.alarms.%s | tojson }}" % obj,
            "availability_topic": topic(nid, "status"),
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "qos": 1,
            "device": device,
        }
        return ("%s/binary_sensor/pumpmon_%s/%s/config" % (DISCOVERY, nid, obj),
                json.dumps(cfg))
    cfg = {
        "name": "Alarm",
        "unique_id": "pumpmon_%s_alarm" % nid,
        "state_topic": st,
        "value_template": "{{ value_json.alarm }}",
        "json_attributes_topic": st,
        "json_attributes_template": "{{ {'priority': value_json.priority, 'cause': "
                                    "value_json.cause, 'escalated': value_json.escalated, "
                                    "'up_s': value_json.up_s} | tojson }}",
        "icon": "mdi:alarm-light",
        "availability_topic": topic(nid, "status"),
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "qos": 1,
        "device": device,
    }
    return "%s/sensor/pumpmon_%s/alarm/config" % (DISCOVERY, nid), json.dumps(cfg)


def _coming(coming):
    return None if coming is None else {"contact": coming[0], "since_up_s": coming[1]}


def state(shown, acked, paused, since, up_s, wall, detail, escalated=0, coming=None):
    """The retained state message: the alarm annunciated (top condition),
    its priority, cause and time, and each alarm kind's own state.
    escalated: the bedside's escalation (manager.AlarmManager.escalated: a
    high alarm unacknowledged for escalation_min), the one escalation timer.
    since: per condition, the uptime (s) it was raised at; detail: per
    condition, the detail code it was raised with; coming: (contact, up_s) of the carer who
    answered "I am coming", or None."""
    alarms = {}
    for obj, _name in ENTITIES:
        alarms[obj] = {"on": False, "acked": False}
    i = 0
    while i < A.N_CONDITIONS:
        if shown & (1 << i):
            kind, prio, cause = A.TABLE[i]
            a = alarms[A.KIND_NAMES[kind]]
            if not a["on"] or prio < A.PRIORITY_NAMES.index(a["priority"]):
                a["on"] = True
                a["priority"] = A.PRIORITY_NAMES[prio]
                a["cause"] = cause
                a["since_up_s"] = since[i]
                a["acked"] = bool(acked & (1 << i))
        i += 1
    top = A.top_condition(shown)
    d = {"alarm": "none", "priority": None, "cause": None, "detail": None,
         "up_s": up_s, "time": wall if wall > 0 else None, "paused": bool(paused),
         "escalated": bool(escalated), "coming": _coming(coming), "alarms": alarms}
    if top >= 0:
        kind, prio, cause = A.TABLE[top]
        d["alarm"] = A.KIND_NAMES[kind]
        d["priority"] = A.PRIORITY_NAMES[prio]
        d["cause"] = cause
        d["since_up_s"] = since[top]
        dd = detail[top]
        d["detail"] = A.DETAIL_NAMES[dd] if 0 < dd < len(A.DETAIL_NAMES) else None
    return json.dumps(d)


def escalation(call, top, up_s, coming):
    """The second contact's message (retained): call is true while an alarm
    escalated at the bedside and no carer answered "I am coming"."""
    d = {"call": bool(call), "alarm": "none", "priority": None, "cause": None,
         "up_s": up_s, "coming": _coming(coming)}
    if top >= 0:
        kind, prio, cause = A.TABLE[top]
        d["alarm"] = A.KIND_NAMES[kind]
        d["priority"] = A.PRIORITY_NAMES[prio]
        d["cause"] = cause
    return json.dumps(d)


def heartbeat(up_s, keepalive_s):
    return json.dumps({"up_s": up_s, "keepalive_s": keepalive_s})
