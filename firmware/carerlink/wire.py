# The carers' link's socket, never blocking: a non-blocking TCP (or TLS)
# socket and an outgoing buffer that umqtt.simple writes its packets into.
# umqtt.simple (micropython-lib, firmware/umqtt/) builds the MQTT packets but
# does blocking I/O on its own socket; here it is handed this object as its
# socket, so its writes only fill the buffer and the link (link.py) sends the
# buffer in small non-blocking steps from the monitor's loop. Nothing here
# waits: connect, the TLS handshake, send and receive each return at once.
import select
import socket

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

OUT_MAX = const(2048)      # a discovery message is ~600 bytes; more is a stuck link
CHUNK = const(512)         # at most this many bytes sent per loop pass
_EAGAIN = (11, 115, 119)   # EAGAIN, EINPROGRESS, EALREADY (+ lwIP's)
_CONNACK_OK = b"\x20\x02\x00\x00"
_MBEDTLS_VERIFY_FAILED = const(-9984)   # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED
# LinkError codes above 2000: the broker failed its check (logged as such:
# host_tools/formats/eventlog.py); like a refused password, retried slowly
E_UNTRUSTED = const(2001)   # not signed by mqtt_ca (or no way to check it)
E_PIN = const(2002)         # not the certificate of mqtt_fingerprint
E_CA_FILE = const(2003)     # mqtt_ca cannot be read


def ca_der(data):
    """The CA certificate as DER (what MicroPython's mbedTLS takes) from the
    file's bytes, PEM or DER; b"" when it is neither."""
    if data[:10] == b"-----BEGIN":
        import binascii
        try:
            body = data.split(b"-----")[2]
            return binascii.a2b_base64(b"".join(body.split()))
        except (IndexError, ValueError):
            return b""
    return data if data[:1] == b"\x30" else b""


def _untrusted(e):
    # MicroPython's mbedTLS raises ValueError for a certificate the CA did
    # not sign (or not for this address): the handshake never completes
    return LinkError("the broker's certificate is not trusted (mqtt_ca): not connecting "
                     "(%s)" % " ".join(str(e).split()), E_UNTRUSTED)


class LinkError(Exception):
    """The link failed: .code is an errno, or a CONNACK return code + 1000."""

    def __init__(self, what, code=0):
        super().__init__(what)
        self.code = code


