# Raspberry Pi Pico (RP2040): pin map and calibration data (see README.md).
# GP numbers. On the board: lib/pins.mpy (pumpmon flash --board rpi_pico).
I2C_ID = 0            # I2C0
I2C_SDA = 4           # GP4, pin 6
I2C_SCL = 5           # GP5, pin 7
I2C_FREQ = 100000     # SF06-LF: up to 1 MHz; 100 kHz is robust on a short cable
LEVEL_ADC = 26        # GP26 = ADC0, pin 31
BUZZER = 15           # GP15, pin 20 (PWM7 B)
LED_RED = 16          # GP16, pin 21
LED_YELLOW = 17       # GP17, pin 22
LED_GREEN = 18        # GP18, pin 24
BUTTON = 14           # GP14, pin 19, to GND, internal pull-up
REFILL = 13           # GP13, pin 17, key switch to GND, internal pull-up

HEARTBEAT = 22        # GP22, pin 29: toggled once a second, to the independent sounder (README.md)
SIREN = 19        # GP19, pin 25: the second sounder (an active piezo on a transistor), on
                # with the pulses of an escalated alarm (README.md, docs/boards.md)
WDT_MS = 8000         # the RP2040 watchdog's maximum is ~8.3 s
BUTTON_DEBOUNCE_MS = 20
REFILL_DEBOUNCE_MS = 100

# flow: Sensirion LD20-0600L, raw / 1200 = mL/h -> 0.1 uL/h = raw * 25 / 3
FLOW_NUM = 25
FLOW_DEN = 3
FLOW_WARMUP_MS = 120

# level: read_u16() at the rails means a broken circuit (the divider keeps a
# good sensor between ~8 % and ~92 % of full scale, README.md)
LEVEL_RAIL_LO = 2621      # 4 %
LEVEL_RAIL_HI = 62914     # 96 %
LEVEL_SAMPLES = 16
# calibration: (read_u16, level uL), raw increasing; measured per unit by
# filling the reservoir in steps (README.md). These are the nominal values
# of a 20 mL syringe reservoir on a 60 mm slide potentiometer.
LEVEL_CAL = (
    (5461, 0),
    (16384, 5000),
    (27307, 10000),
    (38229, 15000),
    (49152, 20000),
    (60074, 25000),
)
