"""Whisper's audio encoder as a small, readable torch module.

    features (B, T, n_mels) at 100 frames/s
      -> conv1 (k3, s1) + GELU -> conv2 (k3, s2) + GELU       time: T -> ceil(T/2), 50 frames/s
      -> + sinusoidal position embedding, cut to the frames present (not a 30 s pad)
      -> pre-LN transformer layers (self-attention, GELU MLP)
      -> final LayerNorm -> hidden (B, ceil(T/2), d_model)

Parameter names are those of Hugging Face transformers' WhisperEncoder (conv1.weight,
embed_positions.weight, layers.N.self_attn.q_proj.weight, layers.N.fc1.weight, ...), so
``model.encoder.``-prefixed keys of a transformers Whisper checkpoint load by stripping
the prefix (see export/whisper_import.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from edge_audiollm.errors import FeatureError


@dataclass(frozen=True)
class WhisperEncoderConfig:
    """Sizes of one Whisper encoder (defaults: tiny / tiny.en)."""

    n_mels: int = 80
    d_model: int = 384
    n_layers: int = 4
    n_heads: int = 6
    ffn_dim: int = 1536
    max_positions: int = 1500  # encoder frames, i.e. 30 s at 50 frames/s
    layer_norm_eps: float = 1e-5

    @property
    def max_input_frames(self) -> int:
        return 2 * self.max_positions


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's position table: [sin | cos] halves (not interleaved)."""
    if channels % 2:
        raise ValueError(f"channels must be even, got {channels}")
    log_inc = math.log(max_timescale) / (channels // 2 - 1)
    inv = torch.exp(-log_inc * torch.arange(channels // 2, dtype=torch.float32))
    t = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1)


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)  # Whisper has no key bias
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """padding_mask (B, T), True on padding: only for batched training of a copy of a layer;
        the deployed encoder runs one utterance at its own length and attends everywhere."""
        b, t, d = x.shape
        h = self.n_heads

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, h, d // h).transpose(1, 2)  # (B, H, T, Dh)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        keep = None if padding_mask is None else ~padding_mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)  # full context over real frames
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: WhisperEncoderConfig):
        super().__init__()
        self.self_attn_layer_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.self_attn = SelfAttention(cfg.d_model, cfg.n_heads)
        self.final_layer_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.fc1 = nn.Linear(cfg.d_model, cfg.ffn_dim)
        self.fc2 = nn.Linear(cfg.ffn_dim, cfg.d_model)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.self_attn(self.self_attn_layer_norm(x), padding_mask)
        x = x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))
        return x


class WhisperEncoder(nn.Module):
    def __init__(self, cfg: WhisperEncoderConfig = WhisperEncoderConfig()):
        super().__init__()
        self.cfg = cfg
        self.conv1 = nn.Conv1d(cfg.n_mels, cfg.d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(cfg.d_model, cfg.d_model, kernel_size=3, stride=2, padding=1)
        # An Embedding (not a buffer) only so the name matches transformers'
        # embed_positions.weight; it is filled with sinusoids and kept frozen.
        self.embed_positions = nn.Embedding(cfg.max_positions, cfg.d_model)
        with torch.no_grad():
            self.embed_positions.weight.copy_(sinusoids(cfg.max_positions, cfg.d_model))
        self.embed_positions.weight.requires_grad_(False)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_layers))
        self.layer_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)

    @staticmethod
    def output_frames(input_frames: int) -> int:
        """conv2 (k3, s2, p1) maps T input frames to ceil(T/2)."""
        return (input_frames + 1) // 2

    def forward(self, features: torch.Tensor, output_hidden_states: bool = False):
        """features (B, T, n_mels) -> hidden (B, ceil(T/2), d_model).

        With ``output_hidden_states`` also returns all layers stacked as
        (n_layers + 1, B, T', D), in transformers' convention: the embedding
        (convs + positions), the outputs of layers 1..L-1, and the final
        LayerNorm'd output last (so the last entry equals ``hidden``). This is what
        a learned layer-weighted sum trains on.
        """
        if features.shape[-1] != self.cfg.n_mels or features.shape[1] > self.cfg.max_input_frames:
            raise FeatureError(
                f"Whisper encoder wants (B, T <= {self.cfg.max_input_frames}, {self.cfg.n_mels}) "
                f"features, got {tuple(features.shape)}; split audio longer than 30 s"
            )
        x = features.transpose(1, 2)  # (B, n_mels, T): convs run over time
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x))
        x = x.transpose(1, 2)  # (B, T', D)
        # Positions cut to this utterance's own length; Whisper was trained on
        # 30 s windows, but the table is absolute so any prefix is valid.
        x = x + self.embed_positions.weight[: x.shape[1]]
        states = [x]
        for layer in self.layers:
            x = layer(x)
            states.append(x)
        hidden = self.layer_norm(x)
        if not output_hidden_states:
            return hidden
        states[-1] = hidden
        return hidden, torch.stack(states, dim=0)


class LayerWeightedSum(nn.Module):
    """Learned softmax-weighted sum over stacked layer outputs (L+1, B, T, D) -> (B, T, D)."""

    def __init__(self, num_states: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(num_states))

    def forward(self, stacked: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.logits, dim=0)
        return torch.einsum("l,lbtd->btd", w, stacked)
