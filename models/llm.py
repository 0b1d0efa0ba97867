"""A small decoder-only LM that takes input embeddings: RoPE, RMSNorm, SwiGLU, tied
embeddings, and an explicit stacked KV cache so prefill and decode export as two plain
ONNX graphs (no If nodes). Read it in one sitting, like nanoGPT."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class LLMConfig:
    vocab_size: int = 1024
    dim: int = 256
    n_layers: int = 4
    n_heads: int = 4
    ffn_dim: int = 683  # ~8/3 * dim, SwiGLU
    rope_theta: float = 10000.0
    dropout: float = 0.0

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotate pairs (first half, second half) of the head dim by position-dependent angles.
    x (B, H, T, Dh), positions (T,) float."""
    half = x.shape[-1] // 2
    inv = theta ** (-torch.arange(half, dtype=torch.float32, device=x.device) / half)
    ang = positions[:, None] * inv[None]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Block(nn.Module):
    def __init__(self, cfg: LLMConfig):
        super().__init__()
        self.cfg = cfg
        self.attn_norm = RMSNorm(cfg.dim)
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=False)
        self.proj = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.ffn_norm = RMSNorm(cfg.dim)
        self.gate_up = nn.Linear(cfg.dim, 2 * cfg.ffn_dim, bias=False)
        self.down = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, positions, past_k=None, past_v=None, attn_mask=None):
        b, t, _ = x.shape
        h, dh = self.cfg.n_heads, self.cfg.head_dim
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, h, dh).permute(2, 0, 3, 1, 4)
        q, k = rope(q, positions, self.cfg.rope_theta), rope(k, positions, self.cfg.rope_theta)
        if past_k is not None:
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        if attn_mask is None:
            # Prefill / training: causal over the new tokens. Decode (t == 1, with past): no mask.
            y = F.scaled_dot_product_attention(q, k, v, is_causal=past_k is None)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, t, -1)))
        gate, up = self.gate_up(self.ffn_norm(x)).chunk(2, dim=-1)
        x = x + self.drop(self.down(F.silu(gate) * up))
        return x, k, v


class TinyLM(nn.Module):
    def __init__(self, cfg: LLMConfig = LLMConfig()):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x) @ self.embed.weight.T  # tied embeddings

    def forward(self, inputs_embeds, past_keys=None, past_values=None, attn_mask=None):
        """inputs_embeds (B, T, D); past (L, B, H, P, Dh) or None.
        Returns hidden (B, T, D) before the LM head, present keys and values (L, B, H, P+T, Dh)."""
        start = 0 if past_keys is None else past_keys.shape[3]
        positions = torch.arange(inputs_embeds.shape[1], device=inputs_embeds.device, dtype=torch.float32) + start
        x, ks, vs = inputs_embeds, [], []
        for i, block in enumerate(self.blocks):
            pk = None if past_keys is None else past_keys[i]
            pv = None if past_values is None else past_values[i]
            x, k, v = block(x, positions, pk, pv, attn_mask)
            ks.append(k)
            vs.append(v)
        return x, torch.stack(ks), torch.stack(vs)


class Prefill(nn.Module):
    """Export wrapper: embeddings -> last-position logits and the KV cache."""

    def __init__(self, lm: TinyLM):
        super().__init__()
        self.lm = lm

    def forward(self, inputs_embeds):
        x, k, v = self.lm(inputs_embeds)
        return self.lm.logits(x[:, -1]), k, v


class Decode(nn.Module):
    """Export wrapper: one new embedding with the past cache -> logits and the grown cache."""

    def __init__(self, lm: TinyLM):
        super().__init__()
        self.lm = lm

    def forward(self, inputs_embeds, past_keys, past_values):
        x, k, v = self.lm(inputs_embeds, past_keys, past_values)
        return self.lm.logits(x[:, -1]), k, v
