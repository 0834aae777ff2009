# The MQTT 3.1.1 packets the carers' link builds and reads itself (docs/carer.md).
# umqtt.simple (firmware/umqtt/, unchanged: pinned by hash) builds CONNECT and
# PINGREQ for us, but its QoS 1 publish() and its subscribe() wait for the
# broker's answer in a blocking loop; the link cannot wait inside the alarm
# loop, so QoS 1 PUBLISH, PUBACK and SUBSCRIBE are built here and their
# answers read by the link's own non-blocking receive (link.py).
# Pure: bytes in, bytes out; MicroPython and CPython.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

PUBLISH = const(0x30)
PUBACK = const(0x40)
SUBSCRIBE = const(0x82)      # type 8 with the reserved flags 0010
SUBACK = const(0x90)
CONNACK = const(0x20)
DUP = const(0x08)
RETAIN = const(0x01)


def _length(n):
    """The remaining length, 7 bits a byte (MQTT 3.1.1 2.2.3)."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return out


def _str(b):
    return bytes((len(b) >> 8, len(b) & 0xFF)) + b


def header(tlen, plen, retain, qos, dup=0):
    """What a PUBLISH starts with: its fixed header, remaining length and the
    topic's length (tlen bytes of topic, plen of payload, a pid when qos)."""
    head = PUBLISH | (qos << 1) | (RETAIN if retain else 0) | (DUP if dup else 0)
    return bytes((head,)) + _length(2 + tlen + (2 if qos else 0) + plen) + \
        bytes((tlen >> 8, tlen & 0xFF))


def publish(topic, payload, retain, qos, pid, dup=0):
    """A PUBLISH packet (topic, payload: bytes); pid is used when qos is 1."""
    var = bytes((pid >> 8, pid & 0xFF)) if qos else b""
    return header(len(topic), len(payload), retain, qos, dup) + topic + var + payload


def write_publish(w, topic, payload, retain, qos, pid, dup=0):
    """publish() written to w (wire.Wire) in its parts: the same bytes, without
    joining topic and payload into one more copy on a board's heap."""
    h = header(len(topic), len(payload), retain, qos, dup)
    room = getattr(w, "room", None)     # a test's wire takes every write
    if room is not None:
        room(len(h) + len(topic) + (2 if qos else 0) + len(payload))
    w.write(h)
    w.write(topic)
    if qos:
        w.write(bytes((pid >> 8, pid & 0xFF)))
    w.write(payload)


def puback(pid):
    return bytes((PUBACK, 2, pid >> 8, pid & 0xFF))


def subscribe(pid, topic, qos):
    var = bytes((pid >> 8, pid & 0xFF)) + _str(topic) + bytes((qos,))
    return bytes((SUBSCRIBE,)) + _length(len(var)) + var


def split(buf):
    """(header byte, body start, body end) of the first whole packet in buf,
    or None while it is incomplete."""
    n = 0
    shift = 0
    i = 1
    while True:
        if i >= len(buf):
            return None
        b = buf[i]
        n |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80 or i > 4:
            break
        shift += 7
    if len(buf) < i + n:
        return None
    return buf[0], i, i + n


def incoming(buf, i, end):
    """A PUBLISH from the broker: (topic text, payload bytes, qos, pid, retain)."""
    head = buf[0]
    qos = (head >> 1) & 3
    tl = (buf[i] << 8) | buf[i + 1]
    topic = bytes(buf[i + 2:i + 2 + tl]).decode()
    j = i + 2 + tl
    pid = 0
    if qos:
        pid = (buf[j] << 8) | buf[j + 1]
        j += 2
    return topic, bytes(buf[j:end]), qos, pid, head & RETAIN


def pid_of(buf, i):
    return (buf[i] << 8) | buf[i + 1]
