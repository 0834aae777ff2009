# pumpmon firmware core: pure alarm logic that runs unchanged on CPython,
# the MicroPython unix port and a board. Nothing here imports `machine`.
VERSION = "0.1.0"
