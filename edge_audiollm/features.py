"""Front-ends in numpy: log-mel filterbanks and MFCC with deltas (the classical 39 dims).

Frames are 25 ms windows every 10 ms (100 frames/s), Kaldi's "snip edges" convention:
T = 1 + (N - win) // hop. models/features_torch.py computes the same numbers in torch
for training; tests/test_features.py holds the two together.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .errors import FeatureError

_LOG_FLOOR = 1e-10


@dataclass(frozen=True)
class FrontendOptions:
    sample_rate: int = 16000
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 512
    n_mels: int = 80
    fmin_hz: float = 20.0
    fmax_hz: float | None = None  # None: Nyquist
    preemphasis: float = 0.97

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000.0))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000.0))

    def validate(self) -> None:
        if self.win_length > self.n_fft:
            raise FeatureError(f"window of {self.win_length} samples is longer than n_fft={self.n_fft}; raise n_fft")
        if self.hop_length <= 0 or self.n_mels <= 0:
            raise FeatureError("hop_ms and n_mels must be positive")
        fmax = self.fmax_hz or self.sample_rate / 2
        if not 0 <= self.fmin_hz < fmax <= self.sample_rate / 2:
            raise FeatureError(f"need 0 <= fmin_hz < fmax_hz <= {self.sample_rate / 2} Hz")


@dataclass(frozen=True)
class MfccOptions:
    frontend: FrontendOptions = FrontendOptions(n_mels=40)
    n_ceps: int = 13
    delta_width: int = 2  # frames either side in the regression (HTK's DELTAWINDOW)
    lifter: int = 0  # 0: no liftering; 22 is HTK's classic value


def hz_to_mel(hz):
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float, fmax_hz: float) -> np.ndarray:
    """Triangular filters on the HTK mel scale, unnormalised: (n_fft // 2 + 1, n_mels), float32.

    Same construction as librosa.filters.mel(htk=True, norm=None), transposed.
    """
    fft_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels + 2))
    lower, centre, upper = edges_hz[:-2], edges_hz[1:-1], edges_hz[2:]
    rising = (fft_hz[:, None] - lower) / (centre - lower)
    falling = (upper - fft_hz[:, None]) / (upper - centre)
    fb = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    fb.setflags(write=False)
    return fb


@lru_cache(maxsize=16)
def _window(win_length: int) -> np.ndarray:
    w = np.hanning(win_length + 1)[:-1]  # periodic Hann, float64
    w.setflags(write=False)
    return w


def num_frames(num_samples: int, options: FrontendOptions = FrontendOptions()) -> int:
    if num_samples < options.win_length:
        return 0
    return 1 + (num_samples - options.win_length) // options.hop_length


def power_spectrum(samples: np.ndarray, options: FrontendOptions = FrontendOptions()) -> np.ndarray:
    """|STFT|^2 of pre-emphasised, Hann-windowed frames: (T, n_fft // 2 + 1) float32."""
    from scipy.fft import rfft

    # The FFT runs in float64: in float32 its rounding reaches 4e-4 in the log of quiet
    # bins (80 dB down), enough to break parity with the training front-end. It costs
    # about 10 ms per minute of audio.
    x = _check_samples(samples).astype(np.float64)
    options.validate()
    t = num_frames(len(x), options)
    if t == 0:
        raise FeatureError(
            f"audio of {len(x)} samples is shorter than one {options.win_ms:g} ms window; pass more audio"
        )
    if options.preemphasis:
        x = np.concatenate([x[:1], x[1:] - options.preemphasis * x[:-1]])
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(t, options.win_length), strides=(x.strides[0] * options.hop_length, x.strides[0])
    )
    spec = rfft(frames * _window(options.win_length), n=options.n_fft, axis=1, workers=1)
    return (spec.real * spec.real + spec.imag * spec.imag).astype(np.float32, copy=False)


def log_mel(samples: np.ndarray, options: FrontendOptions = FrontendOptions()) -> np.ndarray:
    """Natural-log mel energies: (T, n_mels) float32 at 1000 / hop_ms frames per second."""
    fb = mel_filterbank(
        options.sample_rate, options.n_fft, options.n_mels, options.fmin_hz,
        float(options.fmax_hz or options.sample_rate / 2),
    )
    mel = power_spectrum(samples, options) @ fb
    return np.log(np.maximum(mel, np.float32(_LOG_FLOOR)))


@lru_cache(maxsize=16)
def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II as a matrix (n_in, n_out): cepstra = log_mel @ D."""
    n = np.arange(n_in)[:, None]
    k = np.arange(n_out)[None, :]
    d = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    d[:, 0] *= np.sqrt(0.5)
    d = d.astype(np.float32)
    d.setflags(write=False)
    return d


def deltas(features: np.ndarray, width: int = 2) -> np.ndarray:
    """HTK regression deltas over +-width frames, edges repeated: same shape as input."""
    if features.ndim != 2:
        raise FeatureError(f"deltas need (T, F) features, got shape {features.shape}")
    t = features.shape[0]
    padded = np.pad(features, ((width, width), (0, 0)), mode="edge")
    num = np.zeros_like(features)
    for n in range(1, width + 1):
        num += n * (padded[width + n : width + n + t] - padded[width - n : width - n + t])
    return num / np.float32(2 * sum(n * n for n in range(1, width + 1)))


def mfcc(samples: np.ndarray, options: MfccOptions = MfccOptions(), *, with_deltas: bool = True) -> np.ndarray:
    """MFCC (T, n_ceps), or with deltas and double deltas (T, 3 * n_ceps): 39 dims by default."""
    lm = log_mel(samples, options.frontend)
    ceps = lm @ dct_matrix(options.frontend.n_mels, options.n_ceps)
    if options.lifter:
        n = np.arange(options.n_ceps, dtype=np.float32)
        ceps = ceps * (1.0 + options.lifter / 2.0 * np.sin(np.pi * n / options.lifter)).astype(np.float32)
    if not with_deltas:
        return ceps
    d1 = deltas(ceps, options.delta_width)
    d2 = deltas(d1, options.delta_width)
    return np.concatenate([ceps, d1, d2], axis=1)


def _check_samples(samples: np.ndarray) -> np.ndarray:
    if not isinstance(samples, np.ndarray) or samples.ndim != 1:
        raise FeatureError(
            f"features need 1-D float32 mono samples, got {getattr(samples, 'shape', type(samples).__name__)}; "
            "use edge_audiollm.audio.load_audio first"
        )
    if samples.dtype != np.float32:
        samples = samples.astype(np.float32)
    return np.ascontiguousarray(samples)
