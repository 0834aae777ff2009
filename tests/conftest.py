# The firmware tests under tests/firmware/ are plain functions (no pytest
# features) so that tests/mp_runner.py runs them on MicroPython as well;
# tests/test_on_micropython.py does that. Modules named mp_*.py need
# micropython.* and run only there.
