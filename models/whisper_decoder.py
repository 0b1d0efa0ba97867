"""Whisper's text decoder as two small torch modules, shaped for export with explicit KV tensors.

    memory (B, S, D) from the encoder
      -> CrossKV: each layer's cross-attention keys and values, once per utterance  (2L, B, S, D)
    inputs_embeds (B, n, D): token embedding + learned position, added by the caller
      -> DecoderStep: pre-LN layers (causal self-attention over past + new, cross-attention
         over the memory, GELU MLP) -> final LayerNorm -> hidden (B, n, D)
         and the self-attention keys and values, past and new  (2L, B, P + n, D)

The token embedding (tied to the output projection) and the position table stay outside
the graphs: the runtime looks tokens up and projects ``hidden`` onto the kept vocabulary in
numpy, so a pruned vocabulary is a smaller matrix and nothing else. One step graph serves the
prompt (P = 0) and every later token (n = 1). Heads are split inside the graphs so the KV
tensors keep a plain (.., time, D) layout a caller can concatenate along time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class WhisperDecoderConfig:
    """Sizes of one Whisper decoder (defaults: tiny / tiny.en)."""

    d_model: int = 384
    n_layers: int = 4
    n_heads: int = 6
    ffn_dim: int = 1536
    max_positions: int = 448
    vocab_size: int = 51864
    layer_norm_eps: float = 1e-5


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, n_heads: int, mask: torch.Tensor | None) -> torch.Tensor:
    """(B, n, D) queries over (B, S, D) keys/values, split into heads; (B, n, D) out."""
    b, n, d = q.shape
    s = k.shape[1]
    dh = d // n_heads
    qh = q.view(b, n, n_heads, dh).transpose(1, 2)
    kh = k.reshape(b, s, n_heads, dh).transpose(1, 2)
    vh = v.reshape(b, s, n_heads, dh).transpose(1, 2)
    y = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
    return y.transpose(1, 2).reshape(b, n, d)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: WhisperDecoderConfig):
        super().__init__()
        d = cfg.d_model
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.self_q = nn.Linear(d, d)
        self.self_k = nn.Linear(d, d, bias=False)  # Whisper has no key bias
        self.self_v = nn.Linear(d, d)
        self.self_out = nn.Linear(d, d)
        self.cross_attn_layer_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.cross_q = nn.Linear(d, d)
        self.cross_k = nn.Linear(d, d, bias=False)
        self.cross_v = nn.Linear(d, d)
        self.cross_out = nn.Linear(d, d)
        self.final_layer_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.fc1 = nn.Linear(d, cfg.ffn_dim)
        self.fc2 = nn.Linear(cfg.ffn_dim, d)
        self.n_heads = cfg.n_heads


class WhisperDecoder(nn.Module):
    """Holds the weights; ``cross_kv`` and ``step`` are the two exported computations."""

    def __init__(self, cfg: WhisperDecoderConfig = WhisperDecoderConfig()):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.embed_positions = nn.Embedding(cfg.max_positions, cfg.d_model)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_layers))
        self.layer_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)

    def cross_kv(self, memory: torch.Tensor) -> torch.Tensor:
        out = []
        for layer in self.layers:
            out += [layer.cross_k(memory), layer.cross_v(memory)]
        return torch.stack(out, dim=0)

    def step(self, inputs_embeds: torch.Tensor, past_kv: torch.Tensor, cross_kv: torch.Tensor,
             cross_bias: torch.Tensor):
        """inputs_embeds (B, n, D): B hypotheses of a beam; past_kv (2L, B, P, D); cross_kv
        (2L, 1, S, D), shared by all B. cross_bias (S,): added to every cross-attention logit;
        log(n) on a memory frame that stands for n alike frames (their mean), so attending to it
        weighs as much as to all n."""
        x = inputs_embeds
        b, n = x.shape[0], x.shape[1]
        p = past_kv.shape[2]
        # query i (absolute position p + i) sees keys 0 .. p + i
        keys = torch.arange(p + n, device=x.device)[None, :]
        queries = (p + torch.arange(n, device=x.device))[:, None]
        causal = keys <= queries
        present = []
        for i, layer in enumerate(self.layers):
            h = layer.self_attn_layer_norm(x)
            k = torch.cat([past_kv[2 * i], layer.self_k(h)], dim=1)
            v = torch.cat([past_kv[2 * i + 1], layer.self_v(h)], dim=1)
            present += [k, v]
            x = x + layer.self_out(_attend(layer.self_q(h), k, v, layer.n_heads, causal))
            h = layer.cross_attn_layer_norm(x)
            # every hypothesis of a beam reads the one memory: fold the batch into the queries
            # (cross-attention has no mask between them), so cross K/V stay (1, S, D)
            q = layer.cross_q(h).reshape(1, b * n, -1)
            y = _attend(q, cross_kv[2 * i], cross_kv[2 * i + 1], layer.n_heads, cross_bias[None, None, None, :])
            x = x + layer.cross_out(y.reshape(b, n, -1))
            x = x + layer.fc2(F.gelu(layer.fc1(layer.final_layer_norm(x))))
        return self.layer_norm(x), torch.stack(present, dim=0)


class CrossKVGraph(nn.Module):
    def __init__(self, decoder: WhisperDecoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, memory: torch.Tensor) -> torch.Tensor:
        return self.decoder.cross_kv(memory)


class StepGraph(nn.Module):
    def __init__(self, decoder: WhisperDecoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, inputs_embeds: torch.Tensor, past_kv: torch.Tensor, cross_kv: torch.Tensor,
                cross_bias: torch.Tensor):
        return self.decoder.step(inputs_embeds, past_kv, cross_kv, cross_bias)
