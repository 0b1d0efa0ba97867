"""Acoustic augmentation: coloured noise, babble, hum, synthetic room reverb, band-limiting,
clipping and gain. Pure numpy/scipy on float32 16 kHz mono.

An `AugmentSpec` is drawn once per utterance when the corpus is planned (so the plan, not the
worker that renders it, decides everything) and is recorded in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt

SAMPLE_RATE = 16000
NOISE_KINDS = ("white", "pink", "brown", "blue", "violet", "babble", "hum")
# Spectral slope of each colour: power ~ f**slope.
_SLOPES = {"white": 0.0, "pink": -1.0, "brown": -2.0, "blue": 1.0, "violet": 2.0}
BANDS = ((300, 3400), (200, 4000), (100, 7000), (0, 3000), (400, 6000), (0, 5500))


# ---------------------------------------------------------------------------------------------
# signals


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def active_rms(x: np.ndarray, frame: int = 320) -> float:
    """RMS over frames within 35 dB of the loudest, so padding silence does not inflate SNR."""
    n = len(x) // frame
    if n == 0:
        return rms(x)
    e = np.mean(np.square(x[: n * frame].reshape(n, frame), dtype=np.float64), axis=1)
    keep = e > e.max() * 10 ** (-35 / 10)
    return float(np.sqrt(e[keep].mean())) if keep.any() else 0.0


def coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise shaped to power ~ f**slope; unit RMS."""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    f[0] = f[1] if n > 1 else 1.0
    spec *= f ** (_SLOPES[colour] / 2.0)
    x = np.fft.irfft(spec, n).astype(np.float32)
    return x / max(rms(x), 1e-9)


def hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum (50 or 60 Hz with harmonics) over a little white noise; unit RMS."""
    base = 50.0 if rng.random() < 0.5 else 60.0
    t = np.arange(n) / SAMPLE_RATE
    x = sum((0.6 ** k) * np.sin(2 * np.pi * base * (k + 1) * t + rng.uniform(0, 2 * np.pi)) for k in range(6))
    x = x + 0.05 * rng.standard_normal(n)
    x = x.astype(np.float32)
    return x / max(rms(x), 1e-9)


def babble(n: int, sources: list[np.ndarray], rng: np.random.Generator, talkers: int = 5) -> np.ndarray:
    """Several other utterances overlapped at random offsets; unit RMS. Falls back to pink noise."""
    usable = [s for s in sources if len(s) > SAMPLE_RATE // 4]
    if not usable:
        return coloured_noise(n, "pink", rng)
    out = np.zeros(n, np.float32)
    for _ in range(talkers):
        s = usable[int(rng.integers(len(usable)))]
        s = s / max(active_rms(s), 1e-9)
        reps = int(np.ceil((n + len(s)) / len(s)))
        loop = np.tile(s, reps)
        start = int(rng.integers(len(s)))
        out += loop[start : start + n].astype(np.float32)
    return out / max(rms(out), 1e-9)


def synthetic_rir(rt60_s: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """A room impulse response: direct path, sparse early reflections, exponential diffuse tail.

    The tail decays by 60 dB in rt60_s and loses high frequencies as it goes (air and wall
    absorption); drr_db sets the direct-to-reverberant energy ratio.
    """
    n = int(max(rt60_s, 0.05) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)
    # Darken the tail: a one-pole low-pass whose cutoff falls over time is approximated by
    # mixing a low-passed copy in increasingly.
    lp = sosfilt(butter(2, 3000, fs=SAMPLE_RATE, output="sos"), tail)
    w = np.clip(t / rt60_s, 0, 1)
    tail = (1 - w) * tail + w * lp
    for _ in range(int(rng.integers(3, 8))):  # early reflections within 50 ms
        k = int(rng.uniform(0.002, 0.05) * SAMPLE_RATE)
        if k < n:
            tail[k] += rng.choice([-1, 1]) * rng.uniform(0.2, 0.7)
    tail[0] = 0.0
    tail *= np.sqrt(10 ** (-drr_db / 10) / max(np.sum(tail**2), 1e-12))
    tail[0] = 1.0  # direct path
    return tail.astype(np.float32)


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    y = fftconvolve(x, rir)[: len(x)]
    return y.astype(np.float32)


def band_limit(x: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """Butterworth band-pass (low_hz 0 = low-pass only), like a phone line or a cheap mic."""
    if low_hz > 0:
        sos = butter(6, [low_hz, high_hz], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    else:
        sos = butter(6, high_hz, btype="lowpass", fs=SAMPLE_RATE, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """speech + noise scaled so that active-speech power / noise power = snr_db."""
    s = active_rms(speech)
    k = s / max(rms(noise), 1e-12) * 10 ** (-snr_db / 20)
    return (speech + k * noise).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# specs


@dataclass(frozen=True)
class AugmentSpec:
    lead_s: float = 0.0  # extra silence before and after (noise covers it too)
    tail_s: float = 0.0
    rt60_s: float | None = None
    drr_db: float = 0.0
    noise: str | None = None  # one of NOISE_KINDS
    snr_db: float | None = None
    band: tuple | None = None  # (low_hz, high_hz)
    peak_dbfs: float = -6.0  # level after gain, before clipping
    clip_ratio: float | None = None  # clip at this fraction of the peak
    seed: int = 0  # for the noise and RIR samples themselves

    def describe(self) -> str:
        parts = []
        if self.rt60_s is not None:
            parts.append(f"reverb{self.rt60_s:.2f}s")
        if self.noise is not None:
            parts.append(f"{self.noise}@{self.snr_db:.0f}dB")
        if self.band is not None:
            parts.append(f"band{self.band[0]}-{self.band[1]}")
        if self.clip_ratio is not None:
            parts.append(f"clip{self.clip_ratio:.2f}")
        parts.append(f"peak{self.peak_dbfs:.0f}dBFS")
        return "+".join(parts) if len(parts) > 1 else "clean+" + parts[0]


@dataclass(frozen=True)
class AugmentProfile:
    """Probabilities and ranges from which specs are drawn."""

    p_clean: float = 0.25  # only level and padding change
    p_reverb: float = 0.35
    rt60_s: tuple = (0.15, 0.9)
    drr_db: tuple = (-3.0, 12.0)
    p_noise: float = 0.6
    snr_db: tuple = (0.0, 30.0)
    noise_weights: dict = field(default_factory=lambda: {
        "white": 1.0, "pink": 1.5, "brown": 1.0, "blue": 0.5, "violet": 0.3, "babble": 2.0, "hum": 0.4})
    p_band: float = 0.2
    p_clip: float = 0.06
    clip_ratio: tuple = (0.25, 0.7)
    peak_dbfs: tuple = (-30.0, -1.0)
    pad_s: tuple = (0.0, 0.4)


CLEAN = AugmentProfile(p_clean=1.0)
TRAIN = AugmentProfile()


def noisy_at(snr_db: float) -> AugmentProfile:
    """Always noise (any kind) at exactly snr_db; nothing else but level."""
    return AugmentProfile(p_clean=0.0, p_reverb=0.0, p_noise=1.0, snr_db=(snr_db, snr_db), p_band=0.0,
                          p_clip=0.0, peak_dbfs=(-20.0, -3.0))


def _choose_noise(profile: AugmentProfile, rng: np.random.Generator) -> str:
    kinds = list(profile.noise_weights)
    w = np.array([profile.noise_weights[k] for k in kinds], dtype=float)
    return kinds[int(rng.choice(len(kinds), p=w / w.sum()))]


def sample_spec(profile: AugmentProfile, rng: np.random.Generator) -> AugmentSpec:
    u = lambda lo_hi: float(rng.uniform(*lo_hi))  # noqa: E731
    seed = int(rng.integers(2**31))
    lead, tail, peak = u(profile.pad_s), u(profile.pad_s), u(profile.peak_dbfs)
    if rng.random() < profile.p_clean:
        return AugmentSpec(lead_s=lead, tail_s=tail, peak_dbfs=peak, seed=seed)
    spec: dict = {"lead_s": lead, "tail_s": tail, "peak_dbfs": peak, "seed": seed}
    if rng.random() < profile.p_reverb:
        spec.update(rt60_s=u(profile.rt60_s), drr_db=u(profile.drr_db))
    if rng.random() < profile.p_noise:
        spec.update(noise=_choose_noise(profile, rng), snr_db=round(u(profile.snr_db), 1))
    if rng.random() < profile.p_band:
        spec.update(band=BANDS[int(rng.integers(len(BANDS)))])
    if rng.random() < profile.p_clip:
        spec.update(clip_ratio=u(profile.clip_ratio))
    return AugmentSpec(**spec)


def apply(speech: np.ndarray, spec: AugmentSpec, babble_sources: list[np.ndarray] = ()) -> np.ndarray:
    """Render one spec. Output is float32 in [-1, 1]."""
    rng = np.random.default_rng(spec.seed)
    x = np.concatenate([np.zeros(int(spec.lead_s * SAMPLE_RATE), np.float32), speech.astype(np.float32),
                        np.zeros(int(spec.tail_s * SAMPLE_RATE), np.float32)])
    if spec.rt60_s is not None:
        x = reverberate(x, synthetic_rir(spec.rt60_s, spec.drr_db, rng))
    if spec.noise is not None:
        x = mix_at_snr(x, make_noise(spec.noise, len(x), rng, babble_sources), spec.snr_db)
    if spec.band is not None:
        x = band_limit(x, *spec.band)
    return set_level(x, spec.peak_dbfs, spec.clip_ratio)


def make_noise(kind: str, n: int, rng: np.random.Generator, babble_sources=()) -> np.ndarray:
    if kind == "babble":
        return babble(n, list(babble_sources), rng)
    if kind == "hum":
        return hum(n, rng)
    return coloured_noise(n, kind, rng)


def set_level(x: np.ndarray, peak_dbfs: float, clip_ratio: float | None = None) -> np.ndarray:
    """Scale to peak_dbfs; with clip_ratio, drive the signal so that its top is cut off there."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak < 1e-9:
        return x.astype(np.float32)
    target = 10 ** (peak_dbfs / 20)
    if clip_ratio is None:
        return (x * (target / peak)).astype(np.float32)
    limit = target * clip_ratio
    return np.clip(x * (target / peak), -limit, limit).astype(np.float32) / clip_ratio
