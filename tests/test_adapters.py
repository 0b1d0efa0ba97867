"""The adapter families (issue 8): one interface, padding never leaks into an utterance's
embeddings, each exports to ONNX with the runtime's input names and matches torch, the
CTC-guided segmentation is what its definition says, and LoRA merges exactly."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edge_audiollm.errors import EdgeAudioError  # noqa: E402
from edge_audiollm.segments import ctc_segments  # noqa: E402


def _log_probs(path: list[int], vocab: int = 5) -> np.ndarray:
    lp = np.full((len(path), vocab), -5.0, dtype=np.float32)
    lp[np.arange(len(path)), path] = -0.01
    return lp


def test_ctc_segments_cut_at_label_changes_and_drop_blanks():
    #        t: 0  1  2  3  4  5  6  7  8
    path = [0, 2, 2, 0, 3, 3, 1, 0, 2]
    seg = ctc_segments(_log_probs(path), blank=0, group=1)
    assert seg.shape == (4, 9)
    assert [list(np.flatnonzero(r)) for r in seg] == [[1, 2], [4, 5], [6], [8]]
    seg2 = ctc_segments(_log_probs(path), blank=0, group=2)
    assert [list(np.flatnonzero(r)) for r in seg2] == [[1, 2, 4, 5], [6, 8]]
    assert ctc_segments(_log_probs([0, 0, 0]), blank=0).shape == (0, 3)
    # a repeated label split by a blank is two segments, as CTC reads it
    assert ctc_segments(_log_probs([2, 0, 2]), blank=0).shape[0] == 2


@pytest.mark.parametrize("bad", [np.zeros((4,)), np.zeros((4, 1)), np.zeros((2, 3, 4))])
def test_ctc_segments_refuse_wrong_shapes(bad):
    with pytest.raises(EdgeAudioError, match="frames, vocab"):
        ctc_segments(bad)


def test_ctc_segments_refuse_bad_blank_and_group():
    with pytest.raises(EdgeAudioError, match="blank id 7"):
        ctc_segments(_log_probs([0, 1]), blank=7)
    with pytest.raises(EdgeAudioError, match="group"):
        ctc_segments(_log_probs([0, 1]), group=0)


def _batch(in_dim=24, lengths=(70, 41, 9), vocab=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    x = torch.randn(len(lengths), int(lengths.max()), in_dim, generator=g)
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
    rng = np.random.default_rng(seed)
    lps = [rng.normal(size=(int(n), vocab)).astype(np.float32) for n in lengths]
    return x, lengths, lps


ALL = ["strided4", "mlp", "conv4", "qformer_w17_q2", "qformer_utt_q32", "ctc_mean_g2", "ctc_attn_g2", "codec_sum12_ctx3"]


@pytest.mark.parametrize("name", ALL)
def test_padding_never_leaks_into_an_utterance(name):
    from models.adapters import variants
    from models.train.train_lm import pad_segments

    torch.manual_seed(0)
    a = variants.build(name, in_dim=24, llm_dim=16).eval()
    x, lengths, lps = _batch()
    segs = [ctc_segments(lp, group=a.cfg.group) for lp in lps] if a.uses_segments else None
    with torch.no_grad():
        batch = a.embed_batch(x, lengths, pad_segments(segs, x.shape[1]) if segs else None)
        for i, n in enumerate(lengths.tolist()):
            one = a.embed_batch(x[i : i + 1, :n], lengths[i : i + 1], pad_segments([segs[i]], n) if segs else None)[0]
            assert one.shape == batch[i].shape
            assert torch.allclose(one, batch[i], atol=1e-5), name


def test_output_rates_follow_each_family():
    from models.adapters import variants

    lengths = torch.tensor([170])  # 3.4 s at 50 Hz
    n = {name: int(variants.build(name).output_lengths(lengths)[0]) for name in
         ("mlp", "strided2", "strided4", "strided8", "conv4", "qformer_w17_q2", "qformer_w17_q1", "qformer_utt_q32")}
    assert n == {"mlp": 170, "strided2": 85, "strided4": 43, "strided8": 22, "conv4": 43,
                 "qformer_w17_q2": 20, "qformer_w17_q1": 10, "qformer_utt_q32": 32}
    pooled = variants.pooled(variants.build("mlp"), 4)
    assert int(pooled.output_lengths(lengths)[0]) == 43
    assert pooled(torch.randn(1, 170, 384)).shape == (1, 43, 256)


@pytest.mark.parametrize("name", ["conv4", "qformer_w17_q2", "ctc_attn_g2", "codec_sum12_ctx3"])
def test_each_family_exports_with_parity(tmp_path, name):
    pytest.importorskip("onnx")
    from export.graphs import export_adapter
    from models.adapters import variants

    torch.manual_seed(0)
    a = variants.build(name, in_dim=24, llm_dim=16)
    report = export_adapter(a, 24, tmp_path / "adapter.onnx")
    assert report.max_abs_diff < 1e-4 and len(report.lengths) >= 2
    from edge_audiollm.runtime import make_session

    s = make_session(tmp_path / "adapter.onnx", ["cpu"], threads=1)
    assert s.input_names == (("hidden", "segments") if a.uses_segments else ("hidden",))


def test_lora_starts_as_the_base_model_and_merges_exactly():
    from models import lora
    from models.llm import LLMConfig, TinyLM

    torch.manual_seed(0)
    lm = TinyLM(LLMConfig(vocab_size=50, dim=32, n_layers=2, n_heads=2, ffn_dim=48)).eval()
    x = torch.randn(1, 7, 32)
    before = lm(x)[0]
    params = lora.add_lora(lm, rank=4, alpha=4.0)
    assert all(p.requires_grad for p in params) and not lm.embed.weight.requires_grad
    assert torch.allclose(lm(x)[0], before)  # B starts at zero
    for p in params:
        p.data.normal_(0, 0.1)
    adapted = lm(x)[0]
    assert not torch.allclose(adapted, before, atol=1e-3)
    assert set(lora.lora_state(lm)) and all(".lora_" in k for k in lora.lora_state(lm))
    lora.merge_lora(lm)
    assert not lora.lora_state(lm)
    assert torch.allclose(lm(x)[0], adapted, atol=1e-5)
