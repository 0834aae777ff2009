"""`pumpmon carer`: the carer's side of the monitors' MQTT link, for homes
without Home Assistant (docs/carer.md). Subscribes to one or more monitors on
the home's broker, shows each one's state live, rings on a high-priority
alarm until it ends at the bedside, alarms when a monitor goes offline or
its heartbeat stops, escalates an alarm unacknowledged for 10 minutes.
`--serve` starts a broker on this machine first (amqtt, or mosquitto when
installed and asked for with --engine mosquitto) that admits only a user
name and password made up now and shown once (anonymous clients are
refused). `--coming ID` answers "I am coming" to a monitor and ends;
`--contact 2` watches as the second contact (rung only when a monitor
escalated and nobody answered).
"""
import argparse
import secrets
import sys

from host_tools.exitcodes import OK, PROBLEM


class _OldPort(argparse.Action):
    """`carer --port N`: still the broker's port, with a one-line notice."""

    def __call__(self, parser, namespace, values, option_string=None):
        print("pumpmon carer: --port is deprecated here: say --broker-port %s (--port "
              "names a board in the other commands)" % values, file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_arguments(p):
    p.add_argument("--monitor", action="append", default=[], metavar="ID",
                   help="a monitor's id (its board_id; repeat for several; default: all)")
    p.add_argument("--host", default="127.0.0.1", help="the broker (default 127.0.0.1)")
    p.add_argument("--broker-port", dest="port", type=int, default=None, metavar="N",
                   help="the broker's port (default 1883, 8883 with --tls)")
    # the old spelling: --port means a board in every other command
    p.add_argument("--port", dest="port", type=int, action=_OldPort, help=argparse.SUPPRESS)
    p.add_argument("--user", help="MQTT user name (the password from $PUMPMON_MQTT_PASSWORD)")
    p.add_argument("--tls", action="store_true", help="connect with TLS")
    p.add_argument("--cafile", help="the broker's CA certificate (TLS; default: not verified)")
    p.add_argument("--serve", action="store_true",
                   help="start a broker on this machine first (for the demo)")
    p.add_argument("--engine", choices=("amqtt", "mosquitto", "auto"), default="amqtt",
                   help="the broker --serve starts (default amqtt)")
    p.add_argument("--for", dest="duration", type=float, metavar="S",
                   help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--json", action="store_true", help="JSON Lines instead of plain lines")
    p.add_argument("--contact", type=int, default=1, choices=range(1, 10), metavar="N",
                   help="who watches: 1 the carer (default), 2 the second contact (rung only "
                   "when an escalated alarm went unanswered)")
    p.add_argument("--coming", metavar="ID", help="answer \"I am coming\" to monitor ID "
                   "(as --contact N) and end; the bedside keeps sounding until someone "
                   "is there")
    p.add_argument("--no-notify", action="store_true", help="no desktop notifications")


SERVE_USER = "pumpmon"


def run(args):
    from host_tools.carer import app
    from host_tools.carer.broker import Broker
    port = args.port or (8883 if args.tls else 1883)
    user, password = args.user, app.password_from_env()
    if args.coming:
        from host_tools.carer.client import send_coming
        try:
            send_coming(args.host, port, args.coming, args.contact, user, password, args.tls,
                        args.cafile)
        except Exception as e:  # noqa: BLE001 - the broker's or the network's
            print("pumpmon carer: the answer did not reach the broker: %s: %s"
                  % (type(e).__name__, e), file=sys.stderr)
            return PROBLEM
        print("pumpmon carer: told %s that contact %d is coming (the bedside sounds until "
              "someone is there)" % (args.coming, args.contact))
        return OK
    broker = None
    from host_tools.extras import missing
    import shutil
    amqtt = args.engine == "amqtt" or (args.engine == "auto" and not shutil.which("mosquitto"))
    if args.serve and amqtt and missing("carer"):
        print("pumpmon carer: %s" % missing("carer"), file=sys.stderr)
        return PROBLEM
    if args.serve:
        # a SIGTERM ends the watch like Ctrl-C, so the broker is stopped too
        import signal

        def _term(signum, frame):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, _term)
        # never an open broker: a user and password made up now, shown once
        user, password = SERVE_USER, secrets.token_urlsafe(12)
        try:
            broker = Broker(port=port, engine=args.engine, users={user: password}).start()
        except (RuntimeError, OSError) as e:
            print("pumpmon carer: cannot start the broker: %s" % e, file=sys.stderr)
            return PROBLEM
        print("pumpmon carer: broker (%s) on 127.0.0.1:%d; anonymous clients are refused.\n"
              "  user %s  password %s\n"
              "  (shown once, not stored: give it to the monitors with `pumpmon config set "
              "mqtt_user=%s mqtt_password=...`)" % (broker.engine, broker.port, user,
                                                    password, user), file=sys.stderr)
    try:
        return app.run(args.host, port, args.monitor, user, password,
                       args.tls, args.cafile, args.duration, args.json,
                       notify=not args.no_notify, contact=args.contact)
    finally:
        if broker is not None:
            broker.stop()
