# The virtual board's wire protocol (boards/sim/rom/wire.py) is written once
# for both sides: the ROM fills and reads its records byte by byte (nothing
# allocated per sample), the host with struct. These pin the two together.
import struct

import pytest

from host_tools import paths

W = paths.rom_module("wire")


def test_layouts_have_the_documented_sizes():
    assert struct.calcsize(W.IN_FORMAT) == W.IN_SIZE == 24
    assert struct.calcsize(W.OUT_FORMAT) == W.OUT_SIZE == 16


@pytest.mark.parametrize("world,value", [(0, 0), (1, -1), (2 ** 40 + 5, 2 ** 31 - 1),
                                         (123456789, W.NONE)])
def test_the_roms_record_is_the_hosts(world, value):
    tx = bytearray(W.OUT_SIZE)
    W.put_out(tx, W.TONE, 300, world, value)
    assert bytes(tx) == struct.pack(W.OUT_FORMAT, W.TONE, 300 & 255, world, value)
    assert W.unpack_out(tx) == (W.TONE, 300 & 255, world, value)


@pytest.mark.parametrize("due,v0,v1", [(0, 0, 0), (2 ** 33 + 7, W.NONE, -5),
                                       (86400000, 2 ** 31 - 1, 12345)])
def test_the_host_record_reads_back_in_the_rom(due, v0, v1):
    rx = W.pack_in(W.SAMPLE, 1, 0, 1, due, v0, v1)
    assert len(rx) == W.IN_SIZE
    assert W.get_due(rx) == due
    assert W.get_i32(rx, W.IN_V0) == v0
    assert W.get_i32(rx, W.IN_V1) == v1


def test_record_kinds_and_fault_keys_are_distinct():
    kinds = [W.SAMPLE, W.FAULT, W.GRANT, W.LINK_DATA, W.LINK_URGENT, W.TONE, W.LED, W.WDT_ARM,
             W.WDT_FEED, W.BEGIN, W.HEARTBEAT, W.DUTY, W.ADVANCE, W.HEAP]
    assert len(set(kinds)) == len(kinds)
    requests = [W.HELLO, W.REPL, W.TYPED, W.RESET, W.CUT]
    assert len(set(requests)) == len(requests) and all(" " not in r for r in requests)
    assert sorted(W.FAULT_KEYS.values()) == list(range(1, len(W.FAULT_KEYS) + 1))


def test_the_rom_side_runs_on_the_unix_port():
    import os
    import subprocess
    code = ("import wire\ntx = bytearray(wire.OUT_SIZE)\n"
            "wire.put_out(tx, wire.LED, 2, 2 ** 40 + 5, -1)\n"
            "rx = bytes(bytearray(range(24)))\n"
            "print(''.join('%02x' % b for b in tx), wire.get_due(rx), wire.get_i32(rx, 12))")
    env = dict(os.environ, MICROPYPATH=str(paths.ROM))
    r = subprocess.run([paths.micropython(), "-c", code], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rx = bytes(range(24))
    want = struct.pack(W.OUT_FORMAT, W.LED, 2, 2 ** 40 + 5, -1).hex()
    assert r.stdout.split() == [want, str(struct.unpack_from("<q", rx, 4)[0]),
                                str(struct.unpack_from("<i", rx, 12)[0])]
