"""features.py: numpy front-end against the torch training front-end and librosa."""

import numpy as np
import pytest

from edge_audiollm import features as F
from edge_audiollm.errors import FeatureError


def test_shapes_and_frame_rate(speech_16k):
    lm = F.log_mel(speech_16k)
    assert lm.shape == (1 + (len(speech_16k) - 400) // 160, 80) and lm.dtype == np.float32
    m = F.mfcc(speech_16k)
    assert m.shape == (lm.shape[0], 39)
    assert np.all(np.isfinite(lm)) and np.all(np.isfinite(m))


def test_numpy_and_torch_front_ends_agree(speech_16k):
    torch = pytest.importorskip("torch")
    from models.features_torch import LogMel, Mfcc

    x = torch.from_numpy(speech_16k)
    assert np.max(np.abs(F.log_mel(speech_16k) - LogMel()(x).numpy())) <= 1e-4
    assert np.max(np.abs(F.mfcc(speech_16k) - Mfcc()(x).numpy())) <= 1e-4
    batch = torch.stack([x, x])
    assert LogMel()(batch).shape == (2, *F.log_mel(speech_16k).shape)


def test_mel_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa")
    ours = F.mel_filterbank(16000, 512, 80, 20.0, 8000.0)
    ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=20.0, fmax=8000.0, htk=True, norm=None)
    np.testing.assert_allclose(ours, ref.T, atol=1e-6)


def test_mfcc_and_deltas_match_librosa(speech_16k):
    librosa = pytest.importorskip("librosa")
    opts = F.MfccOptions()
    lm = F.log_mel(speech_16k, opts.frontend)
    ceps = F.mfcc(speech_16k, opts, with_deltas=False)
    ref = librosa.feature.mfcc(S=lm.T.astype(np.float64), n_mfcc=13, dct_type=2, norm="ortho", lifter=0).T
    np.testing.assert_allclose(ceps, ref, atol=1e-4)
    # librosa's delta is a Savitzky-Golay derivative: the same regression on interior frames.
    d_ref = librosa.feature.delta(ceps.T.astype(np.float64), width=5, order=1, mode="interp").T
    np.testing.assert_allclose(F.deltas(ceps)[2:-2], d_ref[2:-2], atol=1e-4)


def test_hand_checked_formulas():
    # HTK mel: 1000 Hz is 999.99 mel; the DCT matrix is orthonormal.
    assert abs(float(F.hz_to_mel(1000.0)) - 999.9855) < 1e-3
    np.testing.assert_allclose(F.mel_to_hz(F.hz_to_mel(np.array([123.0, 4567.0]))), [123.0, 4567.0])
    d = F.dct_matrix(40, 40).astype(np.float64)
    np.testing.assert_allclose(d.T @ d, np.eye(40), atol=1e-5)
    # A pure tone lands in the mel bin whose centre is nearest to it.
    t = np.arange(16000) / 16000
    lm = F.log_mel((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    centres = F.mel_to_hz(np.linspace(F.hz_to_mel(20.0), F.hz_to_mel(8000.0), 82))[1:-1]
    assert int(np.argmax(lm.mean(axis=0))) == int(np.argmin(np.abs(centres - 1000)))


def test_short_and_bad_input_raise():
    with pytest.raises(FeatureError, match="shorter than one"):
        F.log_mel(np.zeros(100, np.float32))
    with pytest.raises(FeatureError, match="1-D"):
        F.log_mel(np.zeros((10, 10), np.float32))
    with pytest.raises(FeatureError, match="n_fft"):
        F.log_mel(np.zeros(1000, np.float32), F.FrontendOptions(win_ms=50.0, n_fft=512))
