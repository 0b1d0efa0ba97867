"""Low-rank adaptation of the LLM's linear layers (Hu et al. 2021), as Ultravox and
SLAM-ASR fine-tune their LLMs: the base weights stay frozen and shared, each variant
learns and stores only W + (alpha / r) * B @ A. Merged back into plain Linear layers
before export, so the ONNX graphs do not change."""

from __future__ import annotations

import math

import torch
from torch import nn

TARGETS = ("qkv", "proj", "gate_up", "down")


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))  # starts as the base model

    def forward(self, x):
        return self.base(x) + (x @ self.lora_a.T) @ self.lora_b.T * self.scale

    def merged(self) -> nn.Linear:
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.scale * self.lora_b @ self.lora_a)
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out


def add_lora(lm: nn.Module, rank: int = 32, alpha: float = 32.0) -> list[nn.Parameter]:
    """Freeze lm and wrap its blocks' linear layers; returns the trainable parameters."""
    for p in lm.parameters():
        p.requires_grad_(False)
    params = []
    for block in lm.blocks:
        for name in TARGETS:
            layer = LoRALinear(getattr(block, name), rank, alpha)
            setattr(block, name, layer)
            params += [layer.lora_a, layer.lora_b]
    return params


def lora_state(lm: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in lm.state_dict().items() if ".lora_" in k}


def merge_lora(lm: nn.Module) -> nn.Module:
    for block in lm.blocks:
        for name in TARGETS:
            layer = getattr(block, name)
            if isinstance(layer, LoRALinear):
                setattr(block, name, layer.merged())
    return lm
