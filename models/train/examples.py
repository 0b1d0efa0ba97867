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
