"""VADs on real synthesised speech with known speech regions: frame-level F1, noise,
chunk-size invariance, and silero's model run through our own session."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.vad import GRID, add_noise, run_vad, score, speech_mask  # noqa: E402
from edge_audiollm.vad import CtcVad, EnergyVad, SileroModel, SileroVad, VadError, find_silero_model, make_vad  # noqa: E402

SR = 16000


@pytest.fixture(scope="module")
def signal(speech_16k, speech_dir):
    from edge_audiollm.audio import load_audio
    from espeak import synthesize

    other = load_audio(synthesize("what is the weather in berlin tomorrow", speech_dir / "weather.wav", voice="en")).samples
    parts, labels = [], []
    for i, x in enumerate([speech_16k, other, speech_16k]):
        gap = np.zeros(int((0.8 + 0.5 * i) * SR), np.float32)
        parts += [gap, x]
        labels += [np.zeros(gap.size, bool), speech_mask(x)]
    parts.append(np.zeros(SR, np.float32))
    labels.append(np.zeros(SR, bool))
    x, mask = np.concatenate(parts), np.concatenate(labels)
    truth = mask[: mask.size // GRID * GRID].reshape(-1, GRID).mean(axis=1) >= 0.5
    return x, mask, truth


def f1(vad, x, truth, chunk=1600):
    p, cost = run_vad(vad, x, chunk)
    return score(p >= 0.5, truth)["f1"], cost


def test_energy_vad_finds_speech(signal):
    x, mask, truth = signal
    clean, cost = f1(EnergyVad(), x, truth)
    assert clean >= 0.85 and cost < 0.05
    noisy, _ = f1(EnergyVad(), add_noise(x, mask, 20.0), truth)
    assert noisy >= 0.6
    silence = np.random.default_rng(0).standard_normal(SR * 5).astype(np.float32) * 0.003
    assert (EnergyVad()(silence) < 0.5).all()


def test_vad_is_chunk_size_invariant(signal):
    x, _, _ = signal
    va, vb = EnergyVad(), EnergyVad()
    a = np.concatenate([va(x[i:i + 1000]) for i in range(0, x.size, 1000)])
    b = np.concatenate([vb(x[i:i + 333]) for i in range(0, x.size, 333)])
    assert np.array_equal(a, b) and a.size == x.size // 320


@pytest.mark.skipif(find_silero_model() is None, reason="no silero-vad model (pip install faster-whisper)")
def test_silero_vad_through_our_session(signal):
    x, mask, truth = signal
    model = SileroModel()
    assert model.session.provider == "cpu"
    clean, _ = f1(SileroVad(model), x, truth)
    noisy, _ = f1(SileroVad(model), add_noise(x, mask, 10.0), truth)
    assert clean >= 0.85 and noisy >= 0.7
    # one shared model, two stream states: identical results
    a = SileroVad(model)(x[: SR * 2])
    b = SileroVad(model)
    b(np.zeros(SR, np.float32))
    b.reset()
    assert np.array_equal(a, b(x[: SR * 2]))


def test_missing_silero_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_AUDIOLLM_SILERO_VAD", str(tmp_path / "none.onnx"))
    with pytest.raises(VadError, match="faster-whisper"):
        SileroModel()


def test_ctc_vad_runs_the_bundle_encoder(tiny_bundle, signal):
    from edge_audiollm import Pipeline

    x, _, _ = signal
    v = make_vad("ctc", Pipeline.load(tiny_bundle))
    assert isinstance(v, CtcVad)
    p = np.concatenate([v(x[i:i + 1600]) for i in range(0, x.size, 1600)])
    assert p.size == (x.size // 8000) * 25 and np.all((p >= 0) & (p <= 1))
    # the fixture's CTC blank is biased down: its head "hears" speech everywhere
    assert p.mean() > 0.9
    with pytest.raises(VadError, match="unknown VAD"):
        make_vad("webrtc")
