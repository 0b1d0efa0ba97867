"""Encoder (16 kHz waveform -> latents at the frame rate), decoder (latents -> waveform) and the
codec that joins them through the residual vector quantiser."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import CodecConfig
from .layers import CausalConv1d, CausalConvTranspose1d, ResidualUnit
from .rvq import ResidualVQ

_DILATIONS = (1, 3, 9)  # per stage: together they cover the next stride's kernel


class Encoder(nn.Module):
    """(B, 1, N) with N a multiple of hop_samples -> (B, latent_dim, N / hop_samples)."""

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        ch = cfg.stage_channels()
        layers: list[nn.Module] = [CausalConv1d(1, ch[0], 7)]
        for i, s in enumerate(cfg.strides):
            layers += [ResidualUnit(ch[i], d) for d in _DILATIONS]
            layers += [nn.ELU(), CausalConv1d(ch[i], ch[i + 1], 2 * s, stride=s)]
        layers += [ResidualUnit(ch[-1], d) for d in _DILATIONS[: cfg.latent_res_units]]
        layers += [nn.ELU(), CausalConv1d(ch[-1], cfg.latent_dim, 3)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """(B, latent_dim, T) -> (B, 1, T * hop_samples) in (-1, 1)."""

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        ch = cfg.stage_channels()
        layers: list[nn.Module] = [CausalConv1d(cfg.latent_dim, ch[-1], 3)]
        layers += [ResidualUnit(ch[-1], d) for d in _DILATIONS[: cfg.latent_res_units]]
        for i in reversed(range(len(cfg.strides))):
            layers += [nn.ELU(), CausalConvTranspose1d(ch[i + 1], ch[i], cfg.strides[i])]
            layers += [ResidualUnit(ch[i], d) for d in _DILATIONS]
        layers += [nn.ELU(), CausalConv1d(ch[0], 1, 7)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(z))


@dataclass
class CodecOutput:
    audio: torch.Tensor  # (B, 1, N) reconstruction
    codes: torch.Tensor  # (B, n_codebooks, T)
    commitment: torch.Tensor  # scalar
    first_quantized: torch.Tensor  # (B, latent_dim, T): codebook 1's output, gradients straight through
    n_active: torch.Tensor  # (B,) codebooks each example was decoded from


class Codec(nn.Module):
    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = ResidualVQ.from_config(cfg)
        self.decoder = Decoder(cfg)

    def forward(self, audio: torch.Tensor, n_codebooks: int | None = None) -> CodecOutput:
        """(B, 1, N) -> reconstruction. In training mode quantiser dropout picks each example's
        codebook count; otherwise all codebooks, or the first `n_codebooks`."""
        z = self.encoder(audio)
        q = self.quantizer(z, n_codebooks=n_codebooks,
                           dropout=self.cfg.quantizer_dropout if self.training and n_codebooks is None else 0.0)
        return CodecOutput(self.decoder(q.quantized), q.codes, q.commitment, q.first_quantized, q.n_active)

    @torch.no_grad()
    def init_codebooks(self, audio: torch.Tensor) -> None:
        """k-means initialisation of every codebook from one (large) first batch of audio."""
        self.quantizer.init_codebooks(self.encoder(audio))


def build_codec(cfg: CodecConfig) -> nn.Module:
    """The codec of the config's kind: the waveform codec here, or the spectral one (mel_model.py)."""
    if cfg.kind == "mel":
        from .mel_model import MelCodec

        return MelCodec(cfg)
    return Codec(cfg)
