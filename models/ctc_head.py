"""CTC head on encoder states: one small transformer layer and a linear layer over the
CTC vocabulary (characters by default). It feeds the numpy decoders, live partials,
the silence guard and the CTC-guided adapter."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# Blank first, then space, letters and apostrophe: every transcript in the corpus fits.
CHAR_VOCAB = ("<blank>", " ", *"abcdefghijklmnopqrstuvwxyz", "'")


@dataclass(frozen=True)
class CtcHeadConfig:
    in_dim: int = 384
    dim: int = 256
    n_heads: int = 4
    n_layers: int = 1
    vocab_size: int = len(CHAR_VOCAB)
    dropout: float = 0.1
    # Subtract each utterance's mean state before the head (cepstral mean normalisation, on the
    # encoder's states): a voice's or a microphone's constant offset is what a head trained on a
    # few synthetic voices would otherwise learn to expect. Off: in stop 16 it read real speech
    # worse (greedy CER 21.1 -> 26.2%, docs/default_bundle.md).
    utterance_norm: bool = False


class CtcHead(nn.Module):
    def __init__(self, cfg: CtcHeadConfig = CtcHeadConfig()):
        super().__init__()
        self.cfg = cfg
        self.proj = nn.Linear(cfg.in_dim, cfg.dim)
        layer = nn.TransformerEncoderLayer(
            cfg.dim, cfg.n_heads, 4 * cfg.dim, cfg.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.out = nn.Linear(cfg.dim, cfg.vocab_size)

    def forward(self, hidden: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """hidden (B, T, in_dim) -> log-probs (B, T, vocab); padding_mask (B, T) is True on padding."""
        if self.cfg.utterance_norm:
            hidden = hidden - utterance_mean(hidden, padding_mask)
        x = self.layers(self.proj(hidden), src_key_padding_mask=padding_mask)
        return torch.log_softmax(self.out(x), dim=-1)


def utterance_mean(hidden: torch.Tensor, padding_mask: torch.Tensor | None) -> torch.Tensor:
    """(B, 1, D): the mean over each utterance's own frames, padding left out."""
    if padding_mask is None:
        return hidden.mean(dim=1, keepdim=True)
    valid = (~padding_mask).unsqueeze(-1).to(hidden.dtype)
    return (hidden * valid).sum(dim=1, keepdim=True) / valid.sum(dim=1, keepdim=True).clamp(min=1.0)
