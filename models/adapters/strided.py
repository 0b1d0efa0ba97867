"""Strided adapter (Ultravox, SLAM-ASR): stack k consecutive encoder frames, normalise,
and project with a 2-layer MLP into the LLM's embedding space. T' = ceil(T / k)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class StridedAdapterConfig:
    in_dim: int = 384
    llm_dim: int = 256
    stride: int = 4
    hidden_dim: int = 1024


class StridedAdapter(nn.Module):
    kind = "strided"

    def __init__(self, cfg: StridedAdapterConfig = StridedAdapterConfig()):
        super().__init__()
        self.cfg = cfg
        self.norm = nn.LayerNorm(cfg.in_dim * cfg.stride)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.in_dim * cfg.stride, cfg.hidden_dim), nn.GELU(), nn.Linear(cfg.hidden_dim, cfg.llm_dim)
        )

    @staticmethod
    def output_length(t: int, stride: int) -> int:
        return -(-t // stride)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (B, T, in_dim) -> embeds (B, ceil(T/k), llm_dim); the tail is zero-padded."""
        b, t, d = hidden.shape
        k = self.cfg.stride
        pad = (k - t % k) % k
        x = nn.functional.pad(hidden, (0, 0, 0, pad))
        x = x.reshape(b, (t + pad) // k, d * k)
        return self.mlp(self.norm(x))
