# Deliberately failing module: tests/test_on_micropython.py checks that the
# MicroPython runner reports it (so a green run means something).
def test_fails():
    assert 1 == 2
