"""Training losses: multi-resolution STFT and log-mel reconstruction, and the optional distillation
of Whisper encoder features into the first codebook (cosine, through a linear projection)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from edge_audiollm.features import mel_filterbank

_EPS = 1e-5
# Log spectra are compared above a floor this far under the reference's loudest bin, per example.
# An absolute floor (1e-5) made the log terms be decided by the corpus's digital silence (TTS
# leading and trailing zeros, zero-padded crops: up to half of a file's samples): there a decoder
# noise 40 dB under the speech cost the STFT loss as much as halving the speech's level (1.19 and
# 1.13 on train files), which rewards a quiet output over a well-shaped one. Loss values from
# before this floor (state.json histories) are not comparable with those after it.
FLOOR_DB = 80.0


def _magnitude(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    spec = torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True)
    return spec.abs().clamp_min(_EPS)  # (B, F, frames)


def _floored_logs(s_hat: torch.Tensor, s: torch.Tensor, floor_db: float | None,
                  log=torch.log) -> tuple[torch.Tensor, torch.Tensor]:
    """Logs of two (B, ...) magnitude spectra, both raised to `floor_db` under the loudest bin of
    the reference `s` (per example; None: the absolute _EPS floor only)."""
    if floor_db is None:
        return log(s_hat), log(s)
    dims = tuple(range(1, s.dim()))
    floor = (s.detach().amax(dim=dims, keepdim=True) * 10 ** (-floor_db / 20)).clamp_min(_EPS)
    return log(torch.maximum(s_hat, floor)), log(torch.maximum(s, floor))


class MultiResolutionStft(nn.Module):
    """Spectral convergence + L1 of log magnitudes, averaged over FFT sizes (Yamamoto et al.)."""

    def __init__(self, fft_sizes: tuple[int, ...] = (256, 512, 1024, 2048), floor_db: float | None = FLOOR_DB):
        super().__init__()
        self.fft_sizes, self.floor_db = fft_sizes, floor_db

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = y.new_zeros(())
        for n in self.fft_sizes:
            m_hat, m = _magnitude(y_hat, n, n // 4), _magnitude(y, n, n // 4)
            convergence = torch.linalg.norm(m - m_hat) / torch.linalg.norm(m).clamp_min(_EPS)
            total = total + convergence + F.l1_loss(*_floored_logs(m_hat, m, self.floor_db))
        return total / len(self.fft_sizes)


class MultiScaleMel(nn.Module):
    """L1 of log10 mel spectra at several window sizes (DAC's mel loss, without its weights)."""

    def __init__(self, sample_rate: int = 16000, scales: tuple[tuple[int, int], ...] = ((512, 40), (1024, 80), (2048, 120)),
                 floor_db: float | None = FLOOR_DB):
        super().__init__()
        self.scales, self.floor_db = scales, floor_db
        for n_fft, n_mels in scales:
            fb = mel_filterbank(sample_rate, n_fft, n_mels, 0.0, sample_rate / 2)  # the runtime's HTK filterbank
            self.register_buffer(f"fb{n_fft}", torch.from_numpy(np.array(fb, dtype=np.float32)), persistent=False)

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = y.new_zeros(())
        for n_fft, _ in self.scales:
            fb = getattr(self, f"fb{n_fft}")  # (F, n_mels)
            mel = lambda x: (_magnitude(x, n_fft, n_fft // 4).transpose(1, 2) @ fb).clamp_min(_EPS)  # noqa: E731
            total = total + F.l1_loss(*_floored_logs(mel(y_hat), mel(y), self.floor_db, log=torch.log10))
        return total / len(self.scales)


def mel_l1(log_mel_hat: torch.Tensor, log_mel: torch.Tensor, floor_db: float = FLOOR_DB) -> torch.Tensor:
    """L1 of (B, n_mels, T) natural-log mel magnitudes, both raised to `floor_db` under the target's
    loudest band and frame (per example), as the waveform codec's spectral losses are."""
    return F.l1_loss(*_floored_log_mels(log_mel_hat, log_mel, floor_db))


def _floored_log_mels(log_mel_hat: torch.Tensor, log_mel: torch.Tensor, floor_db: float) -> tuple[torch.Tensor, torch.Tensor]:
    floor = log_mel.detach().amax(dim=(1, 2), keepdim=True) - floor_db / 20 * np.log(10)
    return torch.maximum(log_mel_hat, floor), torch.maximum(log_mel, floor)


def mel_detail_l1(log_mel_hat: torch.Tensor, log_mel: torch.Tensor, loud_db: float = 40.0,
                  floor_db: float = FLOOR_DB) -> tuple[torch.Tensor, torch.Tensor]:
    """Two terms against an L1-trained decoder's smoothing, both on (B, n_mels, T) log-mels floored
    as in mel_l1: (L1 over the bins within `loud_db` of the example's loudest, L1 of the frame-to-frame
    differences). Measured on the 12.5 Hz codec: three quarters of its log-mel error lay more than
    40 dB under the peak, where the ear (Whisper's too) hears least, and its real-speech error in
    the loud bins (0.41 nats) was what set Whisper's WER (6.2% on exact mels, 15.6% on its own)."""
    hat, ref = _floored_log_mels(log_mel_hat, log_mel, floor_db)
    loud = (ref.detach() >= ref.detach().amax(dim=(1, 2), keepdim=True) - loud_db / 20 * np.log(10)).float()
    loud_l1 = ((hat - ref).abs() * loud).sum() / loud.sum().clamp_min(1.0)
    delta_l1 = F.l1_loss(hat[..., 1:] - hat[..., :-1], ref[..., 1:] - ref[..., :-1])
    return loud_l1, delta_l1


def distillation_loss(first_quantized: torch.Tensor, projection: nn.Module, teacher: torch.Tensor,
                      mask: torch.Tensor) -> torch.Tensor:
    """1 - cosine between projected codebook-1 latents (B, D, T) and teacher features (B, T, F),
    averaged over the frames where `mask` (B, T) is true (frames the teacher covered)."""
    student = projection(first_quantized.transpose(1, 2))
    cos = F.cosine_similarity(student, teacher, dim=-1)
    weight = mask.to(cos.dtype)
    return ((1 - cos) * weight).sum() / weight.sum().clamp_min(1.0)


def teacher_at_rate(features: np.ndarray, teacher_hz: float, frame_rate_hz: float) -> np.ndarray:
    """Teacher features (T, F) at teacher_hz -> (T', F) at the codec's frame rate, by averaging the
    teacher frames inside each codec frame (Whisper's 50 Hz -> 12.5 Hz: means of 4)."""
    ratio = teacher_hz / frame_rate_hz
    if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
        raise ValueError(f"teacher rate {teacher_hz} Hz is not a whole multiple of the codec's {frame_rate_hz} Hz")
    k = int(round(ratio))
    n = len(features) // k
    return features[: n * k].astype(np.float32).reshape(n, k, -1).mean(1)
