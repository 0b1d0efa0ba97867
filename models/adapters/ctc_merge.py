"""CTC-guided adapter: merge encoder frames into segments found by the CTC head, so the
LLM gets about one vector per heard unit and silence costs nothing (content-adaptive).

Segments come from edge_audiollm.segments (argmax runs, blank runs dropped, `group` runs
per segment) as a (B, S, T) 0/1 matrix. Two ways to merge a segment's frames:
  mean        the plain average
  attention   a softmax over the segment's frames of a learned score (which frame of a
              segment speaks for it is learned, not fixed)
then a norm and a 2-layer MLP into the LLM's space. T' = S, the number of segments."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import Adapter


@dataclass(frozen=True)
class CtcMergeAdapterConfig:
    in_dim: int = 384
    llm_dim: int = 256
    hidden_dim: int = 1024
    merge: str = "mean"  # "mean" | "attention"
    group: int = 2  # CTC label runs per segment
    blank: int = 0


class CtcMergeAdapter(Adapter):
    kind = "ctc"
    uses_segments = True

    def __init__(self, cfg: CtcMergeAdapterConfig = CtcMergeAdapterConfig()):
        super().__init__()
        if cfg.merge not in ("mean", "attention"):
            raise ValueError(f"merge must be 'mean' or 'attention', got {cfg.merge!r}")
        self.cfg = cfg
        self.score = nn.Linear(cfg.in_dim, 1) if cfg.merge == "attention" else None
        self.norm = nn.LayerNorm(cfg.in_dim)
        self.mlp = nn.Sequential(nn.Linear(cfg.in_dim, cfg.hidden_dim), nn.GELU(), nn.Linear(cfg.hidden_dim, cfg.llm_dim))

    def output_lengths(self, lengths, segments=None):
        return (segments.sum(-1) > 0).sum(-1)

    def forward(self, hidden: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
        """hidden (B, T, D), segments (B, S, T) 0/1 -> embeds (B, S, llm_dim)."""
        if self.score is None:
            w = segments / segments.sum(-1, keepdim=True).clamp(min=1.0)
        else:
            logits = self.score(hidden).transpose(1, 2)  # (B, 1, T)
            logits = logits.masked_fill(segments <= 0, -1e4)
            w = logits.softmax(-1) * (segments > 0)  # an empty (padding) row stays all zero
        return self.mlp(self.norm(w @ hidden))

    def spec(self) -> dict:
        return {"kind": "ctc", "merge": self.cfg.merge, "group": self.cfg.group, "blank": self.cfg.blank,
                "llm_rate_hz": None}  # content-adaptive: measured, not nominal
