# Audible and visual alarm patterns, as data (IEC 60601-1-8: the ranges in
# docs/alarm-signals.md, the choices in docs/engine.md). Indexed by alarm kind
# (alarms.KIND_*). Tests check every timing against the standard's ranges and
# that every pair of alarms differs in sound and in light.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# note frequencies, Hz (Annex F melodies, equal temperament)
C4 = const(262)
D4 = const(294)
G4 = const(392)
C5 = const(523)
# the drug-delivery melody a major third higher (over_delivery): a fifth
# (G5 784 Hz) would put its 6th harmonic above 4 kHz and its 4th on the
# 25 % pulse's null, leaving three within 15 dB (docs/alarm-signals.md)
FS4 = const(370)
B4 = const(494)
E5 = const(659)

# LED colours
OFF = const(0)
GREEN = const(1)
YELLOW = const(2)
RED = const(3)
COLOUR_NAMES = ("off", "green", "yellow", "red")

PULSE_HIGH = const(150)   # td 75-200 ms
SPACE_HIGH = const(100)   # ts 50-125 ms
GAP_3_4 = const(350)      # the "3 + 2" rhythm: one missing pulse (2 ts + td)
GAP_5_6 = const(600)      # 350-1300 ms
REPEAT_HIGH = const(6000)  # burst repeat interval 2.5-15 s
REPEAT_REFILL = const(10000)  # refill_today: high, but a slower burst than a stop
# escalated (a high alarm unacknowledged for escalation_min, manager.py): the
# same melody, its burst repeated every 4.4 s instead of 6 (10 s for
# refill_today): the burst itself takes 3.4 s, so 1 s of silence between
# bursts, still clearly longer than the 0.6 s between pulses 5 and 6 (the
# "3 + 2, pause, 3 + 2" stays heard as one burst)
REPEAT_ESCALATED = const(4400)
PULSE_MEDIUM = const(200)  # td 125-250 ms
SPACE_MEDIUM = const(200)  # ts 125-250 ms
REPEAT_MEDIUM = const(15000)  # 2.5-30 s
PULSE_LOW = const(200)    # td 125-250 ms
REPEAT_LOW = const(30000)  # low priority: more than 15 s, or once
REPEAT_STOPPED = const(300000)  # pump stopped by a clinician: a reminder every 5 min


def _high(n1, n2, n3, repeat=REPEAT_HIGH):
    """Ten pulses, 3 + 2, pause, 3 + 2, then silence to the burst repeat."""
    half = (n1, PULSE_HIGH, SPACE_HIGH, n2, PULSE_HIGH, SPACE_HIGH,
            n3, PULSE_HIGH, GAP_3_4, n1, PULSE_HIGH, SPACE_HIGH)
    used = 10 * PULSE_HIGH + 2 * (3 * SPACE_HIGH + GAP_3_4) + GAP_5_6
    return (half + (n2, PULSE_HIGH, GAP_5_6) + half
            + (n2, PULSE_HIGH, repeat - used))


def _medium(n1, n2, n3):
    used = 3 * PULSE_MEDIUM + 2 * SPACE_MEDIUM
    return (n1, PULSE_MEDIUM, SPACE_MEDIUM, n2, PULSE_MEDIUM, SPACE_MEDIUM,
            n3, PULSE_MEDIUM, REPEAT_MEDIUM - used)


