# A piezo buzzer on a PWM pin: tone(hz) plays a square wave (50 % duty) at
# hz, tone(0) is silent. Only touches the hardware when the tone changes.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from machine import PWM

HALF = 32768    # duty_u16 of a 50 % square wave


class Buzzer:
    def __init__(self, pwm: "PWM") -> None:
        self.pwm = pwm
        self.hz = 0
        pwm.duty_u16(0)

    def tone(self, hz: int) -> None:
        if hz == self.hz:
            return
        self.hz = hz
        if hz <= 0:
            self.pwm.duty_u16(0)
        else:
            self.pwm.freq(hz)
            self.pwm.duty_u16(HALF)
