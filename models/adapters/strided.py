"""Strided adapter (Ultravox, SLAM-ASR): stack k consecutive encoder frames, normalise,
and project with a 2-layer MLP into the LLM's embedding space. T' = ceil(T / k).
With k = 1 it is the per-frame `mlp` adapter (Ultravox without stacking, T' = T)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import Adapter


@dataclass(frozen=True)
class StridedAdapterConfig:
    in_dim: int = 384
    llm_dim: int = 256
    stride: int = 4
    hidden_dim: int = 1024
    encoder_rate_hz: float = 50.0


class StridedAdapter(Adapter):
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

    def output_lengths(self, lengths, segments=None):
        return -(-lengths // self.cfg.stride)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (B, T, in_dim) -> embeds (B, ceil(T/k), llm_dim); the tail is zero-padded."""
        b, t, d = hidden.shape
        k = self.cfg.stride
        pad = (k - t % k) % k
        x = nn.functional.pad(hidden, (0, 0, 0, pad))
        x = x.reshape(b, (t + pad) // k, d * k)
        return self.mlp(self.norm(x))

    def spec(self) -> dict:
        kind = "mlp" if self.cfg.stride == 1 else "strided"
        return {"kind": kind, "stride": self.cfg.stride, "llm_rate_hz": self.cfg.encoder_rate_hz / self.cfg.stride}


class PooledAdapter(Adapter):
    """A trained adapter whose output is average-pooled by k at inference only: the
    'pool after the fact' rows of the tradeoff table (the model never saw this rate)."""

    kind = "pooled"

    def __init__(self, inner: Adapter, pool: int):
        super().__init__()
        self.inner, self.pool = inner, pool
        self.cfg = inner.cfg

    def output_lengths(self, lengths, segments=None):
        return -(-self.inner.output_lengths(lengths) // self.pool)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.inner(hidden).transpose(1, 2)
        # ceil_mode: the last, partial window averages only the frames it has
        x = nn.functional.avg_pool1d(x, self.pool, self.pool, ceil_mode=True, count_include_pad=False)
        return x.transpose(1, 2)

    def spec(self) -> dict:
        inner = self.inner.spec()
        return {**inner, "pool_at_inference": self.pool, "llm_rate_hz": inner["llm_rate_hz"] / self.pool}
