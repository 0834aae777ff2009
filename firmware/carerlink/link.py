# The carers' link: publishes the monitor's alarms on the home's MQTT broker
# (docs/carer.md) so a carer in another room hears them (pumpmon carer, Home
# Assistant). Outside the pure core and the tick path: the runner calls poll()
# once per loop pass after the tick, the sound, the light and the watchdog,
# and every poll does one small non-blocking step (wire.py), so a broker that
# is down, slow or unreachable never stalls the alarm loop (`make bench`).
#
# A link that stays down longer than a keep-alive period (or never comes up)
# is the low-priority technical carer_link indication at the bedside
# (alarms.CARER_LINK) and is logged (eventlog.CARER_LINK); it is retried with
# back-off. A broker that refuses the user name or password is logged with
# its reason, never a crash; with mqtt_tls on, nothing goes out in clear text.
from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon.clock import ticks_add, ticks_diff

from carerlink import packets as P
from carerlink import topics as T
from carerlink.channel import Channel
from carerlink.wire import LinkError, Wire, ca_der

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# states (the CARER_LINK record's detail: index in STATES)
OFF = const(0)        # waiting: the network, or the back-off after a failure
NET = const(1)        # the board's network coming up (Wi-Fi)
TCP = const(2)        # TCP connection being made
MQTT = const(3)       # CONNECT sent, waiting for the broker's CONNACK
UP = const(4)         # connected: publishing
TLS = const(5)        # TLS handshake, the broker's certificate checked before CONNECT
STATES = ("down", "network", "connecting", "mqtt_connect", "up", "tls")
# the broker's CONNACK return codes (MQTT 3.1.1): why it refused
REFUSED = ("", "unacceptable protocol version", "client id rejected", "server unavailable",
           "bad user name or password", "not authorised")
BACKOFF_MIN_MS = const(1000)
BACKOFF_MAX_MS = const(60000)
# the back-off starts again at BACKOFF_MIN_MS only after a connection that
# stayed up this long with the broker acknowledging our messages: a broker
# that accepts and drops at once (a restart loop, weak Wi-Fi, two monitors
# with one board_id), or that takes the connection and never acknowledges,
# is retried ever more slowly
STABLE_MS = const(60000)
CONNECT_MS = const(10000)      # TCP, TLS and CONNACK together must take less


