# The carers' link's settings (firmware/pumpmon/netconfig.py, docs/carer.md):
# optional, and validated before the monitor starts (an IPv4 broker address
# only, TLS always verified). Runs on CPython and the MicroPython ports.
from pumpmon.config import Config, ConfigError


def _raises(values):
    try:
        Config(values)
    except ConfigError as e:
        return str(e)
    return None


def test_network_settings_are_optional_and_validated():
    """req: R-046, R-078"""
    assert Config({"rate_ul_h": 30}).net is None
    c = Config({"rate_ul_h": 30, "mqtt_host": "192.168.1.10"})
    assert c.net["mqtt_port"] == 1883 and c.net["mqtt_tls"] is False
    assert c.net["mqtt_keepalive_s"] == 30 and c.net["mqtt_user"] is None
    c = Config({"rate_ul_h": 30, "mqtt_host": "10.1.2.3", "mqtt_tls": True, "mqtt_user": "u",
                "mqtt_password": "p", "wifi_ssid": "home", "wifi_password": "w",
                "mqtt_fingerprint": "AB:" * 31 + "CD"})
    assert c.net["mqtt_port"] == 8883 and c.net["mqtt_password"] == "p"
    assert c.net["mqtt_fingerprint"] == bytes([0xAB] * 31 + [0xCD])
    assert Config({"rate_ul_h": 30, "mqtt_host": "10.1.2.3", "mqtt_tls": True,
                   "mqtt_ca": "ca.der"}).net["mqtt_ca"] == "ca.der"
    # issue 28: no name look-up on the board (it would block the loop): an
    # IPv4 address only, and a name is refused with the reason
    for name in ("broker.lan", "b", "localhost", "1.2.3", "1.2.3.256", "1.2.3.4.5", "::1"):
        assert "not an IPv4 address" in _raises({"rate_ul_h": 30, "mqtt_host": name}), name
    # TLS always verifies the broker: a CA or a fingerprint, never neither
    assert "always verified" in _raises({"rate_ul_h": 30, "mqtt_host": "10.1.2.3",
                                         "mqtt_tls": True})
    assert "without mqtt_tls" in _raises({"rate_ul_h": 30, "mqtt_host": "10.1.2.3",
                                          "mqtt_ca": "ca.der"})
    for bad in ("ab" * 31, "zz" * 32, "ab" * 33):
        assert "64 hex" in _raises({"rate_ul_h": 30, "mqtt_host": "10.1.2.3",
                                    "mqtt_tls": True, "mqtt_fingerprint": bad}), bad
    assert "mqtt_port" in _raises({"rate_ul_h": 30, "mqtt_host": "1.2.3.4", "mqtt_port": 0})
    assert "mqtt_port" in _raises({"rate_ul_h": 30, "mqtt_host": "1.2.3.4", "mqtt_port": "x"})
    assert "mqtt_tls" in _raises({"rate_ul_h": 30, "mqtt_host": "1.2.3.4", "mqtt_tls": 1})
    assert "without mqtt_user" in _raises({"rate_ul_h": 30, "mqtt_host": "1.2.3.4",
                                            "mqtt_password": "p"})
    assert "without mqtt_host" in _raises({"rate_ul_h": 30, "wifi_ssid": "s"})
    assert "mqtt_host" in _raises({"rate_ul_h": 30, "mqtt_host": ""})
