"""The buzzer's drive signal as sound (docs/alarm-signals.md, the spectrum):
the PWM changes the virtual board records with their board times (timeline
rows "tone": hz and duty), rendered to a 16-bit mono WAV (`pumpmon run --wav
FILE`), and the measurements taken of it: the pulses (runs of sound), their
fundamental and harmonics. This is the electrical drive, not the sound a
piezo makes of it: loudness and the transducer's own response need a
sound-level meter on real hardware (docs/alarm-signals.md: the bench
procedure).
"""
import wave

import numpy as np

RATE = 22050            # samples a second
OVERSAMPLE = 16         # each sample averages this many points of the ideal pulse
AMPLITUDE = 0.8         # of full scale, peak to peak
GAP_MS = 5              # silence longer than this separates two pulses


def changes(rows):
    """[(board ms, hz, duty_u16)] from timeline rows (the buzzer's changes)."""
    return [(r["world_ms"], r["hz"], r.get("duty", 0) if r["hz"] else 0)
            for r in rows if r["kind"] == "tone"]


def render(chs, start_ms=None, end_ms=None, rate=RATE):
    """The drive signal of the changes from start_ms to end_ms as floats in
    [-1, 1]: while a note plays, its pulse wave (duty d) with its mean
    removed (a piezo passes no direct current), else 0. Each note starts at
    the phase 0 of its period, as a PWM's counter restarts."""
    if not chs:
        return np.zeros(0)
    start = chs[0][0] if start_ms is None else start_ms
    end = chs[-1][0] if end_ms is None else end_ms
    n = max(0, (end - start) * rate // 1000)
    out = np.zeros(n, dtype=np.float32)
    for i, (t, hz, duty) in enumerate(chs):
        t1 = chs[i + 1][0] if i + 1 < len(chs) else end
        if hz <= 0 or duty <= 0 or t1 <= start or t >= end:
            continue
        a = max(0, (t - start) * rate // 1000)
        b = min(n, (t1 - start) * rate // 1000)
        if b <= a:
            continue
        d = duty / 65536.0
        k = np.arange((b - a) * OVERSAMPLE) / float(rate * OVERSAMPLE)
        k += (a - (t - start) * rate / 1000.0) / rate    # time since the note began
        phase = (k * hz) % 1.0
        wave_ = np.where(phase < d, 1.0 - d, -d)
        out[a:b] = wave_.reshape(-1, OVERSAMPLE).mean(axis=1)
    return out * AMPLITUDE


def write_wav(path, signal, rate=RATE):
    pcm = np.clip(np.round(signal * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def read_wav(path):
    """(signal in [-1, 1], rate) of a 16-bit mono WAV."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError("%s: not 16-bit mono" % path)
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data / 32767.0, rate


def pulses(signal, rate):
    """[(start, end)] sample indices of each run of sound (silences of more
    than GAP_MS between them)."""
    idx = np.flatnonzero(signal != 0)
    if not len(idx):
        return []
    gap = rate * GAP_MS // 1000
    cuts = np.flatnonzero(np.diff(idx) > gap)
    starts = np.concatenate(([idx[0]], idx[cuts + 1]))
    ends = np.concatenate((idx[cuts], [idx[-1]])) + 1
    return list(zip(starts.tolist(), ends.tolist()))


def spectrum(signal, rate, lo=150, hi=1000, band=(300, 4000), within_db=15.0):
    """The fundamental (the strongest peak in lo-hi Hz) of one pulse and its
    harmonics n x f0 inside band: (f0, [(n, Hz, dB relative to f0)]), each
    harmonic's level the peak within +-3 % of n x f0 (Hann window)."""
    x = signal - signal.mean()
    win = np.hanning(len(x))
    nfft = 1 << max(16, int(len(x) - 1).bit_length())
    mag = np.abs(np.fft.rfft(x * win, nfft))
    freqs = np.fft.rfftfreq(nfft, 1.0 / rate)

    def peak(f_lo, f_hi):
        sel = (freqs >= f_lo) & (freqs <= f_hi)
        i = np.flatnonzero(sel)[np.argmax(mag[sel])]
        return freqs[i], mag[i]
    f0, m0 = peak(lo, hi)
    harm = []
    n = 2
    while n * f0 <= band[1]:
        if n * f0 >= band[0]:
            f, m = peak(n * f0 * 0.97, n * f0 * 1.03)
            db = 20 * np.log10(max(m, 1e-12) / m0)
            harm.append((n, float(f), float(db)))
        n += 1
    return float(f0), harm


def within(harm, db=15.0):
    """The harmonics of spectrum() within db of the fundamental."""
    return [h for h in harm if h[2] >= -db]
