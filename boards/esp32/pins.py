# ESP32 (ESP32-DevKitC V4, ESP32-WROOM-32E): pin map and calibration data
# (see README.md). GPIO numbers. On the board: lib/pins.mpy (pumpmon flash).
I2C_ID = 0
I2C_SDA = 21          # GPIO21
I2C_SCL = 22          # GPIO22
I2C_FREQ = 100000
LEVEL_ADC = 34        # GPIO34 = ADC1_CH6 (input only; ADC1 works with Wi-Fi on)
BUZZER = 25           # GPIO25 (LEDC PWM)
PIXEL = 26            # GPIO26: data in of one WS2812B pixel
BUTTON = 27           # GPIO27, to GND, internal pull-up
REFILL = 14           # GPIO14, key switch to GND, internal pull-up

HEARTBEAT = 33        # GPIO33: toggled once a second, to the independent sounder (README.md)
SIREN = 32        # GPIO32: the second sounder (an active piezo on a transistor), on
                # with the pulses of an escalated alarm (README.md, docs/boards.md)
WDT_MS = 8000
BUTTON_DEBOUNCE_MS = 20
REFILL_DEBOUNCE_MS = 100

# the light's colours on the pixel, indexed by patterns.OFF/GREEN/YELLOW/RED;
# kept dim (a bedside light at night), red and yellow brighter than green
PIXEL_RGB = ((0, 0, 0), (0, 24, 0), (96, 64, 0), (160, 0, 0))

# flow: Sensirion LD20-0600L, raw / 1200 = mL/h -> 0.1 uL/h = raw * 25 / 3
FLOW_NUM = 25
FLOW_DEN = 3
FLOW_WARMUP_MS = 120

# level: with 11 dB attenuation the ESP32 ADC saturates near 3.1 V, so the
# divider here has a 2.2 kOhm top resistor: a good sensor stays between ~8 %
# and ~83 % of full scale (README.md); the rails mean a broken circuit
LEVEL_RAIL_LO = 2621      # 4 %
LEVEL_RAIL_HI = 62914     # 96 %
LEVEL_SAMPLES = 32        # the ESP32 ADC is noisier: average more
# calibration: (read_u16, level uL), raw increasing; measured per unit (the
# ESP32 ADC is not linear: take at least 5 points). Nominal values:
LEVEL_CAL = (
    (4965, 0),
    (14895, 5000),
    (24824, 10000),
    (34754, 15000),
    (44683, 20000),
    (54613, 25000),
)
