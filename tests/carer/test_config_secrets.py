# `pumpmon config show` never prints a secret of the carers' link (the Wi-Fi
# and MQTT passwords), in text or JSON; `config set` refuses a bad network
# setting before it connects. The board's answer comes from a stand-in
# session (the channel itself is tested in tests/host/test_flash.py).
import json

import pytest

from host_tools.cli import main

CONFIG = {"rate_ul_h": 30, "mqtt_host": "192.168.1.10", "mqtt_user": "bedside",
          "mqtt_password": "hunter2-mqtt", "wifi_ssid": "home", "wifi_password": "hunter2-wifi"}


class Session:
    def __init__(self, port=None, raw=False):
        self.port = port or "fake"

    def fetch(self, what):
        return json.dumps(CONFIG).encode()

    def close(self):
        pass


@pytest.mark.req("R-047")
def test_config_show_masks_the_passwords(mocker, capsys):
    mocker.patch("host_tools.commands.config.BoardSession", Session)
    for extra in ([], ["--json"]):
        assert main(["config", "show", "--port", "x"] + extra) == 0
        out = capsys.readouterr().out
        assert "hunter2" not in out and "bedside" in out and "192.168.1.10" in out
        assert out.count("********") == 2


@pytest.mark.req("R-042")
def test_config_set_refuses_a_bad_network_setting_before_connecting(mocker, capsys):
    s = mocker.patch("host_tools.commands.config.BoardSession")
    assert main(["config", "set", "--port", "x", "mqtt_portz=1"]) == 2
    assert "unknown setting 'mqtt_portz'" in capsys.readouterr().err
    s.assert_not_called()
