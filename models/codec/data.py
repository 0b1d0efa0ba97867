"""Random crops of the corpus for codec training, with the teacher features of the same span.

Crops start on a codec frame boundary so that a crop's frames line up exactly with the
precomputed teacher frames (Whisper's 50 Hz divides every codec rate). Files are read when
picked: the train split is 3.5 h (800 MB as float32), too much to hold next to another job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_audiollm.audio import load_audio
from models.train.corpus import Utterance

from .losses import teacher_at_rate


@dataclass(frozen=True)
class TeacherSource:
    """Precomputed teacher features per utterance: models/train/encode_cache.py's layout
    (DIR/SPLIT/UID.npy, (T, F) at `frame_rate_hz`, frame t covering samples [t, t + 1) / rate)."""

    cache_dir: Path
    split: str = "train"
    frame_rate_hz: float = 50.0

    def load(self, uid: str) -> np.ndarray:
        return np.load(self.cache_dir / self.split / f"{uid}.npy", allow_pickle=False)


@dataclass
class Batch:
    audio: np.ndarray  # (B, 1, crop_samples) float32
    teacher: np.ndarray | None  # (B, crop_frames, F) float32 at the codec rate
    teacher_mask: np.ndarray | None  # (B, crop_frames) bool: frames the teacher covers


class CropSampler:
    def __init__(self, utterances: list[Utterance], crop_frames: int, hop_samples: int, sample_rate: int,
                 rng: np.random.Generator, teacher: TeacherSource | None = None):
        # Silence and noise clips teach the codec nothing about speech and have no teacher content.
        self.utterances = [u for u in utterances if u.text.strip()] or list(utterances)
        if not self.utterances:
            raise ValueError("no utterances to train the codec on")
        self.crop_frames, self.hop, self.sample_rate = crop_frames, hop_samples, sample_rate
        self.rng, self.teacher = rng, teacher

    @property
    def frame_rate_hz(self) -> float:
        return self.sample_rate / self.hop

    def batch(self, size: int) -> Batch:
        audio = np.zeros((size, 1, self.crop_frames * self.hop), np.float32)
        teacher, mask = [], np.zeros((size, self.crop_frames), bool)
        for b in range(size):
            u = self.utterances[int(self.rng.integers(len(self.utterances)))]
            x = load_audio(u.path, target_sample_rate=self.sample_rate).samples
            frames = -(-len(x) // self.hop)
            start = int(self.rng.integers(max(frames - self.crop_frames, 0) + 1))  # in frames
            piece = x[start * self.hop : (start + self.crop_frames) * self.hop]
            audio[b, 0, : len(piece)] = piece  # a short file is zero-padded at the end
            if self.teacher is not None:
                feats = teacher_at_rate(self.teacher.load(u.uid), self.teacher.frame_rate_hz, self.frame_rate_hz)
                feats = feats[start : start + self.crop_frames]
                row = np.zeros((self.crop_frames, feats.shape[1]), np.float32)
                row[: len(feats)] = feats
                mask[b, : len(feats)] = True
                teacher.append(row)
        if self.teacher is None:
            return Batch(audio, None, None)
        return Batch(audio, np.stack(teacher), mask)
