"""Export the four graphs of a bundle with the runtime's input/output names.

encoder.onnx      features (1, T, F)            -> hidden (1, T', D), ctc_log_probs (1, T', V)
adapter.onnx      hidden (1, T', D)             -> embeds (1, T'', D_llm)
                  [+ segments (1, S, T') for CTC-guided adapters: then T'' = S]
llm_prefill.onnx  inputs_embeds (1, N, D_llm)   -> logits (1, V), present_keys/values (L, 1, H, N, Dh)
llm_decode.onnx   inputs_embeds (1, 1, D_llm), past_keys/values (L, 1, H, P, Dh)
                                                -> logits (1, V), present_keys/values (L, 1, H, P+1, Dh)
Each export is followed by a parity check at two or more lengths.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.export import Dim

from models.llm import Decode, Prefill, TinyLM

from .onnx_export import ParityReport, check_parity, export_onnx


class EncoderWithCtc(nn.Module):
    """The encoder graph: encoder states and the CTC head's log-probs in one pass."""

    def __init__(self, encoder: nn.Module, ctc_head: nn.Module):
        super().__init__()
        self.encoder, self.ctc_head = encoder, ctc_head

    def forward(self, features):
        hidden = self.encoder(features)
        return hidden, self.ctc_head(hidden)


def export_encoder(encoder: nn.Module, ctc_head: nn.Module, n_features: int, path: Path,
                   lengths=(137, 420)) -> ParityReport:
    module = EncoderWithCtc(encoder, ctc_head).eval()
    frames = Dim("frames", min=16, max=3000)
    export_onnx(module, (torch.randn(1, 200, n_features),), path, input_names=["features"],
                output_names=["hidden", "ctc_log_probs"], dynamic_shapes={"features": {1: frames}})
    return check_parity(module, path, lambda n: (torch.randn(1, n, n_features),), lengths)


class _HiddenOnly(nn.Module):
    """forward(hidden) alone: adapters whose forward also takes batch lengths export without them."""

    def __init__(self, adapter: nn.Module):
        super().__init__()
        self.adapter = adapter

    def forward(self, hidden):
        return self.adapter(hidden)


def random_segments(t: int, s: int, seed: int = 0) -> torch.Tensor:
    """(1, s, t) 0/1: s runs of 1-3 frames in order, gaps between them, as a CTC path gives."""
    g = torch.Generator().manual_seed(seed + t)
    out = torch.zeros(1, s, t)
    starts = torch.sort(torch.randperm(t - 3, generator=g)[:s]).values
    for j, t0 in enumerate(starts.tolist()):
        out[0, j, t0 : t0 + int(torch.randint(1, 4, (1,), generator=g))] = 1.0
    return out


def export_adapter(adapter: nn.Module, in_dim: int, path: Path, lengths=(37, 150)) -> ParityReport:
    adapter.eval()
    frames = Dim("enc_frames", min=2, max=1500)
    if getattr(adapter, "uses_segments", False):
        segs = Dim("segments", min=1, max=1500)
        frames = Dim("enc_frames", min=8, max=1500)
        export_onnx(adapter, (torch.randn(1, 101, in_dim), random_segments(101, 30)), path,
                    input_names=["hidden", "segments"], output_names=["embeds"],
                    dynamic_shapes={"hidden": {1: frames}, "segments": {1: segs, 2: frames}})
        return check_parity(adapter, path, lambda n: (torch.randn(1, n, in_dim), random_segments(n, n // 5)), lengths)
    module = _HiddenOnly(adapter).eval()
    export_onnx(module, (torch.randn(1, 101, in_dim),), path, input_names=["hidden"],
                output_names=["embeds"], dynamic_shapes={"hidden": {1: frames}})
    return check_parity(module, path, lambda n: (torch.randn(1, n, in_dim),), lengths)


def export_llm(lm: TinyLM, prefill_path: Path, decode_path: Path, lengths=(9, 31)) -> tuple[ParityReport, ParityReport]:
    cfg = lm.cfg
    lm.eval()
    prefill = Prefill(lm).eval()
    decode = Decode(lm).eval()
    tokens = Dim("tokens", min=2, max=2048)
    export_onnx(prefill, (torch.randn(1, 17, cfg.dim),), prefill_path, input_names=["inputs_embeds"],
                output_names=["logits", "present_keys", "present_values"],
                dynamic_shapes={"inputs_embeds": {1: tokens}})
    kv = lambda n: torch.randn(cfg.n_layers, 1, cfg.n_heads, n, cfg.head_dim)  # noqa: E731
    past = Dim("past", min=1, max=2048)
    export_onnx(decode, (torch.randn(1, 1, cfg.dim), kv(17), kv(17)), decode_path,
                input_names=["inputs_embeds", "past_keys", "past_values"],
                output_names=["logits", "present_keys", "present_values"],
                dynamic_shapes={"inputs_embeds": None, "past_keys": {3: past}, "past_values": {3: past}})
    r1 = check_parity(prefill, prefill_path, lambda n: (torch.randn(1, n, cfg.dim),), lengths)
    r2 = check_parity(decode, decode_path, lambda n: (torch.randn(1, 1, cfg.dim), kv(n), kv(n)), lengths)
    return r1, r2