class Wire:
    def __init__(self):
        self.sock = None
        self.tls = None            # the ssl-wrapped socket once TLS is on
        self.out = bytearray(OUT_MAX)
        self.n = 0                 # end of the bytes waiting in out
        self.o = 0                 # start of the bytes waiting in out (sent before it)
        self.inbuf = bytearray(8)
        self.fake_connack = 0      # umqtt's connect() reads a CONNACK: see link.py
        self.pin = None            # the broker certificate's SHA-256 (mqtt_fingerprint)
        self.early = b""           # bytes read while driving the TLS handshake
        self._poll = None

    # ---- what umqtt.simple sees: a socket whose writes are buffered --------
    def write(self, data, n=-1):
        if isinstance(data, str):
            data = data.encode()
        if n < 0:
            n = len(data)
        if self.n + n > OUT_MAX and self.o:
            self._compact()
        if self.n + n > OUT_MAX:
            raise LinkError("send buffer full: the broker does not read", 105)
        # a view, not data[:n]: no copy of a ~600-byte message on the heap
        self.out[self.n:self.n + n] = data if n == len(data) else memoryview(data)[:n]
        self.n += n
        return n

    def room(self, n):
        """Raise (buffer full) unless n more bytes fit: a packet written in
        parts (packets.write_publish) goes in whole or not at all."""
        if self.n + n > OUT_MAX and self.o:
            self._compact()
        if self.n + n > OUT_MAX:
            raise LinkError("send buffer full: the broker does not read", 105)

    def _compact(self):
        left = self.n - self.o
        self.out[:left] = bytes(memoryview(self.out)[self.o:self.n])
        self.n = left
        self.o = 0

    def read(self, n):
        # only umqtt's connect() reads (the CONNACK), before anything is sent:
        # the real CONNACK is read without blocking by the link (acked())
        if self.fake_connack:
            self.fake_connack = 0
            return _CONNACK_OK[:n]
        raise LinkError("unexpected blocking read", 5)

    def connect(self, addr):
        pass                       # already connecting: open()

    def setblocking(self, flag):
        pass

    def close(self):
        s = self.tls or self.sock
        self.sock = self.tls = None
        self.n = self.o = 0
        self._poll = None
        if s is not None:
            try:
                s.close()
            except Exception:
                pass

    # ---- the link's side ----------------------------------------------------
    def open(self, addr):
        """Start a TCP connection without waiting (EINPROGRESS)."""
        self.close()
        s = socket.socket()
        self.sock = s
        s.setblocking(False)
        try:
            s.connect(addr)
        except OSError as e:
            if e.args[0] not in _EAGAIN:
                self.close()
                raise LinkError("cannot connect: %s" % e, e.args[0])
        p = select.poll()
        p.register(s, select.POLLOUT)
        self._poll = p

    def connected(self):
        """1 when the TCP connection is up, 0 while it is still being made;
        LinkError when it was refused or failed."""
        res = self._poll.poll(0)
        if not res:
            return 0
        ev = res[0][1]
        if ev & (select.POLLERR | select.POLLHUP):
            self.close()
            raise LinkError("connection refused or unreachable", 111)
        self._poll.modify(self.sock, select.POLLIN)
        return 1

    def start_tls(self, host, ca=None, fingerprint=None):
        """Wrap the connected socket in TLS; the handshake runs in the
        following non-blocking steps (handshake()). The broker is always
        verified: ca (the CA certificate's bytes, PEM or DER) is checked by
        mbedTLS, or fingerprint (the SHA-256 of the broker's certificate) is
        compared once the handshake is done. Never clear text, never an
        unverified broker: without ssl, or with an unreadable CA, the link
        does not connect (LinkError)."""
        try:
            import ssl
        except ImportError:
            raise LinkError("mqtt_tls is on but this MicroPython has no ssl: not connecting", 95)
        if ca is not None and not ca:
            raise LinkError("mqtt_ca: the CA certificate file cannot be read: not connecting",
                            E_CA_FILE)
        if ca is None and fingerprint is None:
            raise LinkError("mqtt_tls without mqtt_ca or mqtt_fingerprint: not connecting",
                            E_UNTRUSTED)
        self.pin = fingerprint
        self.early = b""
        try:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            if ca:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(cadata=ca)    # DER (ca_der)
            else:
                if hasattr(ctx, "check_hostname"):
                    ctx.check_hostname = False  # CPython; the fingerprint is the check
                ctx.verify_mode = ssl.CERT_NONE
            self.tls = ctx.wrap_socket(self.sock, server_hostname=host,
                                       do_handshake_on_connect=False)
        except (OSError, ValueError) as e:
            raise LinkError("TLS failed: %s" % (e,), E_UNTRUSTED)

    def handshake(self):
        """One non-blocking step of the TLS handshake: 1 when it is done and
        the broker's certificate passed, 0 while it goes on; LinkError when
        the certificate is not trusted or does not match the pin."""
        t = self.tls
        try:
            if hasattr(t, "do_handshake"):    # CPython
                t.do_handshake()
            else:                              # MicroPython: a read drives it
                d = t.read(1)
                if d:
                    self.early += d            # the broker spoke first: kept
        except ValueError as e:
            raise _untrusted(e)
        except OSError as e:
            code = e.args[0] if e.args else 0
            if code in _EAGAIN or type(e).__name__.startswith("SSLWant"):
                return 0
            if code == _MBEDTLS_VERIFY_FAILED or "CERTIFICATE_VERIFY" in str(e):
                raise LinkError("the broker's certificate is not trusted (mqtt_ca): "
                                "not connecting", E_UNTRUSTED)
            raise LinkError("TLS handshake failed: %s" % (e,), code)
        getpc = getattr(t, "getpeercert", None)
        if getpc is None:          # a MicroPython built without the peer's certificate
            if self.pin is not None:
                raise LinkError("this MicroPython cannot read the broker's certificate: "
                                "use mqtt_ca, not connecting", E_UNTRUSTED)
            return 1               # mbedTLS checks the CA before any data goes out
        try:
            cert = getpc(True)
        except ValueError:                     # CPython: not done yet
            return 0
        if not cert:
            return 0                           # MicroPython: not done yet
        if self.pin is not None:
            import hashlib
            if hashlib.sha256(cert).digest() != self.pin:
                raise LinkError("the broker's certificate does not match mqtt_fingerprint: "
                                "not connecting", E_PIN)
        return 1

    def flush(self):
        """Send up to CHUNK buffered bytes; never waits. True when empty."""
        if self.o >= self.n:
            self.n = self.o = 0
            return True
        s = self.tls or self.sock
        try:
            k = s.write(memoryview(self.out)[self.o:min(self.n, self.o + CHUNK)])
        except ValueError as e:
            raise _untrusted(e)
        except OSError as e:
            if e.args[0] in _EAGAIN:
                return False
            raise LinkError("send failed: %s" % e, e.args[0])
        if k:
            self.o += k            # no copy: the rest is sent from where it is
            if self.o >= self.n:
                self.n = self.o = 0
        return not self.n

    def receive(self):
        """Bytes the broker sent (b"" when none yet); LinkError when it closed."""
        s = self.tls or self.sock
        if self.early:
            d, self.early = self.early, b""
            return d
        if self.tls is None and not self._poll.poll(0):
            return b""
        try:
            data = s.read(len(self.inbuf))
        except ValueError as e:
            raise _untrusted(e)
        except OSError as e:
            if e.args[0] in _EAGAIN:
                return b""
            raise LinkError("receive failed: %s" % e, e.args[0])
        if data is None:
            return b""
        if data == b"":
            raise LinkError("the broker closed the connection", 104)
        return data
