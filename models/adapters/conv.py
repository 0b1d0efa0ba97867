"""Convolutional adapter (SpeechVerse-style): a local 1-D convolution over encoder frames,
then a strided convolution that downsamples by k, then a projection into the LLM's space.
Unlike stacking, the kernel sees neighbouring windows, so a boundary between two output
tokens is not a hard cut. T' = ceil(T / k)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import Adapter, time_mask


@dataclass(frozen=True)
class ConvAdapterConfig:
    in_dim: int = 384
    llm_dim: int = 256
    stride: int = 4
    hidden_dim: int = 512
    kernel: int = 3  # the local convolution's width, in encoder frames
    encoder_rate_hz: float = 50.0


class ConvAdapter(Adapter):
    kind = "conv"
    takes_lengths = True

    def __init__(self, cfg: ConvAdapterConfig = ConvAdapterConfig()):
        super().__init__()
        self.cfg = cfg
        self.norm = nn.LayerNorm(cfg.in_dim)
        self.local = nn.Conv1d(cfg.in_dim, cfg.hidden_dim, cfg.kernel, padding=cfg.kernel // 2)
        self.down = nn.Conv1d(cfg.hidden_dim, cfg.hidden_dim, cfg.stride, stride=cfg.stride)
        self.out = nn.Linear(cfg.hidden_dim, cfg.llm_dim)

    def output_lengths(self, lengths, segments=None):
        return -(-lengths // self.cfg.stride)

    def forward(self, hidden: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        k = self.cfg.stride
        b, t, _ = hidden.shape
        # Frames past an utterance's end (batch padding) must look exactly like the zeros a
        # lone utterance is padded with, after every layer that would make them non-zero.
        keep = (time_mask(lengths, t) if lengths is not None else torch.ones(b, t, dtype=torch.bool))[:, None, :]
        x = self.norm(hidden).transpose(1, 2) * keep
        x = nn.functional.gelu(self.local(x)) * keep
        x = nn.functional.pad(x, (0, (k - t % k) % k))  # the last, partial window sees zeros
        x = nn.functional.gelu(self.down(x))
        return self.out(x.transpose(1, 2))

    def spec(self) -> dict:
        return {"kind": "conv", "stride": self.cfg.stride, "llm_rate_hz": self.cfg.encoder_rate_hz / self.cfg.stride}
