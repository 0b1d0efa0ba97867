"""CTC-guided segmentation for the `ctc` adapter family, shared by training and runtime.

The CTC head's greedy path is cut into runs of one label; blank runs are dropped; every
`group` consecutive label runs form one segment. The result is a (S, T) 0/1 float32
matrix: row s marks the frames merged into the s-th vector the LLM will read.
"""

from __future__ import annotations

import numpy as np

from .errors import EdgeAudioError


def ctc_segments(log_probs: np.ndarray, *, blank: int = 0, group: int = 1) -> np.ndarray:
    """log_probs (T, V) -> segments (S, T) float32; S = 0 when only blank was heard."""
    lp = np.asarray(log_probs)
    if lp.ndim != 2 or lp.shape[1] < 2:
        raise EdgeAudioError(f"CTC log-probs must be (frames, vocab) with vocab >= 2, got shape {lp.shape}")
    if not 0 <= blank < lp.shape[1]:
        raise EdgeAudioError(f"blank id {blank} is outside the vocabulary of {lp.shape[1]}")
    if group < 1:
        raise EdgeAudioError(f"group must be >= 1 label runs per segment, got {group}")
    t = lp.shape[0]
    ids = lp.argmax(axis=1)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if t else np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], t]
    keep = ids[starts] != blank
    starts, ends = starts[keep], ends[keep]
    out = np.zeros((-(-len(starts) // group), t), dtype=np.float32)
    for j, (s, e) in enumerate(zip(starts, ends)):
        out[j // group, s:e] = 1.0
    return out
