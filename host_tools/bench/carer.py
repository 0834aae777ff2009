"""`make bench` section: the carers' link never stalls the alarm loop
(docs/carer.md). The firmware's Runner with the link runs on the MicroPython
unix port for a few seconds of real time against a real broker (amqtt) that
is up, stopped (nothing listening), slow (a relay that holds every packet
for 1.5 s) and unreachable (an address nothing answers), and without
network; the table gives the worst and the 99th-percentile loop pass."""
import json
import subprocess

from host_tools.carer.broker import Broker, free_port
from host_tools.carer.relay import Relay
from host_tools.paths import HOST_TOOLS, micropython, micropython_env

SECONDS = 6
BUDGET_MS = 50          # one 10 ms loop pass with its network step; the watchdog is 8 s


def _run(host, port, net=True, keepalive=5):
    args = {"seconds": SECONDS, "host": host, "port": port, "keepalive": keepalive,
            "net": net}
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
    broker = Broker().start()
    relay = Relay(broker.port, delay=1.5)
    try:
        cases = [("no network (no mqtt_host)", "127.0.0.1", broker.port, False),
                 ("broker up", "127.0.0.1", broker.port, True),
                 ("broker slow (1.5 s per packet)", "127.0.0.1", relay.port, True),
                 ("broker down (nothing listening)", "127.0.0.1", free_port(), True),
                 # TEST-NET-1 (RFC 5737): nothing answers; connect() hangs or fails
                 ("broker unreachable (192.0.2.1)", "192.0.2.1", 1883, True)]
        for what, host, port, net in cases:
            res = _run(host, port, net)
            note = "budget %d ms" % BUDGET_MS
            if net:
                note += "; link %s, %d published%s" % (
                    res["state"], res["published"],
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
