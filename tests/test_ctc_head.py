"""The CTC head's utterance mean normalisation: padding never leaks into an utterance, and a
constant offset on every state of an utterance (a voice's or a channel's bias) changes nothing."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from models.ctc_head import CtcHead, CtcHeadConfig, utterance_mean  # noqa: E402

CFG = CtcHeadConfig(in_dim=12, dim=16, n_heads=2, dropout=0.0, utterance_norm=True)


def test_utterance_mean_leaves_padding_out():
    x = torch.zeros(2, 5, 3)
    x[0, :2] = 1.0
    x[0, 2:] = 100.0  # padding of the first utterance
    x[1] = 2.0
    pad = torch.tensor([[False, False, True, True, True], [False] * 5])
    m = utterance_mean(x, pad)
    assert m.shape == (2, 1, 3)
    assert torch.allclose(m[0], torch.ones(1, 3)) and torch.allclose(m[1], torch.full((1, 3), 2.0))


def test_padded_batch_matches_each_utterance_alone():
    torch.manual_seed(0)
    head = CtcHead(CFG).eval()
    lengths = [7, 4]
    x = torch.randn(2, 7, 12)
    pad = torch.arange(7)[None] >= torch.tensor(lengths)[:, None]
    with torch.no_grad():
        batch = head(x, padding_mask=pad)
        for i, n in enumerate(lengths):
            alone = head(x[i : i + 1, :n])[0]
            assert torch.allclose(alone, batch[i, :n], atol=1e-5)


def test_a_constant_offset_on_an_utterance_changes_nothing():
    torch.manual_seed(1)
    head = CtcHead(CFG).eval()
    x = torch.randn(1, 9, 12)
    with torch.no_grad():
        assert torch.allclose(head(x), head(x + torch.randn(1, 1, 12) * 3.0), atol=1e-5)
        plain = CtcHead(CtcHeadConfig(**{**CFG.__dict__, "utterance_norm": False})).eval()
        plain.load_state_dict(head.state_dict())
        assert not torch.allclose(plain(x), plain(x + 3.0), atol=1e-3)  # the check can fail
