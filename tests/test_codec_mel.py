"""The spectral codec (log-mel -> residual VQ -> log-mel, Griffin-Lim for the phase) in its tiny
configuration: train, export with parity, decode through the runtime; Griffin-Lim on its own."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from edge_audiollm.griffin_lim import GriffinLimOptions, griffin_lim, istft, stft

torch = pytest.importorskip("torch")

from models.codec.config import CodecConfig  # noqa: E402
from models.codec.train import CONFIGS, load_codec, train  # noqa: E402

MEL_TINY = CONFIGS["mel-tiny"]


@pytest.fixture(scope="module")
def mel_bundle(tmp_path_factory, speech_wav, speech_wav2):
    from export.codec_export import build_codec_bundle

    root = tmp_path_factory.mktemp("mel_corpus")
    for src in (speech_wav, speech_wav2):
        shutil.copy(src, root / src.name)
    (root / "train.jsonl").write_text("".join(json.dumps({"path": s.name, "text": "x"}) + "\n" for s in (speech_wav, speech_wav2)))
    ckpt = tmp_path_factory.mktemp("mel_ckpt")
    state = train(replace(MEL_TINY, corpus=str(root), ckpt=str(ckpt)), log=lambda *_: None)
    codec, _ = load_codec(ckpt)
    codec.corpus, codec.ckpt = root, ckpt  # for the fine-tuning test
    return state, codec, build_codec_bundle(codec, tmp_path_factory.mktemp("mel_bundle") / "codec", name="mel-fixture")


def test_stft_round_trip_is_exact(speech_16k):
    x = speech_16k[: 160 * 50]
    assert np.max(np.abs(istft(stft(x)) - x)) < 1e-5


def test_griffin_lim_recovers_speech_from_its_magnitudes(speech_16k):
    x = speech_16k[: 160 * 200]
    mag = np.abs(stft(x))
    y = griffin_lim(mag, GriffinLimOptions(iterations=32))
    assert y.shape == x.shape and y.dtype == np.float32
    # spectral convergence: the rebuilt signal's magnitudes against the ones asked for
    err = np.linalg.norm(np.abs(stft(y)) - mag) / np.linalg.norm(mag)
    random_phase = np.linalg.norm(np.abs(stft(griffin_lim(mag, GriffinLimOptions(iterations=0)))) - mag) / np.linalg.norm(mag)
    assert err < 0.25 and err < random_phase / 2, (err, random_phase)
    assert np.array_equal(y, griffin_lim(mag, GriffinLimOptions(iterations=32)))  # seeded: the same every time


def test_griffin_lim_refuses_bad_options():
    with pytest.raises(ValueError, match="momentum must be in"):
        GriffinLimOptions(momentum=1.0)
    with pytest.raises(ValueError, match="iterations must be >= 0"):
        GriffinLimOptions(iterations=-1)


def test_config_refuses_unknown_kinds():
    with pytest.raises(ValueError, match="kind"):
        CodecConfig(kind="wavelet")


def test_mel_codec_trains_and_exports_with_parity(mel_bundle):
    state, codec, bundle = mel_bundle
    assert state["step"] == MEL_TINY.steps and np.isfinite(state["losses"][-1]["loss"])
    m = json.loads((bundle / "manifest.json").read_text())
    assert m["decoder"]["outputs"] == ["magnitude"] and m["vocoder"]["kind"] == "griffin_lim"
    assert m["config"]["kind"] == "mel" and m["hop_samples"] == 1280 and m["frame_rate_hz"] == 12.5
    # causal layers: what a frame waits for is the STFT window's right half and the decoder's overlap, under a frame
    assert 200 <= m["lookahead_samples"] < 1280 + 200
    assert m["metrics"]["parity"]["code_agreement"] >= 0.99


def test_mel_codec_decodes_through_the_runtime(mel_bundle, speech_16k):
    from edge_audiollm.codec import Codec

    _, model, bundle = mel_bundle
    codec = Codec.load(bundle, providers=["cpu"], threads=1)
    assert codec.vocoder == GriffinLimOptions(32, 0.99, 0)
    tokens = codec.encode(speech_16k, 16000)
    frames = -(-len(speech_16k) // 1280)
    assert tokens.codes.shape == (3, frames) and tokens.bitrate_bps == 3 * 4 * 12.5
    audio = codec.decode(tokens)
    assert audio.shape == (frames * 1280,) and audio.dtype == np.float32 and np.all(np.isfinite(audio))
    # the graph's magnitudes are torch's (relative to their scale), and Griffin-Lim runs on them
    mag = codec.decoder.run({"codes": tokens.codes}, ["magnitude"])[0][0]
    with torch.no_grad():
        expected = model.magnitude(model.quantizer.decode(torch.from_numpy(tokens.codes)).t()[None])[0].numpy()
    assert np.max(np.abs(mag - expected)) / max(1.0, np.abs(expected).max()) < 1e-3
    assert np.array_equal(audio, griffin_lim(mag, codec.vocoder))


def test_unknown_vocoder_is_refused(mel_bundle, tmp_path):
    from edge_audiollm.codec import Codec
    from edge_audiollm.errors import BundleError

    copy = tmp_path / "codec"
    shutil.copytree(mel_bundle[2], copy)
    m = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**m, "vocoder": {"kind": "hifigan"}}))
    codec = Codec.load(copy, providers=["cpu"], threads=1)
    with pytest.raises(BundleError, match="vocoder 'hifigan' is not known"):
        codec.vocoder


# ---------------------------------------------------------------------------- the shipped codec


def test_shipped_codec_keeps_speech_intelligible_at_1500_bits_per_second(tmp_path):
    """The committed bundle on a voice it never trained on (the quick start's example): the contract's
    rate and bit budget, a file size that ships, STOI against the original, and the CLI's default."""
    import subprocess
    import sys

    from bench.codec_metrics import measures
    from edge_audiollm.audio import load_audio
    from edge_audiollm.codec import DEFAULT_CODEC_DIR, Codec, load_tokens

    codec = Codec.load(providers=["cpu"], threads=1)
    assert codec.path.resolve() == DEFAULT_CODEC_DIR.resolve()
    assert codec.frame_rate_hz <= 12.5 and codec.bitrate_bps() <= 1500
    assert sum(f.stat().st_size for f in DEFAULT_CODEC_DIR.rglob("*") if f.is_file()) <= 10 * 2**20
    wav = DEFAULT_CODEC_DIR.parents[1] / "assets" / "set_an_alarm.wav"
    x = load_audio(wav).samples
    full = measures(x, codec.decode(codec.encode(x, 16000))[: len(x)])
    first = measures(x, codec.decode(codec.encode(x, 16000, n_codebooks=1))[: len(x)])
    assert full["stoi"] > 0.8 and full["stoi"] > first["stoi"], (full, first)
    npz = tmp_path / "alarm.npz"
    p = subprocess.run([sys.executable, "-m", "edge_audiollm", "codec", "encode", str(wav), str(npz)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert load_tokens(npz).codes.shape == (codec.n_codebooks, -(-len(x) // codec.hop_samples))


def test_detail_terms_are_zero_on_exact_mels_and_see_smoothing():
    from models.codec.losses import mel_detail_l1

    torch.manual_seed(0)
    ref = torch.randn(2, 8, 40) - 3.0
    loud, delta = mel_detail_l1(ref.clone(), ref)
    assert float(loud) == 0.0 and float(delta) == 0.0
    smooth = torch.nn.functional.avg_pool1d(ref, 5, 1, 2, count_include_pad=False)
    loud, delta = mel_detail_l1(smooth, ref)
    assert float(delta) > 0.3 and float(loud) > 0.3


def test_decoder_fine_tune_keeps_the_codes(mel_bundle, tmp_path):
    """train_parts 'decoder' from init_from: encoder and codebooks unchanged (token files stay valid),
    the decoder moves."""
    _, codec, _ = mel_bundle
    cfg = replace(MEL_TINY, corpus=str(codec.corpus), ckpt=str(tmp_path / "ft"), init_from=str(codec.ckpt),
                  train_parts="decoder", loud_weight=1.0, delta_weight=1.0, steps=3)
    state = train(cfg, log=lambda *_: None)
    assert state["step"] == 3 and {"loud", "delta"} <= set(state["losses"][-1])
    tuned, _ = load_codec(tmp_path / "ft")
    before, after = codec.state_dict(), tuned.state_dict()
    frozen = [k for k in before if k.startswith(("encoder.", "quantizer."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    with pytest.raises(ValueError, match="train_parts must be"):
        train(replace(cfg, ckpt=str(tmp_path / "bad"), train_parts="everything"), log=lambda *_: None)


def test_lookahead_decoder_starts_as_the_causal_one_and_states_its_lookahead(mel_bundle, tmp_path):
    """Look-ahead units added to a trained causal decoder change nothing until trained (their output
    conv starts at zero); once they move, frame t's mel reads later codes and the measured look-ahead
    grows by whole code frames. A codec of another shape is refused as a starting point."""
    from models.codec.model import build_codec
    from models.codec.train import load_init

    _, codec, _ = mel_bundle
    cfg = replace(codec.cfg, decoder_lookahead_frames=2)
    ahead = build_codec(cfg).eval()
    load_init(ahead, codec.ckpt / "codec.safetensors")
    x = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (1, 1, 12 * cfg.hop_samples)).astype(np.float32))
    with torch.no_grad():
        assert torch.equal(ahead(x).log_mel_hat, codec(x).log_mel_hat)
        for unit in ahead.decoder.lookahead:
            torch.nn.init.normal_(unit.conv2.weight, std=0.1)
    assert ahead.lookahead_samples() - codec.lookahead_samples() >= cfg.hop_samples
    with pytest.raises(ValueError, match="another shape"):
        load_init(build_codec(replace(cfg, latent_dim=cfg.latent_dim * 2)), codec.ckpt / "codec.safetensors")
