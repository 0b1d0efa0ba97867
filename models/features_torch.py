"""The front-end of edge_audiollm/features.py in torch, for training on the fly.

Same framing, window, filterbank and DCT: the filterbank and DCT matrices come from the
numpy module itself, so the two cannot drift apart (tests/test_features.py checks it).
"""

from __future__ import annotations

import torch

from edge_audiollm import features as F_np

_LOG_FLOOR = 1e-10


class LogMel(torch.nn.Module):
    def __init__(self, options: F_np.FrontendOptions = F_np.FrontendOptions()):
        super().__init__()
        options.validate()
        self.options = options
        fb = F_np.mel_filterbank(
            options.sample_rate, options.n_fft, options.n_mels, options.fmin_hz,
            float(options.fmax_hz or options.sample_rate / 2),
        )
        self.register_buffer("fb", torch.from_numpy(fb.copy()), persistent=False)
        self.register_buffer("window", torch.hann_window(options.win_length, periodic=True, dtype=torch.float64), persistent=False)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        """(B, N) or (N,) float samples -> (B, T, n_mels) or (T, n_mels)."""
        squeeze = samples.dim() == 1
        # float64 inside: float32 FFT rounding in torch alone is ~5e-4 in the log of quiet
        # bins; in double the difference to the numpy runtime is numpy's own rounding.
        x = (samples[None] if squeeze else samples).double()
        o = self.options
        if o.preemphasis:
            x = torch.cat([x[:, :1], x[:, 1:] - o.preemphasis * x[:, :-1]], dim=1)
        frames = x.unfold(1, o.win_length, o.hop_length) * self.window
        spec = torch.fft.rfft(frames, n=o.n_fft, dim=-1)
        power = spec.real.square() + spec.imag.square()
        out = torch.log(torch.clamp(power @ self.fb.double(), min=_LOG_FLOOR)).to(samples.dtype)
        return out[0] if squeeze else out


def deltas(x: torch.Tensor, width: int = 2) -> torch.Tensor:
    """HTK regression deltas along time of (..., T, F), edges repeated."""
    t = x.shape[-2]
    first, last = x[..., :1, :], x[..., -1:, :]
    padded = torch.cat([first.expand(*x.shape[:-2], width, x.shape[-1]), x,
                        last.expand(*x.shape[:-2], width, x.shape[-1])], dim=-2)
    num = sum(n * (padded[..., width + n : width + n + t, :] - padded[..., width - n : width - n + t, :])
              for n in range(1, width + 1))
    return num / (2 * sum(n * n for n in range(1, width + 1)))


class Mfcc(torch.nn.Module):
    def __init__(self, options: F_np.MfccOptions = F_np.MfccOptions()):
        super().__init__()
        self.options = options
        self.log_mel = LogMel(options.frontend)
        dct = F_np.dct_matrix(options.frontend.n_mels, options.n_ceps)
        self.register_buffer("dct", torch.from_numpy(dct.copy()), persistent=False)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        ceps = self.log_mel(samples) @ self.dct
        if self.options.lifter:
            n = torch.arange(self.options.n_ceps, dtype=ceps.dtype)
            ceps = ceps * (1.0 + self.options.lifter / 2.0 * torch.sin(torch.pi * n / self.options.lifter))
        d1 = deltas(ceps, self.options.delta_width)
        d2 = deltas(d1, self.options.delta_width)
        return torch.cat([ceps, d1, d2], dim=-1)
