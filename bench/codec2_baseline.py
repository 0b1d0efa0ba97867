"""Codec2 as the classical low-bitrate baseline for bench/codec.py: Debian's `codec2` package
(`apt-get install -y codec2`), run as its command-line tools on 8 kHz signed 16-bit raw audio.

16 kHz -> 8 kHz (polyphase, scipy) -> c2enc MODE -> c2dec MODE -> 8 kHz -> 16 kHz, trimmed or
zero-padded to the input's length. Codec2 is narrow-band: everything above 4 kHz is gone by
construction, and it is parametric, so its waveform does not follow the input's phase.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

# Bit rate -> the mode name c2enc and c2dec take.
MODES = {3200: "3200", 2400: "2400", 1600: "1600", 1400: "1400", 1300: "1300", 1200: "1200", 700: "700C"}


def available() -> bool:
    return shutil.which("c2enc") is not None and shutil.which("c2dec") is not None


def roundtrip(samples: np.ndarray, bitrate: int, sample_rate: int = 16000) -> tuple[np.ndarray, int]:
    """float32 mono at 16 kHz -> (Codec2-decoded float32 at 16 kHz, same length; bytes of the bit stream)."""
    from scipy.signal import resample_poly

    if bitrate not in MODES:
        raise ValueError(f"Codec2 has no {bitrate} bit/s mode; choose from {sorted(MODES)}")
    if sample_rate != 16000:
        raise ValueError("the Codec2 baseline takes 16 kHz audio")
    narrow = resample_poly(samples.astype(np.float64), 1, 2)
    pcm = np.clip(np.round(narrow * 32767.0), -32768, 32767).astype("<i2")
    with tempfile.TemporaryDirectory() as tmp:
        raw_in, bits, raw_out = (Path(tmp) / n for n in ("in.raw", "out.c2", "out.raw"))
        pcm.tofile(raw_in)
        mode = MODES[bitrate]
        subprocess.run(["c2enc", mode, str(raw_in), str(bits)], check=True, capture_output=True)
        subprocess.run(["c2dec", mode, str(bits), str(raw_out)], check=True, capture_output=True)
        decoded = np.fromfile(raw_out, dtype="<i2").astype(np.float64) / 32768.0
        n_bytes = bits.stat().st_size
    wide = resample_poly(decoded, 2, 1)[: len(samples)]
    out = np.zeros(len(samples), np.float32)
    out[: len(wide)] = np.clip(wide, -1.0, 1.0)
    return out, n_bytes
