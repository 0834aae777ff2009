# Proof that the console service channel costs the main loop no allocation
# while nothing arrives: the whole main loop (log, state file, recorder) with
# a Service whose Console polls a real file descriptor with select.poll
# (a UDP socket nobody sends to, standing in for the USB console, which the
# test runner's own stdin cannot be), an hour of passes under
# micropython.heap_lock(). Only on MicroPython.
import socket

from fakeboard import FakeBoard
from mp_recorder_heap import locked_hour
from test_eventlog import _rmtree, _tmpdir

from pumpmon import service as S
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.runner import Runner


def test_idle_channel_allocates_nothing():
    d = _tmpdir("sheap")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(socket.getaddrinfo("127.0.0.1", 0)[0][-1])
        b = FakeBoard(ticks_add(0, -20000))
        r = Runner(b, Config({"rate_ul_h": 30}), flash=d, rec_segments=3,
                   rec_seg_bytes=4000 * 10)
        con = S.Console(stream=sock)     # select.poll on the socket's descriptor
        svc = S.Service(r, con, root=d)
        locked_hour(r, b)
        assert svc.errors == 0 and svc.served == 0 and con.off == 0 and r.service is svc
    finally:
        sock.close()
        _rmtree(d)
