# The Home Assistant discovery messages (firmware/carerlink/topics.py) against
# Home Assistant's MQTT discovery schema for the components used, written here
# as data: the field names and types the integration pages document
# (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery,
# https://www.home-assistant.io/integrations/binary_sensor.mqtt/,
# https://www.home-assistant.io/integrations/sensor.mqtt/). Only the subset a
# monitor may send; an unknown field or a wrong type fails.
import hashlib
import json
import re

import pytest
from carerlink import topics as T
from pumpmon import alarms as A
from pumpmon import netconfig

from tests.support import ROOT

STR, INT, BOOL, MAP, LIST_OR_STR, TEMPLATE = "string", "integer", "boolean", "map", \
    "list|string", "template"
COMMON = {  # every MQTT entity
    "name": STR, "unique_id": STR, "icon": STR, "qos": INT,
    "availability_topic": STR, "payload_available": STR, "payload_not_available": STR,
    "availability_template": TEMPLATE, "json_attributes_topic": STR,
    "json_attributes_template": TEMPLATE, "device": MAP, "enabled_by_default": BOOL,
    "entity_category": STR, "encoding": STR, "default_entity_id": STR,
}
SCHEMA = {
    "binary_sensor": dict(COMMON, state_topic=STR, value_template=TEMPLATE, payload_on=STR,
                          payload_off=STR, device_class=STR, expire_after=INT,
                          force_update=BOOL, off_delay=INT),
    "sensor": dict(COMMON, state_topic=STR, value_template=TEMPLATE, device_class=STR,
                   unit_of_measurement=STR, state_class=STR, expire_after=INT,
                   force_update=BOOL),
}
REQUIRED = {"binary_sensor": ("state_topic",), "sensor": ("state_topic",)}
DEVICE = {"identifiers": LIST_OR_STR, "name": STR, "manufacturer": STR, "model": STR,
          "sw_version": STR, "hw_version": STR, "configuration_url": STR,
          "suggested_area": STR, "serial_number": STR, "connections": "list"}
# binary_sensor device classes (the integration's list; "problem": on = problem)
BINARY_CLASSES = ("battery", "battery_charging", "carbon_monoxide", "cold", "connectivity",
                  "door", "garage_door", "gas", "heat", "light", "lock", "moisture",
                  "motion", "moving", "occupancy", "opening", "plug", "power", "presence",
                  "problem", "running", "safety", "smoke", "sound", "tamper", "update",
                  "vibration", "window")
# <discovery_prefix>/<component>/[<node_id>/]<object_id>/config
TOPIC = re.compile(r"^homeassistant/(binary_sensor|sensor)/(?:([A-Za-z0-9_-]+)/)?"
                   r"([A-Za-z0-9_-]+)/config$")


def _type_ok(kind, v):
    if kind in (STR, TEMPLATE):
        return isinstance(v, str) and v != ""
    if kind == INT:
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == BOOL:
        return isinstance(v, bool)
    if kind == MAP:
        return isinstance(v, dict)
    if kind == "list":
        return isinstance(v, list)
    return isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))


def validate(topic, payload):
    m = TOPIC.match(topic)
    assert m, topic
    comp = m.group(1)
    cfg = json.loads(payload)
    schema = SCHEMA[comp]
    for k in REQUIRED[comp]:
        assert k in cfg, (topic, k)
    for k, v in cfg.items():
        assert k in schema, (topic, "unknown field", k)
        assert _type_ok(schema[k], v), (topic, k, v)
    for k, v in cfg.get("device", {}).items():
        assert k in DEVICE and _type_ok(DEVICE[k], v), (topic, "device", k, v)
    if "qos" in cfg:
        assert cfg["qos"] in (0, 1, 2)
    if comp == "binary_sensor" and "device_class" in cfg:
        assert cfg["device_class"] in BINARY_CLASSES
    for k in ("value_template", "json_attributes_template"):
        if k in cfg:
            assert cfg[k].count("{{") == cfg[k].count("}}") == 1, cfg[k]
    return comp, cfg


@pytest.mark.req("R-045")
def test_discovery_messages_follow_home_assistant_schema():
    msgs = T.discovery("bed4", "1.0")
    comps = [validate(t, p) for t, p in msgs]
    # one entity per alarm kind (every name of the alarm table), and the top alarm
    kinds = sorted(set(A.KIND_NAMES))
    objs = sorted(t.split("/")[3] for t, _ in msgs if "/binary_sensor/" in t)
    assert objs == kinds
    assert [c for c, _ in comps].count("sensor") == 1
    uids = [cfg["unique_id"] for _, cfg in comps]
    assert len(set(uids)) == len(uids)
    for _, cfg in comps:
        assert cfg["state_topic"] == "pumpmon/bed4/state"
        assert cfg["availability_topic"] == "pumpmon/bed4/status"
        assert (cfg["payload_available"], cfg["payload_not_available"]) == ("online", "offline")


