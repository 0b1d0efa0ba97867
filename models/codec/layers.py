"""Causal 1-D convolutions: output sample t sees inputs up to t only (left padding), and a
transposed convolution that trims its right edge so frame t writes only its own samples and
those after it. Only LookaheadUnit looks ahead, by one frame, and only where a config asks for it
(CodecConfig.decoder_lookahead_frames), so that the look-ahead a codec has is stated, not drifted into."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class CausalConv1d(nn.Conv1d):
    def __init__(self, c_in: int, c_out: int, kernel: int, *, stride: int = 1, dilation: int = 1):
        super().__init__(c_in, c_out, kernel, stride=stride, dilation=dilation)
        # With stride s and a length that is a multiple of s, this padding gives exactly T / s outputs,
        # output t covering inputs up to (t + 1) * s - 1.
        self.left_pad = dilation * (kernel - 1) - (stride - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left_pad, 0)))


class CausalConvTranspose1d(nn.ConvTranspose1d):
    """Upsample by `stride` with a kernel of 2 * stride: T frames -> exactly T * stride samples."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__(c_in, c_out, 2 * stride, stride=stride)
        self.trim = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)  # (T - 1) * s + 2 s samples; the last s would need frame T
        return y[..., : y.shape[-1] - self.trim]


class ResidualUnit(nn.Module):
    """ELU, dilated causal conv (k=3) to half the channels, ELU, 1x1 back, plus the input (EnCodec's unit)."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        hidden = max(channels // 2, 1)
        self.conv1 = CausalConv1d(channels, hidden, 3, dilation=dilation)
        self.conv2 = nn.Conv1d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.elu(self.conv1(F.elu(x))))


class LookaheadUnit(ResidualUnit):
    """The residual unit with a centred convolution (k=3): frame t also sees frame t + 1. Its output
    conv starts at zero, so adding units to a trained decoder leaves what it decodes unchanged until
    fine-tuning moves them."""

    def __init__(self, channels: int):
        super().__init__(channels, 1)
        self.conv1 = nn.Conv1d(channels, self.conv1.out_channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
