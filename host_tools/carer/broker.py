"""An MQTT broker on this machine for the demo and the tests (`pumpmon carer
--serve`): amqtt from PyPI (pinned in requirements.txt), or Debian's
mosquitto when it is installed and asked for. Not a broker of our own: a
real one, in its own process, that can be stopped and killed like the home's.

Broker(...).start() writes its configuration to a folder, starts it and waits
until it accepts connections; users={name: password} turns on passwords (and
refuses anonymous clients); tls=True adds a TLS listener with a self-signed
certificate made by openssl (the plain listener stays for local subscribers).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from host_tools.paths import tool


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=20.0, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("the broker exited (status %s)" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the broker did not listen on port %d within %.0f s" % (port, timeout))


def self_signed(folder, name="broker"):
    """(certificate, key) made by openssl for CN=localhost, valid for
    127.0.0.1 (the address a monitor is given: it looks up no names)."""
    exe = shutil.which("openssl")
    if not exe:
        raise RuntimeError("TLS needs openssl to make the broker's certificate")
    cert, key = Path(folder) / (name + ".crt"), Path(folder) / (name + ".key")
    subprocess.run([exe, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "30", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def der(cert):
    """The certificate's DER bytes (from its PEM file)."""
    import base64
    text = Path(cert).read_text()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def fingerprint(cert):
    """The SHA-256 of the certificate (what mqtt_fingerprint pins), hex."""
    import hashlib
    return hashlib.sha256(der(cert)).hexdigest()


class Broker:
    def __init__(self, port=0, users=None, tls=False, engine="amqtt", folder=None, log=None):
        self.port = port or free_port()
        self.tls_port = free_port() if tls else None
        self.users = users
        self.tls = tls
        self.engine = engine if engine != "auto" else (
            "mosquitto" if shutil.which("mosquitto") else "amqtt")
        self.folder = Path(folder or tempfile.mkdtemp(prefix="pumpmon-broker-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.proc = None
        self.cert = None            # the TLS listener's certificate (PEM file)

    def _amqtt_config(self):
        listeners = {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % self.port}}
        if self.tls:
            cert, key = self_signed(self.folder)
            self.cert = cert
            listeners["tls"] = {"type": "tcp", "bind": "127.0.0.1:%d" % self.tls_port,
                                "ssl": True, "certfile": str(cert), "keyfile": str(key)}
        plugins = {}
        if self.users:
            from argon2 import PasswordHasher
            ph = PasswordHasher()
            pw = self.folder / "passwd"
            pw.write_text("".join("%s:%s\n" % (u, ph.hash(p)) for u, p in self.users.items()))
            plugins["amqtt.plugins.authentication.FileAuthPlugin"] = {"password_file": str(pw)}
        else:
            plugins["amqtt.plugins.authentication.AnonymousAuthPlugin"] = {
                "allow_anonymous": True}
        cfg = self.folder / "amqtt.yaml"
        cfg.write_text(json.dumps({"listeners": listeners, "plugins": plugins}))  # JSON is YAML
        exe = tool("amqtt")
        cmd = [exe] if exe else [sys.executable, "-m", "amqtt.scripts.broker_script"]
        return cmd + ["-c", str(cfg)]

    def _mosquitto_config(self):
        lines = ["listener %d 127.0.0.1" % self.port]
        if self.users:
            pw = self.folder / "passwd"
            pw.write_text("".join("%s:%s\n" % (u, p) for u, p in self.users.items()))
            subprocess.run(["mosquitto_passwd", "-U", str(pw)], check=True)
            lines += ["allow_anonymous false", "password_file %s" % pw]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            cert, key = self_signed(self.folder)
            self.cert = cert
            lines += ["listener %d 127.0.0.1" % self.tls_port,
                      "certfile %s" % cert, "keyfile %s" % key]
        cfg = self.folder / "mosquitto.conf"
        cfg.write_text("per_listener_settings false\n" + "\n".join(lines) + "\n")
        return ["mosquitto", "-c", str(cfg)]

    def start(self, timeout=20.0):
        cmd = self._mosquitto_config() if self.engine == "mosquitto" else self._amqtt_config()
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_port(self.port, timeout, self.proc)
        if self.tls_port:
            wait_port(self.tls_port, timeout, self.proc)
        return self

    def stop(self, kill=False):
        p = self.proc
        if p is None:
            return
        self.proc = None
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL if kill else signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