@pytest.mark.req("R-045")
def test_a_field_outside_the_schema_is_refused():
    t, p = T.discovery("x")[0]
    cfg = json.loads(p)
    cfg["state_topik"] = "typo"
    with pytest.raises(AssertionError):
        validate(t, json.dumps(cfg))
    cfg = json.loads(p)
    cfg["qos"] = "0"
    with pytest.raises(AssertionError):
        validate(t, json.dumps(cfg))


def _render(template, value_json):
    """The two template forms the discovery messages use, evaluated the way
    Home Assistant's Jinja would (value_json.a.b, 'ON' if ... else 'OFF')."""
    body = template.strip()[2:-2].strip()
    m = re.fullmatch(r"'ON' if value_json\.alarms\.(\w+)\.on else 'OFF'", body)
    if m:
        return "ON" if value_json["alarms"][m.group(1)]["on"] else "OFF"
    m = re.fullmatch(r"value_json\.alarms\.(\w+) \| tojson", body)
    if m:
        return value_json["alarms"][m.group(1)]
    m = re.fullmatch(r"value_json\.(\w+)", body)
    assert m, body
    return value_json[m.group(1)]


@pytest.mark.req("R-045")
def test_state_message_drives_each_entity():
    since = [0] * A.N_CONDITIONS
    since[A.NO_FLOW] = 77
    detail = bytearray(A.N_CONDITIONS)
    detail[A.NO_FLOW] = A.D_SEQUENTIAL
    shown = (1 << A.NO_FLOW) | (1 << A.LOW_VOLUME) | (1 << A.CARER_LINK)
    st = json.loads(T.state(shown, 1 << A.LOW_VOLUME, 0, since, 90, 1700000000, detail))
    assert (st["alarm"], st["priority"], st["cause"], st["detail"]) == (
        "no_flow", "high", "low_flow", "sequential")
    assert st["since_up_s"] == 77 and st["time"] == 1700000000 and st["up_s"] == 90
    states = {}
    for t, p in T.discovery("bed4"):
        cfg = json.loads(p)
        if "/binary_sensor/" in t:
            states[t.split("/")[3]] = _render(cfg["value_template"], st)
    assert states == {"no_flow": "ON", "malfunction": "OFF", "low_reservoir": "ON",
                      "under_delivery": "OFF", "monitoring_interrupted": "ON",
                      "pump_stopped": "OFF", "over_delivery": "OFF"}
    assert st["alarms"]["low_reservoir"]["acked"] is True
    assert st["alarms"]["monitoring_interrupted"]["cause"] == "carer_link"
    assert st["escalated"] is False
    none = json.loads(T.state(0, 0, 0, since, 5, 0, detail))
    assert none["alarm"] == "none" and none["time"] is None


@pytest.mark.req("R-058")
def test_over_delivery_is_its_own_entity_and_escalation_is_sent():
    # issue 22: an overdose is not a malfunction, and the bedside's escalation
    # reaches Home Assistant and the carers
    since = [0] * A.N_CONDITIONS
    since[A.OVER_DELIVERY] = 40
    detail = bytearray(A.N_CONDITIONS)
    st = json.loads(T.state(1 << A.OVER_DELIVERY, 0, 0, since, 700, 0, detail, 1))
    assert (st["alarm"], st["priority"], st["cause"]) == ("over_delivery", "high",
                                                          "over_delivery")
    assert st["escalated"] is True
    states = {}
    for t, p in T.discovery("bed4"):
        cfg = json.loads(p)
        if "/binary_sensor/" in t:
            states[t.split("/")[3]] = _render(cfg["value_template"], st)
        else:
            assert "escalated" in cfg["json_attributes_template"]
    assert states["over_delivery"] == "ON" and states["malfunction"] == "OFF"


@pytest.mark.req("R-048")
def test_umqtt_is_the_pinned_release():
    pin = (ROOT / "requirements-firmware.txt").read_text()
    want = re.search(r"firmware/umqtt/simple.py sha256:([0-9a-f]{64})", pin).group(1)
    assert "micropython-umqtt.simple==1.3.4" in pin
    got = hashlib.sha256((ROOT / "firmware" / "umqtt" / "simple.py").read_bytes()).hexdigest()
    assert got == want


@pytest.mark.req("R-047")
def test_secrets_are_masked():
    v = {"mqtt_host": "h", "mqtt_user": "u", "mqtt_password": "pw", "wifi_ssid": "s",
         "wifi_password": "wpw", "rate_ul_h": 30}
    m = netconfig.masked(v)
    assert "pw" not in json.dumps(m) and m["mqtt_user"] == "u" and v["mqtt_password"] == "pw"
