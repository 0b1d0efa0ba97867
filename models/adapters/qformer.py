"""Q-Former adapter (SALMONN, BLIP-2): learned queries cross-attend to encoder frames.

Two modes:
  window > 0   the states are cut into windows of `window` frames (17 = 0.34 s at 50 Hz,
               as SALMONN) and `queries` queries read each window: queries * 50/17 tokens/s
  window = 0   `queries` queries read the whole utterance: a fixed number of tokens per
               utterance, whatever its length (the rate falls as utterances grow)
Each layer: queries self-attend, cross-attend to the (window's) frames, then an MLP.
Attention is written out with matmuls so the ONNX graph is plain and masks are explicit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .base import Adapter, time_mask


@dataclass(frozen=True)
class QFormerAdapterConfig:
    in_dim: int = 384
    llm_dim: int = 256
    dim: int = 256
    n_heads: int = 4
    n_layers: int = 2
    queries: int = 2
    window: int = 17  # frames; 0 = the whole utterance
    max_frames: int = 1500  # 30 s at 50 Hz: the positional table of whole-utterance mode
    encoder_rate_hz: float = 50.0


class _Attention(nn.Module):
    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        b, n, d = x.shape
        h = self.n_heads
        split = lambda t: t.reshape(b, -1, h, d // h).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(ctx)), split(self.v(ctx))
        att = q @ k.transpose(-1, -2) / math.sqrt(d // h)
        if key_mask is not None:
            # -1e4, not -inf: a window of padding only (in a batch) must not turn into NaN
            att = att.masked_fill(~key_mask[:, None, None, :], -1e4)
        return self.o((att.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))


class _Layer(nn.Module):
    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.n1, self.n2, self.n3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = _Attention(dim, n_heads)
        self.cross_attn = _Attention(dim, n_heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, q, ctx, key_mask):
        x = self.n1(q)
        q = q + self.self_attn(x, x, None)
        q = q + self.cross_attn(self.n2(q), ctx, key_mask)
        return q + self.mlp(self.n3(q))


class QFormerAdapter(Adapter):
    kind = "qformer"
    takes_lengths = True

    def __init__(self, cfg: QFormerAdapterConfig = QFormerAdapterConfig()):
        super().__init__()
        self.cfg = cfg
        self.norm = nn.LayerNorm(cfg.in_dim)
        self.inp = nn.Linear(cfg.in_dim, cfg.dim)
        self.query = nn.Parameter(torch.randn(cfg.queries, cfg.dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(cfg.window or cfg.max_frames, cfg.dim) * 0.02)
        self.layers = nn.ModuleList(_Layer(cfg.dim, cfg.n_heads) for _ in range(cfg.n_layers))
        self.out_norm = nn.LayerNorm(cfg.dim)
        self.out = nn.Linear(cfg.dim, cfg.llm_dim)

    def output_lengths(self, lengths, segments=None):
        w, q = self.cfg.window, self.cfg.queries
        return -(-lengths // w) * q if w else torch.full_like(lengths, q)

    def forward(self, hidden: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        b, t, _ = hidden.shape
        if lengths is None:
            lengths = torch.full((b,), t, dtype=torch.long)
        x = self.inp(self.norm(hidden))
        w = self.cfg.window
        if w:
            pad = (w - t % w) % w
            n_win = (t + pad) // w
            mask = time_mask(lengths, t + pad).reshape(b * n_win, w)
            x = nn.functional.pad(x, (0, 0, 0, pad)).reshape(b * n_win, w, -1) + self.pos
            rows = b * n_win
        else:
            mask = time_mask(lengths, t)
            x = x + self.pos[:t]
            rows = b
        q = self.query.expand(rows, -1, -1)
        for layer in self.layers:
            q = layer(q, x, mask)
        return self.out(self.out_norm(q)).reshape(b, -1, self.cfg.llm_dim)

    def spec(self) -> dict:
        w, q = self.cfg.window, self.cfg.queries
        rate = q * self.cfg.encoder_rate_hz / w if w else None  # whole-utterance mode: per utterance
        return {"kind": "qformer", "queries": q, "window": w, "llm_rate_hz": rate}
