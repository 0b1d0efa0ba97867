"""Our own audio encoder ("scratch"): two convolutions (100 -> 50 frames/s) and a
pre-norm transformer. Trained with CTC from nothing; the fully self-made path."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ScratchEncoderConfig:
    n_input: int = 80
    dim: int = 192
    n_layers: int = 6
    n_heads: int = 4
    ffn_dim: int = 768
    dropout: float = 0.1


def sinusoids(length: int, dim: int, device=None) -> torch.Tensor:
    """Whisper-style fixed positions, computed for any length so the time axis stays dynamic."""
    half = dim // 2
    inv = torch.exp(-math.log(10000.0) / (half - 1) * torch.arange(half, device=device, dtype=torch.float32))
    t = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv[None]
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1)


class ScratchEncoder(nn.Module):
    def __init__(self, cfg: ScratchEncoderConfig = ScratchEncoderConfig()):
        super().__init__()
        self.cfg = cfg
        self.conv1 = nn.Conv1d(cfg.n_input, cfg.dim, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(cfg.dim, cfg.dim, kernel_size=3, stride=2, padding=1)
        layer = nn.TransformerEncoderLayer(
            cfg.dim, cfg.n_heads, cfg.ffn_dim, cfg.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.dim)

    @staticmethod
    def output_lengths(input_lengths: torch.Tensor) -> torch.Tensor:
        return (input_lengths - 1) // 2 + 1

    def forward(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """features (B, T, F) at 100 Hz -> hidden (B, ceil(T/2), dim) at 50 Hz.
        padding_mask (B, ceil(T/2)) is True at padded frames."""
        x = nn.functional.gelu(self.conv1(features.transpose(1, 2)))
        x = nn.functional.gelu(self.conv2(x)).transpose(1, 2)
        x = x + sinusoids(x.shape[1], x.shape[2], x.device).to(x.dtype)
        return self.norm(self.layers(x, src_key_padding_mask=padding_mask))
