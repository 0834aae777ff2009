# The `machine` the firmware imports on the virtual board: the unix port's
# own, with what a board has on top: reset and reset_cause (the host starts a
# new VM per reset and says why), a watchdog reported to the host (which
# resets a VM that stops feeding it), freq, unique_id, and the buzzer's PWM
# (its frequency and duty reported to the host).
import machine as _m

# machine.reset_cause() codes, as on rp2 and esp32
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
_CODES = {"power_on": PWRON_RESET, "hard": HARD_RESET, "watchdog": WDT_RESET,
          "soft": SOFT_RESET}


class _Machine:
    PWRON_RESET = PWRON_RESET
    HARD_RESET = HARD_RESET
    WDT_RESET = WDT_RESET
    DEEPSLEEP_RESET = DEEPSLEEP_RESET
    SOFT_RESET = SOFT_RESET


def machine_module(link):
    M = _Machine()
    for name in dir(_m):
        if not name.startswith("__"):
            setattr(M, name, getattr(_m, name))

    def m_reset():
        link.hard_reset()

    def m_soft_reset():
        raise SystemExit(0)

    def m_reset_cause():
        return _CODES.get(link.cause, HARD_RESET)

    def m_freq(*a):
        return 125000000

    def m_unique_id():
        return b"vboard01"

    def m_bootloader(*a):
        link.hard_reset()

    class WDT:
        def __init__(self, id=0, timeout=5000):
            link.arm_watchdog(timeout)

        def feed(self):
            link.feed_watchdog()

    class PWM:
        """The buzzer's PWM: its frequency and duty go to the host (a TONE
        record, preceded by the duty when that changes), which records them
        on the timeline with their board times."""

        def __init__(self, pin=None, freq=1000, duty_u16=0):
            self.f = freq
            self.d = duty_u16

        def freq(self, f=None):
            if f is None:
                return self.f
            self.f = f
            if self.d:
                link.set_tone(f)

        def duty_u16(self, d=None):
            if d is None:
                return self.d
            self.d = d
            link.set_tone(self.f if d else 0, d)

    M.PWM = PWM
    M.reset = m_reset
    M.soft_reset = m_soft_reset
    M.reset_cause = m_reset_cause
    M.freq = m_freq
    M.unique_id = m_unique_id
    M.bootloader = m_bootloader
    M.WDT = WDT
    return M
