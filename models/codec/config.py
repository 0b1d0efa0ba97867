"""The codec's shape. One frozen dataclass: the trainer saves it with every checkpoint and
the exporter rebuilds the model from it, so a checkpoint directory is self-describing."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import reduce

# Encoder strides per frame rate at 16 kHz; the decoder mirrors them. Small strides first:
# the full-rate layers are where the compute goes, so they get the fewest channels.
STRIDES = {
    12.5: (4, 4, 5, 4, 4),  # 1280 samples a frame
    25.0: (4, 4, 5, 4, 2),  # 640
    50.0: (4, 4, 5, 4),  # 320
}
# The spectral codec's strides are over Whisper's 100 Hz mel frames (hop 160 samples).
MEL_HOP = 160
MEL_STRIDES = {12.5: (2, 2, 2), 25.0: (2, 2), 50.0: (2,)}
KINDS = ("waveform", "mel")


@dataclass(frozen=True)
class CodecConfig:
    # "waveform": convolutions from samples to samples (model.py); "mel": log-mel in, log-mel out,
    # Griffin-Lim back to samples (mel_model.py), its strides over 100 Hz mel frames.
    kind: str = "waveform"
    sample_rate: int = 16000
    strides: tuple[int, ...] = STRIDES[12.5]
    channels: int = 16  # at the full sample rate; doubled at every stride up to max_channels
    max_channels: int = 192
    latent_dim: int = 128
    latent_res_units: int = 2  # causal residual units at the frame rate, for context across frames
    n_codebooks: int = 8
    codebook_size: int = 1024
    # Quantiser dropout: this share of training examples uses the first k ~ U{1..N} codebooks only,
    # so one model decodes from any prefix of its codebooks.
    quantizer_dropout: float = 0.5
    ema_decay: float = 0.99
    # A code is dead (and restarted from a vector of the batch) when its EMA count of uses per batch
    # falls below this fraction of what a uniform spread over the codebook would give it.
    dead_code_ratio: float = 0.1
    kmeans_iters: int = 10
    n_mels: int = 80  # the mel codec's bands (Whisper's)
    # The spectral decoder's look-ahead in code frames (80 ms each at 12.5 Hz): that many centred
    # residual units at the frame rate, each letting frame t see one frame more of the future.
    # 0: causal. Decoding a whole file, as the CLI does, costs nothing; streaming waits that long.
    decoder_lookahead_frames: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"codec kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def hop_samples(self) -> int:
        return reduce(lambda a, b: a * b, self.strides, MEL_HOP if self.kind == "mel" else 1)

    @property
    def frame_rate_hz(self) -> float:
        return self.sample_rate / self.hop_samples

    @property
    def bits_per_code(self) -> float:
        return math.log2(self.codebook_size)

    def bitrate_bps(self, n_codebooks: int | None = None) -> float:
        return (n_codebooks or self.n_codebooks) * self.bits_per_code * self.frame_rate_hz

    def stage_channels(self) -> list[int]:
        """Channels entering each encoder stage, then the last stage's output."""
        return [min(self.channels * 2**i, self.max_channels) for i in range(len(self.strides) + 1)]

    def to_dict(self) -> dict:
        return {**asdict(self), "strides": list(self.strides)}

    @classmethod
    def from_dict(cls, data: dict) -> "CodecConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown codec config keys {unknown}; the checkpoint is from a newer version")
        return cls(**{**data, "strides": tuple(data.get("strides", cls.strides))})
