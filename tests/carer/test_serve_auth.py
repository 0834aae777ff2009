# `pumpmon carer --serve` (issue 28): the broker it starts admits only the
# user name and password it made up and showed once; an anonymous client and
# a wrong password are refused; the password is shown once, on the terminal
# only, and the carer's own subscription uses it.
import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host_tools.carer.broker import free_port, wait_port

from tests.support import ROOT
BIN = Path(sys.executable).parent


async def _try(url):
    from amqtt.client import MQTTClient
    c = MQTTClient(config={"auto_reconnect": False})
    try:
        await asyncio.wait_for(c.connect(url), 10)
    except Exception:  # noqa: BLE001 - refused, whatever amqtt calls it
        return False
    await c.disconnect()
    return True


@pytest.mark.req("R-076")
def test_serve_makes_a_password_shows_it_once_and_refuses_anonymous_clients():
    port = free_port()
    p = subprocess.Popen([str(BIN / "pumpmon"), "carer", "--serve", "--broker-port", str(port),
                          "--no-notify", "--for", "60", "--monitor", "bed4"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        wait_port(port, 30, p)
        err = ""
        end = time.monotonic() + 20
        while "password" not in err and time.monotonic() < end:
            err += p.stderr.readline()
        m = re.search(r"user (\S+)\s+password (\S+)", err)
        assert m, err
        user, password = m.groups()
        assert len(password) >= 16
        assert asyncio.run(_try("mqtt://127.0.0.1:%d/" % port)) is False
        assert asyncio.run(_try("mqtt://%s:wrong@127.0.0.1:%d/" % (user, port))) is False
        assert asyncio.run(_try("mqtt://%s:%s@127.0.0.1:%d/" % (user, password, port)))
    finally:
        p.terminate()
        out, rest = p.communicate(timeout=30)
    # shown once, and never on stdout (where the carer's lines go, maybe to a file)
    assert (err + rest).count(password) == 1 and password not in out
    # the carer's own subscription got in (no "broker:" retry line)
    assert "broker: " not in out, out
