"""A streaming polyphase resampler: chunks of any length in, the same output as one call
on the concatenation (chunk-size invariant), with filter state kept between chunks."""

from __future__ import annotations

from math import gcd

import numpy as np

from .errors import AudioError


class StreamResampler:
    """from_rate -> to_rate. Output lags the input by the filter's half length (a few ms)."""

    def __init__(self, from_rate: int, to_rate: int, *, half_taps: int = 10):
        if from_rate <= 0 or to_rate <= 0:
            raise AudioError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
        g = gcd(int(from_rate), int(to_rate))
        self.up, self.down = int(to_rate) // g, int(from_rate) // g
        self.from_rate, self.to_rate = int(from_rate), int(to_rate)
        self.passthrough = self.up == self.down
        if self.passthrough:
            return
        from scipy.signal import firwin

        n = 2 * half_taps * max(self.up, self.down) + 1
        h = firwin(n, 1.0 / max(self.up, self.down), window=("kaiser", 5.0)) * self.up
        self.taps = -(-n // self.up)  # taps per phase
        h = np.concatenate([h, np.zeros(self.taps * self.up - n)])
        # phase p uses h[p + j*up], j = 0..taps-1, applied to x[base - j]
        self.bank = h.reshape(self.taps, self.up).T.astype(np.float32)  # (up, taps)
        self.history = np.zeros(self.taps - 1, np.float32)  # last inputs, oldest first
        self.n_in = 0  # inputs consumed
        self.n_out = 0  # outputs produced

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        x = np.asarray(chunk, dtype=np.float32)
        if self.passthrough:
            return x
        if x.size == 0:
            return np.zeros(0, np.float32)
        buf = np.concatenate([self.history, x])
        offset = self.n_in - self.history.size  # global index of buf[0]
        self.n_in += x.size
        # output n needs input base = n*down // up, which must be < n_in
        last = (self.n_in * self.up - 1) // self.down  # largest n with n*down//up <= n_in-1
        n = np.arange(self.n_out, last + 1, dtype=np.int64)
        self.n_out = last + 1
        self.history = buf[-(self.taps - 1):] if self.taps > 1 else np.zeros(0, np.float32)
        if n.size == 0:
            return np.zeros(0, np.float32)
        pos = n * self.down
        base, phase = pos // self.up - offset, pos % self.up
        idx = base[:, None] - np.arange(self.taps)[None, :]
        taps = self.bank[phase]
        vals = np.where(idx >= 0, buf[np.clip(idx, 0, None)], 0.0)
        return np.clip((taps * vals).sum(axis=1), -1.0, 1.0).astype(np.float32)
