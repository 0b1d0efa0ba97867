"""Audio in: files or arrays of any rate and channel count -> float32 mono 16 kHz in [-1, 1].

Every public entry point of the package funnels audio through `load_audio`, so a bad
input is caught once, here, with a message that names the source and the fix.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Union

import numpy as np

from .errors import AudioError

TARGET_SAMPLE_RATE = 16000
# Resampling and codecs overshoot a little; beyond this a float array is not [-1, 1] audio.
_FLOAT_PEAK_LIMIT = 1.5
_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

AudioSource = Union[str, os.PathLike, np.ndarray]


@dataclass(frozen=True)
class Audio:
    """Validated audio: float32 mono at `sample_rate`, and where it came from."""

    samples: np.ndarray
    sample_rate: int
    source: str

    @property
    def duration_seconds(self) -> float:
        return len(self.samples) / float(self.sample_rate)


def load_audio(
    source: AudioSource,
    sample_rate: int | None = None,
    *,
    target_sample_rate: int = TARGET_SAMPLE_RATE,
) -> Audio:
    """Read a file path or an array and return validated float32 mono audio.

    Arrays need `sample_rate`; files carry their own. 2-D arrays are (frames, channels),
    as soundfile returns them, and are averaged to mono.
    """
    if isinstance(source, (str, os.PathLike)):
        if sample_rate is not None:
            raise AudioError(
                f"{os.fspath(source)}: sample_rate is only for arrays; a file carries its own rate"
            )
        samples, rate = _read_file(Path(source))
        name = os.fspath(source)
    elif isinstance(source, np.ndarray):
        if sample_rate is None:
            raise AudioError("an array needs its sample rate: pass sample_rate=16000 (or the rate it was recorded at)")
        samples, rate, name = source, sample_rate, "<array>"
    else:
        raise AudioError(
            f"cannot read audio from a {type(source).__name__}: pass a file path or a numpy array with sample_rate"
        )
    mono = validate_audio(samples, rate, name=name)
    return Audio(resample(mono, rate, target_sample_rate), target_sample_rate, name)


def validate_audio(samples: np.ndarray, sample_rate: int, *, name: str = "<array>") -> np.ndarray:
    """Check dtype, shape, rate and values; return float32 mono in [-1, 1] at the same rate."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise AudioError(f"{name}: sample rate must be a positive integer in Hz, got {sample_rate!r}")
    if not isinstance(samples, np.ndarray):
        raise AudioError(f"{name}: audio must be a numpy array, got {type(samples).__name__}")
    if samples.ndim == 2:
        samples = _downmix(samples, name)
    elif samples.ndim != 1:
        raise AudioError(f"{name}: audio must be 1-D (frames,) or 2-D (frames, channels), got shape {samples.shape}")
    if samples.size == 0:
        raise AudioError(f"{name}: holds no audio samples (0 frames); pass at least a few milliseconds of audio")

    dtype = samples.dtype
    if dtype in _INT_SCALE:
        return (samples.astype(np.float32) / np.float32(_INT_SCALE[dtype])).astype(np.float32)
    if dtype not in _FLOAT_DTYPES:
        raise AudioError(
            f"{name}: unsupported sample type {dtype}; use int16, int32, float32 or float64"
        )
    if not np.all(np.isfinite(samples)):
        bad = int(np.size(samples) - np.count_nonzero(np.isfinite(samples)))
        raise AudioError(f"{name}: {bad} samples are NaN or infinite; the recording is corrupt, re-record or re-export it")
    peak = float(np.max(np.abs(samples)))
    if peak > _FLOAT_PEAK_LIMIT:
        raise AudioError(
            f"{name}: float audio must lie in [-1, 1] but peaks at {peak:.4g}; "
            "if these are int16 sample values, pass them as np.int16 or divide by 32768"
        )
    return np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling (scipy), exact rational ratio; returns float32."""
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly  # scipy.signal is slow to import; only when needed

    g = gcd(int(from_rate), int(to_rate))
    out = resample_poly(samples.astype(np.float32), to_rate // g, from_rate // g)
    return np.clip(out, -1.0, 1.0).astype(np.float32, copy=False)


def _downmix(samples: np.ndarray, name: str) -> np.ndarray:
    frames, channels = samples.shape
    if channels == 0:
        raise AudioError(f"{name}: audio has zero channels (shape {samples.shape})")
    if frames <= 8 and channels > 100 * max(frames, 1):
        raise AudioError(
            f"{name}: shape {samples.shape} looks like (channels, frames); "
            "pass (frames, channels), e.g. samples.T"
        )
    if channels == 1:
        return samples[:, 0]
    if samples.dtype in _INT_SCALE:
        samples = samples.astype(np.float64) / _INT_SCALE[samples.dtype]
    return samples.mean(axis=1)


def _read_file(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if not path.exists():
        raise AudioError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory; pass an audio file (WAV, FLAC or OGG)")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes); record or export it again")
    _check_wav_complete(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioError(
            f"{path}: not audio that can be decoded ({detail}); convert it to WAV, FLAC or OGG, "
            "e.g. `sox input output.wav` or `ffmpeg -i input output.wav`"
        ) from None
    if data.shape[1] == 0:
        raise AudioError(f"{path}: the file has zero channels")
    if data.shape[0] == 0:
        raise AudioError(f"{path}: holds no audio samples (0 frames); record or export it again")
    return data, int(rate)


def _check_wav_complete(path: Path) -> None:
    """Refuse a WAV whose data chunk is shorter than its header says.

    libsndfile quietly reads what is there, so a cut-off download or an interrupted
    recording would otherwise be transcribed as if it were whole.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return  # not a RIFF WAV: soundfile decides
        if head[:4] == b"RF64":
            return  # 64-bit sizes live in a ds64 chunk; leave it to libsndfile
        file_size = path.stat().st_size
        pos = 12
        while pos + 8 <= file_size:
            f.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                available = file_size - (pos + 8)
                # 0 and 0xFFFFFFFF are "unknown size" markers written by streaming recorders.
                if chunk_size not in (0, 0xFFFFFFFF) and available < chunk_size:
                    raise AudioError(
                        f"{path}: the WAV is truncated (header promises {chunk_size} data bytes, "
                        f"the file holds {available}); re-copy or re-record it"
                    )
                return
            pos += 8 + chunk_size + (chunk_size & 1)
    raise AudioError(f"{path}: the WAV has no data chunk; the file is damaged, re-export it")
