"""Whisper log-mel in numpy: frame count, layout, and agreement with the references."""

import numpy as np
import pytest

from edge_audiollm.errors import FeatureError
from edge_audiollm.features_whisper import mel_filters, whisper_log_mel


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    # A gliding harmonic tone with a syllable-rate envelope and a little noise: enough
    # spectral structure for the log/clamp path, no audio files needed.
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
    return (0.1 * voiced * env + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.mark.parametrize("n_samples", [201, 400, 16000, 16159, 16160, 53920])
def test_frame_count_drops_last_stft_frame(n_samples):
    x = _speechlike(n_samples / 16000)[:n_samples]
    feats = whisper_log_mel(x)
    assert feats.shape == (n_samples // 160, 80)
    assert feats.dtype == np.float32


def test_pad_to_30_seconds_gives_whisper_window():
    feats = whisper_log_mel(_speechlike(3.3), pad_to_seconds=30)
    assert feats.shape == (3000, 80)
    # The padding is silence: clamped at (max - 8), i.e. (max - 8 + 4) / 4 after scaling.
    assert np.allclose(feats[-100:], feats.max() - 2.0, atol=1e-6)


def test_content_frames_do_not_depend_on_padding():
    x = _speechlike(2.0)
    own = whisper_log_mel(x)
    padded = whisper_log_mel(x, pad_to_seconds=30)
    # All but the last frames (whose windows reach into the padding) agree exactly.
    np.testing.assert_allclose(own[:-2], padded[: len(own) - 2], atol=1e-6)


def test_mel_filters_match_librosa():
    librosa = pytest.importorskip("librosa")
    for n_mels in (80, 128):
        ref = librosa.filters.mel(sr=16000, n_fft=400, n_mels=n_mels)
        np.testing.assert_allclose(mel_filters(n_mels), ref, atol=1e-7)


@pytest.mark.parametrize("pad", [None, 30])
def test_matches_faster_whisper_feature_extractor(pad, capsys):
    fe_mod = pytest.importorskip("faster_whisper.feature_extractor")
    x = _speechlike(3.37, seed=1)
    ours = whisper_log_mel(x, pad_to_seconds=pad)
    ref_in = x if pad is None else np.pad(x, (0, 16000 * pad - len(x)))
    # padding=0: faster-whisper's default adds one hop of zeros (one extra frame).
    ref = fe_mod.FeatureExtractor(feature_size=80)(ref_in, padding=0).T
    assert ours.shape == ref.shape
    diff = float(np.abs(ours - ref).max())
    with capsys.disabled():
        print(f"\nwhisper_log_mel vs faster-whisper (pad={pad}): max abs diff {diff:.2e}")
    assert diff < 1e-4


@pytest.mark.parametrize(
    "bad, kwargs",
    [
        (np.zeros((2, 16000), np.float32), {}),
        (np.zeros(16000, np.int16), {}),
        (np.full(16000, np.nan, np.float32), {}),
        (np.zeros(100, np.float32), {}),
        (np.zeros(16000 * 31, np.float32), {"pad_to_seconds": 30}),
        (np.zeros(16000, np.float32), {"n_mels": 64}),
    ],
)
def test_bad_input_raises_feature_error(bad, kwargs):
    with pytest.raises(FeatureError):
        whisper_log_mel(bad, **kwargs)
