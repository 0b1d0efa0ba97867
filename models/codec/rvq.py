"""Residual vector quantisation with EMA codebooks (SoundStream / EnCodec style).

Each codebook quantises what the codebooks before it left over. Codebooks learn by exponential
moving averages of the vectors assigned to them, not by gradients; they start from k-means on a
first batch, and a code that stops being used is restarted from a vector of the current batch, so
a 1024-entry codebook does not collapse to a few dozen live codes.

Usage is counted in units of "a uniform share": 1.0 means a code is picked as often as it would be
if every code were used equally, whatever the batch size; `dead_code_ratio` is compared with that.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

_SMOOTHING = 1e-5  # Laplace smoothing of the usage counts: an unused code never divides by zero


def nearest(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codebook row for each row of x, (M, D) x (K, D) -> (M,) int64.

    Written as |x|^2 - 2 x.c + |c|^2 so it exports to plain MatMul/ReduceSum/ArgMin in ONNX.
    """
    d = x.pow(2).sum(1, keepdim=True) - 2 * x @ codebook.t() + codebook.pow(2).sum(1)[None]
    return d.argmin(1)


def kmeans_plus_plus(x: torch.Tensor, k: int) -> torch.Tensor:
    """k-means++ seeding: each next centroid drawn with probability proportional to its squared
    distance from those chosen. Uniform draws from the data leave some clusters with two seeds and
    others with none, and Lloyd's iterations rarely move a seed across to an empty cluster."""
    chosen = [int(torch.randint(x.shape[0], ()))]
    d2 = (x - x[chosen[0]]).pow(2).sum(1)
    for _ in range(k - 1):
        total = float(d2.sum())
        # With fewer distinct vectors than centroids the rest start as duplicates (and end as dead codes).
        i = int(torch.multinomial(d2 / total, 1)) if total > 0 else int(torch.randint(x.shape[0], ()))
        chosen.append(i)
        d2 = torch.minimum(d2, (x - x[i]).pow(2).sum(1))
    return x[chosen].clone()


