# Synthetic sensor traces with the noise the real sensors have (issue 2's
# sensor model), for detection tests, the benchmark and the scenario corpus.
# Runs on CPython and on the MicroPython unix port (no CPython-only features),
# and is deterministic for a seed on both: its own xorshift generator.
#
# Flow: 1 reading/s in 0.1 uL/h; noise sigma 1.0 uL/h + 3 % of true flow; zero
# offset drifting within +-offset_ul_h; 0.1 uL/h resolution; missing_p of the
# readings missing, singly; one spike an hour (one reading 2-10x off).
# Optional pulsatile delivery: a stroke every pulse_period_s, pulse_width_s
# wide, same mean. Level: a reading every level_every_s, 0.01 mL resolution,
# noise sigma 0.03 mL, a daily ripple of +-0.05 mL. The flow sensor
# saturates at full_scale_ul_h (50 mL/h, the default flow_max_ul_h): a reading
# beyond it reads full scale with flags bit 1 (above range), as an SF06 does.
import math
from array import array

_TWO_PI = 6.283185307179586


class Rng:
    def __init__(self, seed):
        self.s = (seed * 2654435761 + 12345) & 0xFFFFFFFF or 1
        self._g = None

    def u32(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def uniform(self):
        """[0, 1)"""
        return self.u32() / 4294967296.0

    def gauss(self):
        g = self._g
        if g is not None:
            self._g = None
            return g
        u1 = (self.u32() + 1) / 4294967297.0
        u2 = self.uniform()
        r = math.sqrt(-2.0 * math.log(u1))
        self._g = r * math.sin(_TWO_PI * u2)
        return r * math.cos(_TWO_PI * u2)


class Scenario:
    """One generated situation. Times are seconds from the start.

    factor: list of (t_s, f): true delivery = programmed x f from t_s on
            (0 = stopped, 0.1 = partial occlusion, 2.0 = over-delivery).
    """

    def __init__(self, seed=1, rate_ul_h=30.0, schedule=None, start_s=0,
                 duration_s=3600, level_ml=18.0, capacity_ml=20.0,
                 level_every_s=5, pulse_period_s=0, pulse_width_s=20,
                 offset_ul_h=0.5, offset_fixed=None, missing_p=0.005,
                 spikes=True, factor=None, leak_ml_h=0.0, leak_from_s=0,
                 flow_fault=None, level_jump=None, level_glitch_s=None,
                 refill_s=None, auto_refill_ml=None, button=None,
                 watch_ml=(), level_stuck_s=None, refill_mode=None,
                 full_scale_ul_h=50000.0, dump=None):
        self.rng = Rng(seed)
        self.rate = rate_ul_h
        self.schedule = schedule      # [(start_s_of_day, rate_ul_h)] sorted
        self.start_s = start_s
        self.duration_s = duration_s
        self.level_ml = level_ml
        self.capacity_ml = capacity_ml
        self.level_every_s = level_every_s
        self.pulse_period_s = pulse_period_s
        self.pulse_width_s = pulse_width_s
        self.offset_ul_h = offset_ul_h
        self.offset_fixed = offset_fixed
        self.missing_p = missing_p
        self.spikes = spikes
        self.factor = factor or []
        self.leak_ml_h = leak_ml_h
        self.leak_from_s = leak_from_s
        # (kind, t_s): silent|stuck|range|air, or intermittent from t_s on:
        # alternate (every 2nd reading lost), two_in_three (every 3rd lost),
        # air_alternate (air flagged on every 2nd reading); a third item, the
        # fault's length in s (else to the end)
        self.flow_fault = flow_fault
        self.level_stuck_s = level_stuck_s  # the level reading freezes from then
        self.refill_mode = refill_mode      # (from_s, to_s): mode on, no refill
        self.full_scale = int(full_scale_ul_h * 10)   # 0.1 uL/h
        # (t_s, ul_h[, to_s]): a free flow on top of the pump's delivery (a
        # dump: the drug runs through the line, continuously) from t_s
        self.dump = dump
        self.level_jump = level_jump  # (t_s, ml)
        self.level_glitch_s = level_glitch_s
        # clinician refills (mode on 60 s before, level to 95 % in 2 min):
        # at the times given, and whenever the true volume falls below
        # auto_refill_ml (for long runs)
        self.refills = list(refill_s) if isinstance(refill_s, (list, tuple)) else (
            [] if refill_s is None else [refill_s])
        self.auto_refill_ml = auto_refill_ml
        self.watch_ml = watch_ml      # record when the true volume falls below
        self.crossed = {}
        self.button = button or []    # [(t_s, held_s)]
        self.last_drop_s = None       # when the reservoir ran dry (truth)

    def programmed(self, t):
        if self.schedule is None:
            return self.rate
        tod = (self.start_s + t) % 86400
        r = self.schedule[-1][1]
        for s, rate in self.schedule:
            if s <= tod:
                r = rate
        return r

    def _factor(self, t):
        f = 1.0
        for ts, v in self.factor:
            if t >= ts:
                f = v
        return f

    def samples(self):
        """Yield (t_ms, level_ul|None, flow_dul|None, flags, button, refill)."""
        rng = self.rng
        vol = self.level_ml * 1000.0          # true reservoir volume, uL
        off_phase = rng.uniform() * _TWO_PI
        rip_phase = rng.uniform() * _TWO_PI
        pulse_phase = int(rng.uniform() * (self.pulse_period_s or 1))
        spike_at = int(rng.uniform() * 3600)
        level_phase = int(rng.uniform() * self.level_every_s)
        missed_flow = False
        missed_level = False
        last_flow = None
        fault_kind, fault_t = (self.flow_fault or (None, -1))[:2]
        # (kind, t_s, length_s): the fault lasts length_s (a bubble of 20 s)
        fault_end = self.flow_fault[2] + fault_t if self.flow_fault and len(
            self.flow_fault) > 2 else self.duration_s
        jump_t, jump_ml = self.level_jump or (-1, 0.0)
        stuck_level = None
        period = self.pulse_period_s
        width = self.pulse_width_s
        t = 0
        while t < self.duration_s:
            prog = self.programmed(t)
            rate = prog * self._factor(t)
            if vol <= 0.0:
                vol = 0.0
                rate = 0.0
                if self.last_drop_s is None:
                    self.last_drop_s = t
            if period:
                ph = (t + pulse_phase) % period
                true = rate * period / width if ph < width else 0.0
            else:
                true = rate
            if self.dump is not None and t >= self.dump[0] and vol > 0.0 and (
                    len(self.dump) < 3 or t < self.dump[2]):
                true += self.dump[1]
            refill = 0
            for rs in self.refills:
                if rs - 60 <= t < rs + 300:
                    refill = 1
                    if rs <= t < rs + 120:
                        vol += (self.capacity_ml * 950.0 - vol) / (rs + 120 - t)
            if (self.auto_refill_ml is not None and vol < self.auto_refill_ml * 1000.0
                    and not (self.refills and t < self.refills[-1] + 300)):
                self.refills.append(t + 60)
            for w in self.watch_ml:
                if w not in self.crossed and vol < w * 1000.0:
                    self.crossed[w] = t
            vol -= true / 3600.0
            if self.leak_ml_h and t >= self.leak_from_s:
                vol -= self.leak_ml_h / 3.6
            # flow reading
            if self.offset_fixed is not None:
                offset = self.offset_fixed
            else:
                offset = self.offset_ul_h * math.sin(_TWO_PI * t / 21600.0 + off_phase)
            reading = true + offset + rng.gauss() * (1.0 + 0.03 * true)
            if self.spikes and t % 3600 == spike_at:
                reading = (abs(reading) + prog) * (2.0 + 8.0 * rng.uniform())
            flow = int(math.floor(reading * 10.0 + 0.5))
            flags = 0
            if not missed_flow and rng.uniform() < self.missing_p:
                flow = None
                missed_flow = True
            else:
                missed_flow = False
            if fault_kind is not None and fault_t <= t < fault_end:
                if fault_kind == "silent":
                    flow = None
                elif fault_kind == "stuck":
                    flow = last_flow if last_flow is not None else 300
                elif fault_kind == "range":
                    flow = 999990
                elif fault_kind == "air":
                    flags = 1
                elif fault_kind == "alternate" and t % 2:
                    flow = None
                elif fault_kind == "two_in_three" and t % 3 == 2:
                    flow = None
                elif fault_kind == "air_alternate" and t % 2:
                    flags = 1
            if flow is not None:
                if flow >= self.full_scale and fault_kind != "range":
                    flow = self.full_scale      # saturated: full scale, flagged
                    flags |= 2
                last_flow = flow
            # level reading
            level = None
            if (t + level_phase) % self.level_every_s == 0:
                ml = vol / 1000.0 + 0.05 * math.sin(_TWO_PI * t / 86400.0 + rip_phase)
                ml += rng.gauss() * 0.03
                if jump_t >= 0 and t >= jump_t:
                    ml += jump_ml
                if self.level_glitch_s is not None and t == self.level_glitch_s:
                    ml += 5.0
                if not missed_level and rng.uniform() < self.missing_p:
                    missed_level = True
                else:
                    missed_level = False
                    level = int(math.floor(ml * 100.0 + 0.5)) * 10
                    if self.level_stuck_s is not None and t >= self.level_stuck_s:
                        if stuck_level is None:
                            stuck_level = level
                        level = stuck_level
            if self.refill_mode is not None and \
                    self.refill_mode[0] <= t < self.refill_mode[1]:
                refill = 1
            button = 0
            for bt, held in self.button:
                if bt <= t < bt + held:
                    button = 1
            yield (t * 1000, level, flow, flags, button, refill)
            t += 1
        self.true_volume_ml = vol / 1000.0


NONE = -999999   # "no reading" in recorded arrays


def record(sc):
    """A scenario's level, flow and flags in preallocated int arrays (NONE for
    no reading), so that replaying them allocates nothing (heap tests, bench)."""
    n = sc.duration_s
    lv = array("i", [0] * n)
    fl = array("i", [0] * n)
    fg = array("i", [0] * n)
    i = 0
    for _t, level, flow, flags, _b, _r in sc.samples():
        lv[i] = NONE if level is None else level
        fl[i] = NONE if flow is None else flow
        fg[i] = flags
        i += 1
    return lv, fl, fg
