"""Whisper's log-mel front-end, exactly, in numpy.

Whisper's recipe (openai/whisper audio.py): centred STFT with reflect padding,
n_fft 400 (25 ms), hop 160 (10 ms), periodic Hann window; power spectrum with the
last STFT frame dropped (so T = len(samples) // 160); 80 (or 128) Slaney-scale mel
bins with Slaney area normalisation (librosa's defaults); log10 of max(x, 1e-10);
floor at (utterance max - 8); then (x + 4) / 4.

Runtime module: numpy only. Output is (T, n_mels) float32 at 100 frames/s, our
feature layout (time first), i.e. the transpose of Whisper's (n_mels, T).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from edge_audiollm.errors import FeatureError

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH  # 100


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above (librosa htk=False)."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    log_region = f >= min_log_hz
    mels = np.where(log_region, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)
    return mels


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = 80, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """(n_mels, n_fft//2 + 1) float32 Slaney mel filterbank, as librosa.filters.mel
    with its defaults (fmin 0, fmax sr/2, htk False, norm "slaney"), which is what
    Whisper's mel_filters.npz holds."""
    fft_freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    mel_pts = np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2)
    hz_pts = _mel_to_hz(mel_pts)
    fdiff = np.diff(hz_pts)
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_pts[2:] - hz_pts[:-2]))[:, None]  # equal area per band
    out = weights.astype(np.float32)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=2)
def _hann(n: int) -> np.ndarray:
    # Periodic Hann (torch.hann_window default), not numpy's symmetric one.
    w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)
    w.setflags(write=False)
    return w


def _power_spectrum(x: np.ndarray) -> np.ndarray:
    """|STFT|^2, (n_frames, n_fft//2 + 1), centred frames, last frame dropped."""
    pad = N_FFT // 2
    padded = np.pad(x, (pad, pad), mode="reflect")
    n_frames = 1 + (len(padded) - N_FFT) // HOP_LENGTH
    frames = np.lib.stride_tricks.as_strided(
        padded,
        shape=(n_frames, N_FFT),
        strides=(padded.strides[0] * HOP_LENGTH, padded.strides[0]),
        writeable=False,
    )
    # float64 FFT: rounding then stays well below float32 Whisper's own differences.
    spec = np.fft.rfft(frames * _hann(N_FFT).astype(np.float64), axis=-1)
    power = spec.real**2 + spec.imag**2
    return power[:-1]  # Whisper drops the last STFT frame: T = len // hop


def whisper_log_mel(
    samples_16k: np.ndarray, n_mels: int = 80, pad_to_seconds: float | None = None
) -> np.ndarray:
    """Whisper log-mel features, (T, n_mels) float32, T = len(samples) // 160.

    ``samples_16k``: mono float audio at 16 kHz in [-1, 1] (1-D).
    ``pad_to_seconds``: zero-pad the audio to this length first (30 gives Whisper's own
    3000-frame window); audio longer than that is an error, not silently cut.
    """
    x = np.asarray(samples_16k)
    if x.ndim != 1:
        raise FeatureError(f"whisper_log_mel wants 1-D mono samples, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise FeatureError(
            f"whisper_log_mel wants float samples in [-1, 1], got {x.dtype}; "
            "convert int16 with samples / 32768"
        )
    if n_mels not in (80, 128):
        raise FeatureError(f"Whisper uses 80 or 128 mel bins, got n_mels={n_mels}")
    if not np.all(np.isfinite(x)):
        raise FeatureError("audio contains NaN or infinite samples")
    x = x.astype(np.float32, copy=False)
    if pad_to_seconds is not None:
        target = int(round(pad_to_seconds * SAMPLE_RATE))
        if len(x) > target:
            raise FeatureError(
                f"audio is {len(x) / SAMPLE_RATE:.2f} s, longer than pad_to_seconds={pad_to_seconds}; "
                "split it into windows first"
            )
        x = np.pad(x, (0, target - len(x)))
    if len(x) <= N_FFT // 2:
        raise FeatureError(
            f"audio too short for Whisper features: {len(x)} samples, need more than {N_FFT // 2} "
            f"({(N_FFT // 2 + 1) / SAMPLE_RATE * 1000:.1f} ms)"
        )
    mel = _power_spectrum(x.astype(np.float64)) @ mel_filters(n_mels).T.astype(np.float64)
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)
