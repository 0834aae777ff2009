# The carers' link settings in config.json (docs/carer.md): Wi-Fi and the
# home's MQTT broker. All optional: without mqtt_host there is no network at
# all. Validated here like every other setting (a bad one is bad_config);
# used only by firmware/carerlink/, never by the alarm logic.
KEYS = ("wifi_ssid", "wifi_password", "mqtt_host", "mqtt_port", "mqtt_user",
        "mqtt_password", "mqtt_tls", "mqtt_keepalive_s")
# never printed by `pumpmon config show` nor put on the bus
SECRETS = ("wifi_password", "mqtt_password")
MAX_TEXT = 64
# the broker publishes the monitor's `offline` after 1.5 keep-alive periods
# without a packet; the carer's side alarms after as long without a heartbeat
KEEPALIVE = (30, 5, 600)     # default, minimum, maximum (s)


def _text(values, key):
    v = values.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValueError("%s: %r is not text" % (key, v))
    if not v or len(v) > MAX_TEXT:
        raise ValueError("%s: must be 1..%d characters" % (key, MAX_TEXT))
    return v


def _int(values, key, default, lo, hi):
    v = values.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError("%s: %r is not a whole number" % (key, v))
    if v < lo or v > hi:
        raise ValueError("%s: %s is outside %s..%s" % (key, v, lo, hi))
    return v


def parse(values):
    """The link's settings as a dict, or None when mqtt_host is not set;
    ValueError naming the setting when one is wrong."""
    net = {}
    for k in ("wifi_ssid", "wifi_password", "mqtt_host", "mqtt_user", "mqtt_password"):
        net[k] = _text(values, k)
    tls = values.get("mqtt_tls", False)
    if not isinstance(tls, bool):
        raise ValueError("mqtt_tls: %r is not true or false" % (tls,))
    net["mqtt_tls"] = tls
    net["mqtt_port"] = _int(values, "mqtt_port", 8883 if tls else 1883, 1, 65535)
    net["mqtt_keepalive_s"] = _int(values, "mqtt_keepalive_s", KEEPALIVE[0], KEEPALIVE[1],
                                   KEEPALIVE[2])
    if net["wifi_password"] is not None and net["wifi_ssid"] is None:
        raise ValueError("wifi_password without wifi_ssid")
    if net["mqtt_password"] is not None and net["mqtt_user"] is None:
        raise ValueError("mqtt_password without mqtt_user")
    if net["mqtt_host"] is None:
        for k in KEYS:
            if k in values:
                raise ValueError("%s without mqtt_host (no broker, no network)" % k)
        return None
    return net


def masked(values):
    """A copy of config.json's settings with every secret hidden."""
    out = dict(values)
    for k in SECRETS:
        if k in out:
            out[k] = "********"
    return out
