# A piezo buzzer on a PWM pin: tone(hz) plays a pulse wave at hz, tone(0) is
# silent. Only touches the hardware when the tone changes.
#
# The duty is 25 %, not 50 % (docs/alarm-signals.md, the spectrum): a 50 %
# square wave has only odd harmonics (3rd at -9.5 dB, 5th at -14.0 dB, 7th
# at -16.9 dB: two within 15 dB of the fundamental), where IEC 60601-1-8 asks
# for at least four harmonic components within 15 dB (audible through a door,
# easy to place). A pulse of duty d has harmonic n at |sin(pi n d)| / n of
# sin(pi d) x its fundamental: at 25 % the 2nd is at -3.0 dB, the 3rd -9.5,
# the 5th -14.0 and the 6th -12.6 (the 4th and 8th vanish): four within
# 15 dB, all within 300-4000 Hz for every note of patterns.py (C4-C5).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from machine import PWM

DUTY = 16384    # duty_u16 of a 25 % pulse wave


class Buzzer:
    def __init__(self, pwm: "PWM") -> None:
        self.pwm = pwm
        self.hz = 0
        pwm.duty_u16(0)

    def tone(self, hz: int) -> None:
        if hz == self.hz:
            return
        # the new tone is remembered only once the PWM took it: a call that
        # raised is made again at the next tone() (the runner retries)
        if hz <= 0:
            self.pwm.duty_u16(0)
        else:
            self.pwm.freq(hz)
            self.pwm.duty_u16(DUTY)
        self.hz = hz