def kmeans(x: torch.Tensor, k: int, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on (M, D) from k-means++ seeds; returns centroids (k, D) and their counts (k,).

    With fewer vectors than centroids some end with no members: training then restarts them as dead codes.
    """
    centroids = kmeans_plus_plus(x, k)
    for _ in range(iters):
        assign = nearest(x, centroids)
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None].to(x.dtype)
    return centroids, torch.bincount(nearest(x, centroids), minlength=k)


class VectorQuantizer(nn.Module):
    def __init__(self, dim: int, codebook_size: int, *, decay: float = 0.99, dead_code_ratio: float = 0.1,
                 kmeans_iters: int = 10):
        super().__init__()
        self.codebook_size, self.decay, self.dead_code_ratio, self.kmeans_iters = codebook_size, decay, dead_code_ratio, kmeans_iters
        self.register_buffer("embed", torch.randn(codebook_size, dim))
        self.register_buffer("embed_avg", self.embed.clone())
        self.register_buffer("usage", torch.ones(codebook_size))
        self.register_buffer("initialized", torch.zeros(()))
        self.register_buffer("restarts", torch.zeros((), dtype=torch.int64))  # total, for the training log

    @torch.no_grad()
    def init_from(self, x: torch.Tensor) -> None:
        centroids, counts = kmeans(x, self.codebook_size, self.kmeans_iters)
        self.embed.copy_(centroids)
        self.usage.copy_(counts.to(x.dtype) * self.codebook_size / x.shape[0])
        self.embed_avg.copy_(centroids * self.usage[:, None])
        self.initialized.fill_(1.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(M, D) -> (quantised (M, D), codes (M,)); in training mode also updates the codebook."""
        if self.training and not bool(self.initialized):
            self.init_from(x)
        codes = nearest(x, self.embed)
        quantized = F.embedding(codes, self.embed)  # before this batch's update, as EnCodec does
        if self.training:
            self._ema_update(x, codes)
            self._restart_dead(x)
        return quantized, codes

    @torch.no_grad()
    def _ema_update(self, x: torch.Tensor, codes: torch.Tensor) -> None:
        scale = self.codebook_size / x.shape[0]
        counts = torch.bincount(codes, minlength=self.codebook_size).to(x.dtype) * scale
        sums = torch.zeros_like(self.embed).index_add_(0, codes, x) * scale
        self.usage.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.usage.sum()
        smoothed = (self.usage + _SMOOTHING) / (total + self.codebook_size * _SMOOTHING) * total
        self.embed.copy_(self.embed_avg / smoothed[:, None])

    @torch.no_grad()
    def _restart_dead(self, x: torch.Tensor) -> None:
        dead = self.usage < self.dead_code_ratio
        n_dead = int(dead.sum())
        if n_dead == 0:
            return
        picks = x[torch.randint(x.shape[0], (n_dead,))]
        self.embed[dead] = picks
        self.embed_avg[dead] = picks  # usage 1.0: a fresh code gets the time a uniform share would
        self.usage[dead] = 1.0
        self.restarts.add_(n_dead)


@dataclass
class Quantized:
    quantized: torch.Tensor  # (B, D, T), straight-through: gradients reach the encoder unchanged
    codes: torch.Tensor  # (B, N, T) int64, all codebooks whatever the dropout
    commitment: torch.Tensor  # mean over codebooks of |residual - code|^2
    first_quantized: torch.Tensor  # (B, D, T): codebook 1 alone, straight-through
    n_active: torch.Tensor  # (B,) codebooks summed into `quantized`


class ResidualVQ(nn.Module):
    def __init__(self, n_codebooks: int, dim: int, codebook_size: int, **vq_options):
        super().__init__()
        self.n_codebooks, self.codebook_size = n_codebooks, codebook_size
        self.layers = nn.ModuleList(VectorQuantizer(dim, codebook_size, **vq_options) for _ in range(n_codebooks))

    @classmethod
    def from_config(cls, cfg) -> "ResidualVQ":
        """The quantiser a CodecConfig describes (both codec kinds share it)."""
        return cls(cfg.n_codebooks, cfg.latent_dim, cfg.codebook_size, decay=cfg.ema_decay,
                   dead_code_ratio=cfg.dead_code_ratio, kmeans_iters=cfg.kmeans_iters)

    @staticmethod
    def _flat(z: torch.Tensor) -> torch.Tensor:
        return z.transpose(1, 2).reshape(-1, z.shape[1])

    def forward(self, z: torch.Tensor, *, n_codebooks: int | None = None, dropout: float = 0.0) -> Quantized:
        b, d, t = z.shape
        x = self._flat(z)
        residual = x
        quantized, codes, commitment = [], [], x.new_zeros(())
        for layer in self.layers:
            # Codebooks learn by EMA (no gradient); the encoder gets the commitment term of every layer.
            q, c = layer(residual.detach())
            commitment = commitment + F.mse_loss(residual, q)
            residual = residual - q
            quantized.append(q)
            codes.append(c)
        n_active = torch.full((b,), n_codebooks or self.n_codebooks, dtype=torch.int64)
        if dropout > 0.0:
            # A residual does not depend on later codebooks, so dropping them only changes the sum.
            draw = torch.randint(1, self.n_codebooks + 1, (b,))
            n_active = torch.where(torch.rand(b) < dropout, draw, n_active)
        mask = (torch.arange(self.n_codebooks)[None] < n_active[:, None]).to(x.dtype)  # (B, N)
        mask = mask.repeat_interleave(t, dim=0)  # (B*T, N), rows in the order of _flat
        total = sum(mask[:, i : i + 1] * q for i, q in enumerate(quantized))
        unflat = lambda v: v.reshape(b, t, d).transpose(1, 2)  # noqa: E731
        return Quantized(
            quantized=unflat(x + (total - x).detach()),
            codes=torch.stack(codes, 1).reshape(b, t, -1).transpose(1, 2),
            commitment=commitment / self.n_codebooks,
            first_quantized=unflat(x + (quantized[0] - x).detach()),
            n_active=n_active,
        )

    @torch.no_grad()
    def init_codebooks(self, z: torch.Tensor) -> None:
        residual = self._flat(z)
        for layer in self.layers:
            layer.init_from(residual)
            residual = residual - layer.embed[nearest(residual, layer.embed)]

    def encode(self, latent: torch.Tensor) -> torch.Tensor:
        """(T, D) -> codes (N, T) int64: the greedy residual search, as the exported encoder runs it."""
        residual, codes = latent, []
        for layer in self.layers:
            c = nearest(residual, layer.embed)
            residual = residual - F.embedding(c, layer.embed)
            codes.append(c)
        return torch.stack(codes, 0)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (n, T), n <= N: the first n codebooks -> the sum of their vectors, (T, D).

        One gather from the stacked codebooks (row i * K + code) keeps n a dynamic axis in ONNX."""
        table = torch.cat([layer.embed for layer in self.layers], 0)
        offsets = torch.arange(codes.shape[0], dtype=codes.dtype)[:, None] * self.codebook_size
        return F.embedding(codes + offsets, table).sum(0)