class CarerLink:
    def __init__(self, runner, net, board_id="", client_id=None):
        """runner: the Runner (its board, monitor, clock and log); net: the
        validated settings (netconfig.parse). Wired in by main.py
        (Runner.attach_carer: its event sink and its poll)."""
        self.r = runner
        self.net = net
        self.nid = T.node_id(board_id)
        self.keep_ms = net["mqtt_keepalive_s"] * 1000
        self.wire = Wire()
        self.client = None
        self.state = OFF
        now = runner.board.ticks_ms()
        self._t = now                  # when the current state began
        self._retry = now              # OFF: next attempt at
        self._backoff = BACKOFF_MIN_MS
        self._up_at = now              # when the link last came up
        self._born = now
        self._ever_up = 0              # the link has been up since start-up
        self._quiet = None             # a failure in the start-up grace, said at its end
        self._down_since = now         # for the bedside indication
        self._lost = 0                 # the indication is on
        self._addr = None
        self._rx = now
        self._rxbuf = b""
        self.since = [0] * A.N_CONDITIONS
        self.detail = bytearray(A.N_CONDITIONS)
        self.last_error = ""
        self.ch = Channel(runner, self.nid, self.keep_ms)
        self._client_id = client_id or ("pumpmon-" + self.nid)
        self._ca = None
        if net["mqtt_tls"] and net.get("mqtt_ca"):
            # read once at start-up: the CA certificate's file on the board
            try:
                with open(net["mqtt_ca"], "rb") as f:
                    self._ca = ca_der(f.read())
            except OSError:
                self._ca = b""         # said at the first connection (no fallback)

    @property
    def published(self):
        return self.ch.published

    @property
    def coming(self):
        """(contact, board uptime s) of the carer who answered "I am coming"
        to the alarm shown now, or None: for the bedside display."""
        return self.ch.coming

    # ---- the runner's side ---------------------------------------------------
    def on_event(self, code, cond, detail, runner):
        """An event sink: note what changed; published by the next poll."""
        if code == 1 and cond >= 0:          # manager.EV_RAISED
            self.since[cond] = runner.up_s
            self.detail[cond] = detail
        self.ch.dirty = 1

    def poll(self):
        """One small non-blocking step; never raises."""
        now = self.r.board.ticks_ms()
        try:
            self._step(now)
        except LinkError as e:
            self._fail(now, str(e), e.code)
        except Exception as e:  # noqa: BLE001 - a bug here must not stop monitoring
            self._fail(now, "%s: %s" % (type(e).__name__, e), 0)
        self._indicate(now)

    # ---- the state machine -----------------------------------------------------
    def _step(self, now):
        st = self.state
        if st == OFF:
            if ticks_diff(now, self._retry) >= 0:
                self._to(NET, now)
        elif st == NET:
            if self._net_up():
                self._connect(now)
        elif st == TCP:
            if self.wire.connected():
                if self.net["mqtt_tls"]:
                    self.wire.start_tls(self.net["mqtt_host"], self._ca,
                                        self.net["mqtt_fingerprint"])
                    self._to(TLS, now)
                else:
                    self._send_connect(now)
            elif ticks_diff(now, self._t) > CONNECT_MS:
                raise LinkError("connect timed out", 110)
        elif st == TLS:
            # nothing is sent (no user, no password) before the broker's
            # certificate is verified
            if self.wire.handshake():
                self._send_connect(now)
            elif ticks_diff(now, self._t) > CONNECT_MS:
                raise LinkError("TLS handshake timed out", 110)
        elif st == MQTT:
            self.wire.flush()
            self._receive(now)
            if self.state == MQTT and ticks_diff(now, self._t) > CONNECT_MS:
                raise LinkError("no answer from the broker (CONNACK)", 110)
        else:
            self._up(now)

    def _to(self, st, now):
        self.state = st
        self._t = now

    def _net_up(self):
        # the board brings its network up without blocking (boards/esp32:
        # Wi-Fi); a board without net_up (the unix port) is on the network
        up = getattr(self.r.board, "net_up", None)
        if up is None:
            return True
        return up(self.net["wifi_ssid"], self.net["wifi_password"])

    def _connect(self, now):
        if self._addr is None:
            # mqtt_host is an IPv4 address (netconfig: names are refused), so
            # this returns at once: no DNS query, nothing that waits
            import socket
            self._addr = socket.getaddrinfo(self.net["mqtt_host"],
                                            self.net["mqtt_port"])[0][-1]
        self.wire.open(self._addr)
        self._to(TCP, now)

    def _send_connect(self, now):
        w = self.wire
        from umqtt import simple
        c = simple.MQTTClient(self._client_id, "", self.net["mqtt_port"],
                              self.net["mqtt_user"], self.net["mqtt_password"],
                              self.net["mqtt_keepalive_s"])
        c.set_last_will(T.topic(self.nid, "status"), T.OFFLINE, retain=True, qos=1)
        # umqtt.simple.connect() opens its socket through its module's
        # `socket`: give it this wire, so CONNECT lands in the buffer; the
        # broker's real CONNACK is read without blocking (_receive)
        real = simple.socket
        simple.socket = _Shim(w)
        w.fake_connack = 1
        try:
            c.connect()
        finally:
            simple.socket = real
            w.fake_connack = 0
        self.client = c
        self._rxbuf = b""
        self._to(MQTT, now)

    def _receive(self, now):
        data = self.wire.receive()
        if not data:
            return
        self._rx = now
        buf = self._rxbuf + data
        while len(buf) >= 2:
            got = P.split(buf)
            if got is None:
                break
            op, i, end = got
            if op == P.CONNACK:                # flags, return code
                rc = buf[i + 1] if end - i >= 2 else 255
                if rc:
                    why = REFUSED[rc] if rc < len(REFUSED) else "code %d" % rc
                    raise LinkError("the broker refused the connection: " + why, 1000 + rc)
                self._online(now)
            elif self.state == UP:
                # PUBACK, SUBACK, a carer's PUBLISH; PINGRESP and the rest dropped
                self.ch.packet(buf, i, end, self.wire, now)
            buf = buf[end:]
        if len(buf) > 4096:
            raise LinkError("the broker sends more than a monitor reads", 71)
        self._rxbuf = buf

    def _online(self, now):
        self._to(UP, now)
        self._ever_up = 1
        self._quiet = None
        self._up_at = now
        self.last_error = ""
        self.ch.online(now, self.wire)
        self._log(UP, 0, 0)
        self.client.ping()

    def _up(self, now):
        w = self.wire
        self._receive(now)
        if self.state != UP:
            return
        if ticks_diff(now, self._rx) > self.keep_ms:
            # a broker that stopped reading or answering (our pings go every
            # keep-alive / 2): drop the connection and try again
            raise LinkError("no answer from the broker for a keep-alive period", 110)
        if not w.flush():
            return
        self.ch.step(now, w, self.client)
        w.flush()

    def _fail(self, now, what, code):
        was = self.state
        self.wire.close()
        self.client = None
        if was == UP and self.ch.confirmed:  # (unanswered: down since it last answered)
            self._down_since = now
            if ticks_diff(now, self._up_at) >= STABLE_MS:
                self._backoff = BACKOFF_MIN_MS     # it was a good connection
        wait = self._backoff
        if code > 1000:                      # refused: wrong user or password
            wait = BACKOFF_MAX_MS
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_MS)
        self._retry = ticks_add(now, wait)
        self._to(OFF, now)
        if what != self.last_error:          # the same failure again: logged once
            self.last_error = what
            if not self._ever_up and code < 1000 and \
                    ticks_diff(now, self._born) <= self.keep_ms:
                # the start-up grace: a broker (or Wi-Fi) that is not up yet
                # when the monitor starts is retried quietly for one
                # keep-alive period; never a refusal or an untrusted broker,
                # never a link that was up
                self._quiet = (what, was, code, wait)
            else:
                self._say(what, was, code, wait)

    def _say(self, what, was, code, wait):
        print("pumpmon: carer link:", what, "(retry in %d s)" % (wait // 1000))
        self._log(was, code, wait // 1000)

    def _indicate(self, now):
        """The bedside indication: down for longer than a keep-alive period.
        Up means connected and the broker acknowledging (Channel.confirmed):
        a connection whose messages go unanswered tells carers nothing."""
        if self.state == UP and self.ch.confirmed:
            self._down_since = now
            lost = 0
        else:
            lost = 1 if ticks_diff(now, self._down_since) > self.keep_ms else 0
        if lost != self._lost:
            self._lost = lost
            self.r.monitor.link_lost(lost)
            if lost:
                if self._quiet is not None:      # the grace is over: say why
                    self._say(*self._quiet)
                    self._quiet = None
                self._log(self.state, 0, 0)

    def _log(self, state, code, retry_s):
        try:
            self.r.write(L.CARER_LINK, L.NO_COND, state, code, retry_s)
        except Exception:
            pass


class _Shim:
    """What umqtt.simple's connect() takes for its socket module."""

    def __init__(self, wire):
        self.w = wire

    def socket(self):
        return self.w

    def getaddrinfo(self, host, port):
        return [(0, 0, 0, "", None)]
