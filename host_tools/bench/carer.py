"""`make bench` section: the carers' link never stalls the alarm loop
(docs/carer.md). The firmware's Runner with the link runs on the MicroPython
unix port for a few seconds of real time against a real broker (amqtt) that
is up (plain, and TLS verified against its CA, with QoS 1 state), stopped
(nothing listening), slow (a relay that holds every packet for 1.5 s),
silent (accepts, never answers) and unreachable (a listener whose queue is
full: the SYN goes unanswered), and without network; all on 127.0.0.1
(issue 28: nothing leaves this machine). The table gives the worst and the
99th-percentile loop pass."""
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from host_tools.carer.broker import Broker, free_port
from host_tools.carer.relay import Backlog, Relay, Silent
from host_tools.paths import HOST_TOOLS, micropython, micropython_env

SECONDS = 6
BUDGET_MS = 50          # one 10 ms loop pass with its network step; the watchdog is 8 s


def _run(host, port, net=True, keepalive=5, ca=None):
    args = {"seconds": SECONDS, "host": host, "port": port, "keepalive": keepalive,
            "net": net, "ca": ca}
    r = subprocess.run([micropython(), "-X", "heapsize=4M",
                        str(HOST_TOOLS / "bench" / "carer_mp.py"), json.dumps(args)],
                       env=micropython_env(), capture_output=True, text=True,
                       timeout=SECONDS + 60)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        raise RuntimeError("carer bench failed: %s" % (r.stdout + r.stderr)[-500:])
    return json.loads(lines[-1])


def section_carer():
    rows = []
    broker = Broker(tls=True).start()
    relay = Relay(broker.port, delay=1.5)
    silent = Silent()
    backlog = Backlog()
    short = Path(tempfile.mkdtemp(prefix="ca"))     # a setting is at most 64 characters
    shutil.copy(broker.cert, short / "ca.crt")
    ca = str(short / "ca.crt")
    try:
        cases = [("no network (no mqtt_host)", broker.port, False, None),
                 ("broker up (QoS 1)", broker.port, True, None),
                 ("broker up, TLS verified (mqtt_ca), QoS 1", broker.tls_port, True, ca),
                 ("broker slow (1.5 s per packet)", relay.port, True, None),
                 ("broker down (nothing listening)", free_port(), True, None),
                 ("broker silent (accepts, never answers)", silent.port, True, None),
                 ("broker unreachable (SYN unanswered)", backlog.port, True, None)]
        for what, port, net, cafile in cases:
            res = _run("127.0.0.1", port, net, ca=cafile)
            note = "budget %d ms" % BUDGET_MS
            if net:
                note += "; link %s, %d published, %d acked%s" % (
                    res["state"], res["published"], res["acked"],
                    ", " + res["error"] if res["error"] else "")
            rows.append(("worst loop pass, %s" % what, "%.2f" % (res["worst_us"] / 1000.0),
                         "ms", note))
            rows.append(("  99th percentile", "%.2f" % (res["p99_us"] / 1000.0), "ms",
                         "%d passes in %d s" % (res["passes"], SECONDS)))
    finally:
        relay.close()
        broker.stop()
    return "Carers' link: the 10 ms loop with the network step (unix port, %d s each)" \
        % SECONDS, rows
