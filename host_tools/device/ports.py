"""Finding and opening a board's serial port: the one USB discovery (the
first port with a vendor id, as mpremote's auto-detection) and the plain
console reader `pumpmon run` uses on a real board."""
from host_tools.flashing.build import EXIT_NO_BOARD, FlashError


def usb_port():
    """The first USB serial port with a vendor id (a board, as mpremote's
    auto-detection finds it), or None."""
    try:
        import serial.tools.list_ports
        for p in sorted(serial.tools.list_ports.comports()):
            if p.vid is not None and p.pid is not None:
                return p.device
    except Exception:  # noqa: BLE001 - no port listing here: no board
        pass
    return None


def console(port, timeout=0.2):
    """The board's serial console, only read (no REPL exchange: the running
    monitor is left alone), for `pumpmon run` on a real board."""
    import serial
    return serial.serial_for_url(port, baudrate=115200, timeout=timeout)


def find_port():
    port = usb_port()
    if port:
        return port
    raise FlashError(EXIT_NO_BOARD,
                     "no board found: no USB serial port with a vendor id; plug a board "
                     "in or give --port (a device or socket://HOST:PORT)")

