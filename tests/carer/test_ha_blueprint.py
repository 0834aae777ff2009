# The Home Assistant blueprint (host_tools/carer/ha/pumpmon_notify.yaml,
# issue 28) against what the monitor announces (firmware/carerlink/topics.py):
# it selects the device the discovery messages describe, it knows every
# alarm entity by its discovery name and no other, it reads only attributes
# the state message carries, it notifies on every alarm coming on and on the
# monitor going offline (the Alarm sensor unavailable: the discovery's
# availability topic), and its templates are well formed.
import json

import pytest
import yaml

from carerlink import topics as T

from tests.support import ROOT
BLUEPRINT = ROOT / "host_tools" / "carer" / "ha" / "pumpmon_notify.yaml"


class _Input(str):
    pass


def _load():
    loader = type("L", (yaml.SafeLoader,), {})
    loader.add_constructor("!input", lambda ld, node: _Input(ld.construct_scalar(node)))
    return yaml.load(BLUEPRINT.read_text(), Loader=loader)


def _discovery():
    return [(t, json.loads(p)) for t, p in T.discovery("bed4")]


@pytest.mark.req("R-077")
def test_blueprint_selects_the_discovered_device_and_its_inputs_exist():
    bp = _load()
    meta = bp["blueprint"]
    assert meta["domain"] == "automation"
    dev = _discovery()[0][1]["device"]
    (flt,) = meta["input"]["monitor"]["selector"]["device"]["filter"]
    assert flt == {"integration": "mqtt", "manufacturer": dev["manufacturer"],
                   "model": dev["model"]}
    for v in bp["variables"].values():
        if isinstance(v, _Input):
            assert v in meta["input"], v


@pytest.mark.req("R-077")
def test_blueprint_knows_every_alarm_entity_by_its_discovery_name():
    bp = _load()
    disc = _discovery()
    binary = [c["name"] for t, c in disc if "/binary_sensor/" in t]
    sensors = [c["name"] for t, c in disc if "/sensor/" in t]
    assert sorted(bp["variables"]["alarm_words"]) == sorted(binary)
    assert bp["variables"]["status_entity"] in sensors
    # offline: the discovery makes every entity unavailable with the status topic
    for _t, c in disc:
        assert c["availability_topic"] == T.topic("bed4", "status")
        assert c["payload_not_available"] == T.OFFLINE
    # a name must not end another one (the words are matched by ending)
    for a in binary:
        assert [b for b in binary if b.endswith(a)] == [a]


@pytest.mark.req("R-077")
def test_blueprint_reads_only_attributes_the_monitor_sends():
    from pumpmon import alarms as A
    text = BLUEPRINT.read_text()
    shown = 1 << A.NO_FLOW
    st = json.loads(T.state(shown, 0, 0, [0] * A.N_CONDITIONS, 5, 0,
                            bytearray(A.N_CONDITIONS)))
    attrs = set(st["alarms"]["no_flow"])          # json_attributes_template's dict
    for used in ("priority", "cause"):
        assert "attributes.%s" % used in text and used in attrs
    assert st["alarms"]["no_flow"]["priority"] in ("high", "medium", "low")


def _balanced(t):
    """Jinja's delimiters paired and its blocks closed (no Jinja here: a
    check of the structure, not of Home Assistant's functions)."""
    import re
    if t.count("{{") != t.count("}}") or t.count("{%") != t.count("%}"):
        return False
    tags = re.findall(r"{%-?\s*(\w+)", t)
    return tags.count("if") == tags.count("endif") and tags.count("for") == tags.count("endfor")


@pytest.mark.req("R-077")
def test_blueprint_triggers_on_alarms_and_offline_and_its_templates_are_closed():
    bp = _load()
    cond = bp["conditions"][0]["value_template"]
    assert "binary_sensor." in cond and "'on'" in cond and "unavailable" in cond
    assert bp["triggers"][0]["event_type"] == "state_changed"
    seen = 0

    def walk(x):
        nonlocal seen
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str) and "{" in x:
            assert _balanced(x), x
            seen += 1
    walk(bp)
    assert seen >= 8
