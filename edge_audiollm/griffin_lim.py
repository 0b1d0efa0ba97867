"""Phase from magnitudes: fast Griffin-Lim (Perraudin, Balazs and Sondergaard 2013) in numpy.

The spectral codec's decoder graph ends at linear STFT magnitudes (Whisper's framing: n_fft 400,
hop 160, periodic Hann, centred frames with reflect padding, T = samples / 160 frames); this turns
them into a waveform. Each iteration is an inverse STFT, an STFT and a phase update with momentum
(0.99: the "fast" variant, which reaches in 32 iterations what plain Griffin-Lim needs hundreds
for). The start phase comes from a fixed seed, so a decode is the same samples every time.

Runtime module: numpy and scipy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import fft as sfft  # numpy's float32 rfft is 3x slower than scipy's here

from .features_whisper import HOP_LENGTH as HOP
from .features_whisper import N_FFT, _hann


@dataclass(frozen=True)
class GriffinLimOptions:
    iterations: int = 32
    momentum: float = 0.99
    seed: int = 0

    def __post_init__(self):
        if self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    w = _hann(N_FFT).astype(np.float32)  # Whisper's periodic Hann: the frames the codec's mel was made from
    w.setflags(write=False)
    return w


def stft(samples: np.ndarray) -> np.ndarray:
    """(N,) -> (N // HOP, N_FFT // 2 + 1) complex, Whisper's framing (its last frame dropped)."""
    pad = N_FFT // 2
    x = np.pad(np.asarray(samples, np.float32), (pad, pad), mode="reflect" if len(samples) > pad else "constant")
    n_frames = len(samples) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP][:n_frames]
    return sfft.rfft(frames * _window(), axis=1)


@lru_cache(maxsize=8)
def _overlap_norm(n_frames: int) -> np.ndarray:
    w2 = np.broadcast_to(_window() ** 2, (n_frames, N_FFT))
    norm = _overlap_add(w2)
    norm = np.maximum(norm, 1e-8)
    norm.setflags(write=False)
    return norm


def _overlap_add(frames: np.ndarray) -> np.ndarray:
    """(T, N_FFT) frames at hop HOP -> ((T - 1) * HOP + N_FFT,) samples, in a few vector adds."""
    t = frames.shape[0]
    k = -(-N_FFT // HOP)  # blocks of HOP samples a frame spans
    blocks = np.zeros((t, k * HOP), np.float32)
    blocks[:, :N_FFT] = frames
    blocks = blocks.reshape(t, k, HOP)
    out = np.zeros((t + k - 1, HOP), np.float32)
    for j in range(k):
        out[j : j + t] += blocks[:, j]
    return out.reshape(-1)[: (t - 1) * HOP + N_FFT]


def istft(spectrum: np.ndarray) -> np.ndarray:
    """(T, N_FFT // 2 + 1) complex -> (T * HOP,) samples: least-squares overlap-add, the inverse of stft."""
    t = spectrum.shape[0]
    frames = sfft.irfft(spectrum, n=N_FFT, axis=1) * _window()
    y = _overlap_add(frames) / _overlap_norm(t)
    pad = N_FFT // 2
    return y[pad : pad + t * HOP]


def griffin_lim(magnitude: np.ndarray, options: GriffinLimOptions = GriffinLimOptions()) -> np.ndarray:
    """(T, N_FFT // 2 + 1) non-negative magnitudes -> (T * HOP,) float32 samples in [-1, 1]."""
    # float32 throughout: numpy's FFT keeps single precision, twice as fast, and 24 bits is far
    # below what Griffin-Lim's own inconsistency leaves in the audio.
    mag = np.asarray(magnitude, np.float32)
    if mag.ndim != 2 or mag.shape[1] != N_FFT // 2 + 1:
        raise ValueError(f"magnitudes must be (frames, {N_FFT // 2 + 1}), got shape {mag.shape}")
    if mag.shape[0] == 0:
        return np.zeros(0, np.float32)
    rng = np.random.default_rng(options.seed)
    phase = np.exp(2j * np.pi * rng.random(mag.shape)).astype(np.complex64)
    previous = None
    for _ in range(options.iterations):
        projected = stft(istft(mag * phase))
        # The momentum step over-relaxes toward the consistent spectrum (the "fast" variant).
        accelerated = projected if previous is None else projected + options.momentum * (projected - previous)
        previous = projected
        phase = accelerated / np.maximum(np.abs(accelerated), np.float32(1e-12))
    return np.clip(istft(mag * phase), -1.0, 1.0).astype(np.float32)
