"""Front-end speed: log-mel and MFCC on 60 s of audio on one core, against librosa and
faster-whisper's extractor run in the same process; and wall time of `edge-audiollm info`
from process start. Writes bench/results/frontend.json.

    python bench/frontend.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import pin_one_core, time_ms, write_results  # noqa: E402

pin_one_core()

import numpy as np  # noqa: E402

from edge_audiollm import features  # noqa: E402

TARGET_LOGMEL_60S_MS = 30.0
TARGET_INFO_S = 1.0


def speechlike(seconds: float, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(rate * seconds)) / rate
    phase = 2 * np.pi * np.cumsum(120 + 40 * np.sin(2 * np.pi * 0.7 * t)) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.5 * (1 + np.sin(2 * np.pi * 4 * t))) ** 2
    return (0.1 * voiced + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


def peers(x: np.ndarray) -> dict:
    out = {}
    try:
        import librosa

        out["librosa_melspectrogram"] = time_ms(
            lambda: np.log(librosa.feature.melspectrogram(y=x, sr=16000, n_fft=512, hop_length=160, win_length=400,
                                                          n_mels=80, htk=True, norm=None, center=False) + 1e-10),
            repeats=5)
    except ImportError:
        pass
    try:
        from faster_whisper.feature_extractor import FeatureExtractor

        fe = FeatureExtractor()
        out["faster_whisper_extractor"] = time_ms(lambda: fe(x, padding=0), repeats=5)
    except ImportError:
        pass
    return out


def info_wall_seconds(runs: int = 5) -> float:
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "edge_audiollm", "info"], check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def main() -> None:
    x = speechlike(60.0)
    logmel = time_ms(lambda: features.log_mel(x))
    mfcc = time_ms(lambda: features.mfcc(x))
    peer = peers(x)
    info_s = info_wall_seconds()
    print(f"log-mel, 60 s of audio, 1 core: {logmel['median_ms']:.1f} ms (target <= {TARGET_LOGMEL_60S_MS:.0f} ms)")
    print(f"MFCC+deltas (39 dims), 60 s:    {mfcc['median_ms']:.1f} ms")
    for name, r in peer.items():
        print(f"  peer {name}: {r['median_ms']:.1f} ms (ours is {r['median_ms'] / logmel['median_ms']:.2f}x faster)")
    print(f"`edge-audiollm info` wall time from process start: {info_s:.3f} s (target <= {TARGET_INFO_S:.0f} s)")
    path = write_results("frontend", {
        "logmel_60s": logmel, "mfcc_60s": mfcc, "peers_60s": peer, "info_wall_seconds": round(info_s, 4),
        "targets": {"logmel_60s_ms": TARGET_LOGMEL_60S_MS, "info_wall_seconds": TARGET_INFO_S},
        "met": {"logmel": logmel["median_ms"] <= TARGET_LOGMEL_60S_MS, "info": info_s <= TARGET_INFO_S},
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
