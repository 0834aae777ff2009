# Proof that the console service channel costs the main loop no allocation
# while nothing arrives: the whole main loop (log, state file, recorder) with
# a Service whose Console polls a real file descriptor with select.poll
# (a UDP socket nobody sends to, standing in for the USB console, which the
# test runner's own stdin cannot be), an hour of passes under
# micropython.heap_lock(). Only on MicroPython. On a bare-metal board (the
# QEMU Cortex-M: no socket module) the Console is the real one: sys.stdin,
# the UART the test runs over, where nothing arrives meanwhile.
try:
    import socket
except ImportError:
    socket = None

from fakeboard import FakeBoard
from mp_recorder_heap import locked_hour
from test_eventlog import _rmtree, _tmpdir

from pumpmon import service as S
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.runner import Runner


def test_idle_channel_allocates_nothing():
    d = _tmpdir("sheap")
    sock = None
    if socket is not None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        b = FakeBoard(ticks_add(0, -20000))
        r = Runner(b, Config({"rate_ul_h": 30}), flash=d, rec_segments=3,
                   rec_seg_bytes=4000 * 10)
        if sock is None:
            con = S.Console()            # select.poll on the UART console
        else:
            sock.bind(socket.getaddrinfo("127.0.0.1", 0)[0][-1])
            con = S.Console(stream=sock)     # select.poll on the socket's descriptor
        svc = S.Service(r, con, root=d)
        r.attach_service(svc)
        locked_hour(r, b)
        assert svc.errors == 0 and svc.served == 0 and con.off == 0 and r.service is svc
    finally:
        if sock is not None:
            sock.close()
        _rmtree(d)
