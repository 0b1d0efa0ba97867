"""Training examples for the heads and the LLM, and their batching.

An LLM example is [<bos>, <task>, <audio>] + middle + [</audio>] -> target + <eos>, where
the middle is the adapter's audio embeddings (audio stage) or the transcript's own token
embeddings (text stage: the LLM first learns the tasks from text, then the adapter learns
to speak the LLM's language). Loss falls on the target and <eos> only. Sequences are
right-padded, so causal attention alone keeps real tokens from seeing padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models.ctc_head import CHAR_VOCAB
from models.tokenizer import Tokenizer, intent_target

IGNORE = -100
_CHAR_ID = {c: i for i, c in enumerate(CHAR_VOCAB)}


def ctc_labels(text: str) -> list[int]:
    return [_CHAR_ID[c] for c in text if c in _CHAR_ID and c != "<blank>"]


@dataclass(frozen=True)
class LMExample:
    task: str  # "transcribe" | "understand"
    middle_ids: tuple[int, ...] | None  # text stage: transcript tokens; audio stage: None
    states_key: str | None  # audio stage: which cached encoder states
    target_ids: tuple[int, ...]


def targets_for(tok: Tokenizer, text: str, intent: str | None, slots: dict) -> dict[str, list[int]]:
    """Both tasks' target token ids for one labelled utterance."""
    out = {"transcribe": tok.encode(text) if text else []}
    if intent is not None:
        out["understand"] = tok.encode(intent_target(intent, slots if intent != "unknown" else {}))
    return out


def pad_states(states: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in states])
    out = torch.zeros(len(states), int(lengths.max()), states[0].shape[1])
    for i, s in enumerate(states):
        out[i, : len(s)] = torch.from_numpy(s.astype(np.float32))
    return out, lengths


@dataclass(frozen=True)
class StateMasking:
    """SpecAugment on cached encoder states: the encoder is frozen and its states are cached,
    so masking them is the cheap augmentation left. Synthetic voices are cleaner and more
    regular than people; hiding short spans and some channels makes the heads lean on context."""

    time_masks_per_s: float = 0.4  # masks per second of audio
    max_time_frames: int = 8  # 160 ms at 50 Hz
    channel_masks: int = 2
    max_channels: int = 24
    frames_per_s: float = 50.0  # the states' rate (100 for log-mel frames)


def mask_states(x: torch.Tensor, lengths: torch.Tensor, opts: StateMasking, rng: np.random.Generator) -> torch.Tensor:
    """x (B, T, ..., D) float: a masked copy (masked values set to 0, the states' rough mean).
    Stacked layers (B, T, L, D) get the same time spans and channels in every layer."""
    x = x.clone()
    b, d = x.shape[0], x.shape[-1]
    for i in range(b):
        n = int(lengths[i])
        for _ in range(rng.poisson(opts.time_masks_per_s * n / opts.frames_per_s)):
            w = int(rng.integers(1, opts.max_time_frames + 1))
            t0 = int(rng.integers(0, max(1, n - w)))
            x[i, t0 : t0 + w] = 0.0
        for _ in range(opts.channel_masks):
            w = int(rng.integers(0, opts.max_channels + 1))
            c0 = int(rng.integers(0, max(1, d - w)))
            x[i, :, ..., c0 : c0 + w] = 0.0
    return x


def build_lm_batch(
    tok: Tokenizer,
    embed: torch.nn.Embedding,
    examples: list[LMExample],
    audio_embeds: list[torch.Tensor | None],
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs_embeds (B, N, D), labels (B, N)) where labels[t] is the token to predict at t."""
    bos, aud, end_aud, eos = (tok.special(s) for s in ("<bos>", "<audio>", "</audio>", "<eos>"))
    rows, labels = [], []
    for ex, audio in zip(examples, audio_embeds):
        prefix = torch.tensor([bos, tok.special(f"<{ex.task}>"), aud])
        target = torch.tensor(list(ex.target_ids) + [eos])
        parts = [embed(prefix)]
        parts.append(audio if audio is not None else embed(torch.tensor(ex.middle_ids or [], dtype=torch.long)))
        parts.append(embed(torch.tensor([end_aud])))
        parts.append(embed(target[:-1]))
        seq = torch.cat(parts, dim=0)
        lab = torch.full((len(seq),), IGNORE, dtype=torch.long)
        # The position of </audio> predicts target[0]; each target token predicts the next.
        lab[len(seq) - len(target):] = target
        rows.append(seq)
        labels.append(lab)
    n = max(len(r) for r in rows)
    x = torch.zeros(len(rows), n, rows[0].shape[1])
    y = torch.full((len(rows), n), IGNORE, dtype=torch.long)
    for i, (r, lab) in enumerate(zip(rows, labels)):
        x[i, : len(r)] = r
        y[i, : len(lab)] = lab
    return x, y
