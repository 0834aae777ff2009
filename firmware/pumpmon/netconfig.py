# The carers' link settings in config.json (docs/carer.md): Wi-Fi and the
# home's MQTT broker. All optional: without mqtt_host there is no network at
# all. Validated here like every other setting (a bad one is bad_config);
# used only by firmware/carerlink/, never by the alarm logic.
KEYS = ("wifi_ssid", "wifi_password", "mqtt_host", "mqtt_port", "mqtt_user",
        "mqtt_password", "mqtt_tls", "mqtt_keepalive_s", "mqtt_ca", "mqtt_fingerprint")
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


def _ipv4(host):
    """mqtt_host must be an IPv4 address: a name would need a DNS look-up,
    which blocks on a real board (past the watchdog when the name does not
    resolve); an address needs none (docs/carer.md)."""
    parts = host.split(".")
    ok = len(parts) == 4
    for p in parts:
        if not ok:
            break
        ok = 0 < len(p) <= 3 and p.isdigit() and int(p) <= 255
    if not ok:
        raise ValueError("mqtt_host: %r is not an IPv4 address (a.b.c.d): the monitor "
                         "looks up no names (docs/carer.md)" % host)


def _fingerprint(values):
    """mqtt_fingerprint: the SHA-256 of the broker's certificate, 64 hex
    digits (colons allowed); returned as 32 bytes."""
    v = values.get("mqtt_fingerprint")
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValueError("mqtt_fingerprint: %r is not text" % (v,))
    h = v.replace(":", "").lower()
    if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise ValueError("mqtt_fingerprint: must be the certificate's SHA-256 as 64 hex "
                         "digits")
    return bytes(int(h[i:i + 2], 16) for i in range(0, 64, 2))


def parse(values):
    """The link's settings as a dict, or None when mqtt_host is not set;
    ValueError naming the setting when one is wrong."""
    net = {}
    for k in ("wifi_ssid", "wifi_password", "mqtt_host", "mqtt_user", "mqtt_password",
              "mqtt_ca"):
        net[k] = _text(values, k)
    net["mqtt_fingerprint"] = _fingerprint(values)
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
    if tls and net["mqtt_ca"] is None and net["mqtt_fingerprint"] is None:
        raise ValueError("mqtt_tls needs mqtt_ca (the CA certificate's file on the board) "
                         "or mqtt_fingerprint (the broker certificate's SHA-256): the "
                         "broker is always verified")
    if not tls:
        for k in ("mqtt_ca", "mqtt_fingerprint"):
            if net[k] is not None:
                raise ValueError("%s without mqtt_tls" % k)
    if net["mqtt_host"] is not None:
        _ipv4(net["mqtt_host"])
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
