"""The discrete path (issue 9): codec tokens -> embeddings -> LLM, in torch and through a real bundle
whose encoder is the shipped codec's ONNX graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
CODEC = ROOT / "edge_audiollm" / "bundles" / "codec"


def test_embeddings_are_the_sum_of_each_codebooks_rows():
    from models.adapters.codec_tokens import CodecTokenAdapter, CodecTokenAdapterConfig

    torch.manual_seed(0)
    a = CodecTokenAdapter(CodecTokenAdapterConfig(llm_dim=8, codebooks=3, input_codebooks=4, codebook_size=16,
                                                  embed_dim=6, hidden_dim=12)).eval()
    codes = torch.tensor([[[1, 2, 3, 9], [15, 0, 7, 9]]], dtype=torch.float32)  # (1, T=2, 4 codebooks)
    table = a.embed.weight
    want = torch.stack([table[1] + table[16 + 2] + table[32 + 3], table[15] + table[16 + 0] + table[32 + 7]])
    with torch.no_grad():
        got = a(codes)[0]
        assert torch.allclose(got, a.mlp(a.norm(want)), atol=1e-6)
        # the fourth codebook is not read; out-of-range values are clamped into the table, never gathered past it
        other = codes.clone()
        other[..., 3] = 0
        assert torch.allclose(a(other), a(codes))
        wild = torch.tensor([[[-5.0, 99.0, 3.0, 0.0]]])
        clamped = torch.tensor([[[0.0, 15.0, 3.0, 0.0]]])
        assert torch.allclose(a(wild), a(clamped))
    assert a.output_lengths(torch.tensor([7])).tolist() == [7]  # one LLM vector per codec frame


def test_codebooks_outside_the_codec_are_refused():
    from models.adapters.codec_tokens import CodecTokenAdapterConfig

    with pytest.raises(ValueError, match="codebooks must be in 1..12"):
        CodecTokenAdapterConfig(codebooks=13)


@pytest.fixture(scope="module")
def codec_bundle(tmp_path_factory):
    pytest.importorskip("onnx")
    from export.tiny_bundle import build_tiny_bundle
    from models.adapters.codec_tokens import CodecTokenAdapter, CodecTokenAdapterConfig
    from models.llm import LLMConfig, TinyLM
    from models.train.variant_bundle import build_codec_variant_bundle

    tmp = tmp_path_factory.mktemp("codec_tokens")
    base = build_tiny_bundle(tmp / "base")
    vocab = json.loads((base / "manifest.json").read_text())["llm"]["vocab"]
    torch.manual_seed(0)
    lm = TinyLM(LLMConfig(vocab_size=len(vocab), dim=32, n_layers=2, n_heads=2, ffn_dim=64))
    adapter = CodecTokenAdapter(CodecTokenAdapterConfig(llm_dim=32, codebooks=2, embed_dim=16, hidden_dim=32))
    # an adapter that learned another codec's codes is refused before anything is written
    with pytest.raises(ValueError, match="another codec encoder"):
        build_codec_variant_bundle(tmp / "stale", base=base, codec_dir=CODEC, name="codec-stale", adapter=adapter, lm=lm,
                                   quantize=False, training={"codec_encoder_sha256": "0" * 64}, log=lambda *m: None)
    assert not (tmp / "stale").exists()
    sha = json.loads((CODEC / "manifest.json").read_text())["files"]["codec_encoder.onnx"]["sha256"]
    return build_codec_variant_bundle(tmp / "bundle", base=base, codec_dir=CODEC, name="codec-test", adapter=adapter,
                                      lm=lm, quantize=False, training={"data": "none", "codec_encoder_sha256": sha},
                                      log=lambda *m: None)


def _speechlike(seconds: float = 1.3) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_a_codec_token_bundle_runs_on_the_codecs_own_codes(codec_bundle):
    from edge_audiollm.codec import Codec
    from edge_audiollm.pipeline import Pipeline

    p = Pipeline.load(codec_bundle)
    x = _speechlike()
    hidden, log_probs, timings = p.encode(x)
    codes = Codec.load(CODEC).encode(x, 16000).codes  # (12, T)
    assert log_probs is None and "encoder" in timings
    assert hidden.shape == (codes.shape[1], 12)
    assert np.array_equal(hidden.astype(np.int64), codes.T)
    embeds = p.adapt(hidden, None)
    assert embeds.shape == (codes.shape[1], 32)  # 12.5 Hz in, 12.5 Hz out
    assert isinstance(p.transcribe(x, 16000).text, str)
    assert p.understand(x, 16000).intent  # a parsed answer, whatever the random LLM says


def test_an_unknown_encoder_input_is_refused(codec_bundle, tmp_path):
    import shutil

    from edge_audiollm.errors import BundleError
    from edge_audiollm.pipeline import Pipeline

    bad = tmp_path / "bad"
    shutil.copytree(codec_bundle, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["encoder"]["input"] = "spikes"
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="encoder input must be 'features' or 'waveform'"):
        Pipeline.load(bad)
