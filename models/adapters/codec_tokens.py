"""The discrete input path: codec tokens -> embeddings -> LLM (issue 9).

The codec (edge_audiollm/bundles/codec) turns speech into residual-VQ codes at 12.5 frames/s,
12 codebooks of 1024. This adapter gives each code of each codebook it reads a learned
embedding, sums them over codebooks (as Mimi's consumers and VALL-E do: the residual levels
add up to one latent in the codec too), and projects the sum with a 2-layer MLP into the
LLM's embedding space. T' = T: one LLM input vector per codec frame, the rate it is trained at.
With `context_layers` > 0, residual 1-D convolutions (kernel 5: +-160 ms) over the summed
embeddings come first: a codec code describes its own 80 ms alone, while Whisper's states, which
the other rows read, have seen the whole utterance (measured: without them, 1,000 steps leave the
LLM at ~100% WER on valid).

`codebooks` = 1 reads the first codebook alone (distilled toward Whisper's states, 125 bit/s);
`codebooks` = 12 all of them (1.5 kbit/s). Either way the input is the codec encoder's full
(T, n_codebooks) code matrix as float32 (the Pipeline's `hidden`), so one encoder run serves
every codebook count and the ONNX graph keeps the one `hidden` input of every adapter.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import Adapter, time_mask


@dataclass(frozen=True)
class CodecTokenAdapterConfig:
    llm_dim: int = 256
    codebooks: int = 12  # read the first this many
    input_codebooks: int = 12  # what the codec encoder emits per frame
    codebook_size: int = 1024
    embed_dim: int = 256
    hidden_dim: int = 1024
    frame_rate_hz: float = 12.5
    context_layers: int = 0
    context_kernel: int = 5

    def __post_init__(self):
        if not 1 <= self.codebooks <= self.input_codebooks:
            raise ValueError(f"codebooks must be in 1..{self.input_codebooks}, got {self.codebooks}")

    @property
    def in_dim(self) -> int:  # the exporter's width of `hidden`
        return self.input_codebooks


class CodecTokenAdapter(Adapter):
    kind = "codec_tokens"
    inputs = "codec_tokens"
    takes_lengths = True

    def __init__(self, cfg: CodecTokenAdapterConfig = CodecTokenAdapterConfig()):
        super().__init__()
        self.cfg = cfg
        # One table for all codebooks, codebook j's codes offset by j * codebook_size: a single
        # Gather in the graph instead of one per codebook.
        self.embed = nn.Embedding(cfg.codebooks * cfg.codebook_size, cfg.embed_dim)
        nn.init.normal_(self.embed.weight, std=cfg.embed_dim ** -0.5)
        self.register_buffer("offsets", torch.arange(cfg.codebooks) * cfg.codebook_size, persistent=False)
        self.context = nn.ModuleList(
            nn.Conv1d(cfg.embed_dim, cfg.embed_dim, cfg.context_kernel, padding=cfg.context_kernel // 2)
            for _ in range(cfg.context_layers))
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.mlp = nn.Sequential(nn.Linear(cfg.embed_dim, cfg.hidden_dim), nn.GELU(),
                                 nn.Linear(cfg.hidden_dim, cfg.llm_dim))

    def output_lengths(self, lengths, segments=None):
        return lengths

    def forward(self, hidden: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """hidden (B, T, input_codebooks) codes as floats -> embeds (B, T, llm_dim); lengths: batch
        padding, which must look like nothing at all to the context convolutions."""
        # Clamped, not trusted: the runtime checks token files, but a graph must never gather
        # out of its table whatever it is fed.
        codes = hidden[..., : self.cfg.codebooks].round().clamp(0, self.cfg.codebook_size - 1).long()
        x = self.embed(codes + self.offsets).sum(dim=2)
        if self.context:
            b, t, _ = x.shape
            keep = (time_mask(lengths, t) if lengths is not None else torch.ones(b, t, dtype=torch.bool))[:, None, :]
            y = x.transpose(1, 2) * keep
            for conv in self.context:
                y = (y + nn.functional.gelu(conv(y))) * keep
            x = y.transpose(1, 2)
        return self.mlp(self.norm(x))

    def spec(self) -> dict:
        return {"kind": self.kind, "codebooks": self.cfg.codebooks, "codebook_size": self.cfg.codebook_size,
                "context_layers": self.cfg.context_layers, "llm_rate_hz": self.cfg.frame_rate_hz}