# sound: flat (frequency Hz, on ms, off ms) triples, one burst per cycle
SOUND = (
    _high(C5, D4, G4),    # no_flow: drug or fluid delivery melody C5 D4 G4 - C5 D4
    _high(C5, C4, C4),    # malfunction: equipment failure melody C5 C4 C4 - C5 C4
    _medium(C5, D4, G4),  # low_reservoir: drug delivery, medium (first three notes)
    # refill_today (low_reservoir escalated): the general melody C4 C4 C4 - C4 C4,
    # so "refill today" never sounds like "the drug has stopped" (no_flow)
    _high(C4, C4, C4, REPEAT_REFILL),
    # under_delivery (partial, medium): the drug melody is taken by
    # low_reservoir at medium, so the general melody: a carer hears which one
    _medium(C4, C4, C4),
    # monitoring_interrupted (low priority, technical): two soft pulses, G4 C4,
    # every 30 s until acknowledged
    (G4, PULSE_LOW, PULSE_LOW, C4, PULSE_LOW, REPEAT_LOW - 3 * PULSE_LOW),
    # pump_stopped (low priority: the pump stopped on purpose by a clinician):
    # one soft C4 pulse every 5 minutes, for as long as the configuration says so
    (C4, PULSE_LOW, REPEAT_STOPPED - PULSE_LOW),
    # over_delivery (high: too much drug): the drug-delivery melody's shape
    # (down a seventh, up a fourth, 3 + 2) a major third higher, E5 F#4 B4 -
    # E5 F#4: heard as the same family as no_flow, "the drug", and told apart
    # by its register: higher = more. Never the equipment-failure melody.
    _high(E5, FS4, B4),
)



def _escalated(sound):
    """A high-priority burst with its repeat shortened to REPEAT_ESCALATED
    (other priorities never escalate: the same pattern)."""
    if len(sound) != 30:
        return sound
    used = 0
    for i in range(1, 29, 3):
        used += sound[i] + sound[i + 1]
    return sound[:29] + (sound[29] - used + REPEAT_ESCALATED,)


# the escalated sound of each kind (the annunciator plays it while escalated)
SOUND_ESCALATED = tuple(_escalated(s) for s in SOUND)

# light: flat (colour, on ms, off ms) triples
LIGHT = (
    (RED, 250, 250),      # no_flow: 2.0 Hz, 50 % duty (high: 1.4-2.8 Hz, 20-60 %)
    (RED, 140, 560),      # malfunction: 1.43 Hz, 20 % duty: short blips
    (YELLOW, 1100, 1100),  # low_reservoir: 0.45 Hz, 50 % (medium: 0.4-0.8 Hz)
    (RED, 120, 280),      # refill_today: 2.5 Hz, 30 % duty: quick short flashes
    (YELLOW, 300, 950),   # under_delivery: 0.8 Hz, 24 % duty: short yellow blips
    (YELLOW, 1000, 0),    # monitoring_interrupted: steady yellow (low: constant)
    # pump_stopped: never green (green is "monitoring, all well"): yellow,
    # with a short dark gap every 3 s (2.8 s on, 0.2 s off: 93 % on, 0.33 Hz,
    # slower than any medium alarm's flashing, 0.4-0.8 Hz), so "stopped on
    # purpose" is told from monitoring (green), from the steady yellow of
    # starting, service and interrupted, and from every flashing alarm
    (YELLOW, 2800, 200),
    # over_delivery: a red double flash, 100 ms on, 100 off, 100 on, 700 off
    # (2 flashes a second, 20 % on): the only double flash, told from
    # no_flow's even 2 Hz, malfunction's single blips and refill_today's
    (RED, 100, 100, RED, 100, 700),
)
# no alarm: steady green, monitoring
IDLE_LIGHT = (GREEN, 1000, 0)
# no alarm yet, but the flow not judged yet (start-up): steady yellow, silent
# (IEC 60601-1-8's constant light, distinct from every flashing alarm light)
STARTING_LIGHT = (YELLOW, 1000, 0)

# Service indication: the monitor has stopped (a service request before
# flashing, or Ctrl-C on the console; service.py). Once the main loop has
# stopped nothing animates a pattern, and the buzzer's PWM and the LED hold
# their last state in hardware while the board sits in the REPL, so it is a
# steady tone and a steady yellow light: unlike every alarm pattern above and
# unlike monitoring (steady green). It lasts until the reset that ends service.
SERVICE_TONE = const(262)   # C4, continuous
SERVICE_LED = const(2)      # YELLOW, steady
