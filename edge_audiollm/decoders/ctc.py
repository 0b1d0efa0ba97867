"""CTC decoding over explicit (T, V) log-probabilities: the marginal likelihood of a
labelling (forward algorithm), greedy best-path decoding, and prefix beam search with an
optional ARPA word LM and hotwords (implemented in `beam.py`, re-exported here).

Inputs are used as scores (see `logmath`): unnormalised rows are accepted, NaN and +inf
are rejected with DecoderError, -inf means "impossible here".
"""

from __future__ import annotations

import numpy as np

from ..errors import DecoderError
from .beam import BeamOptions, Hypothesis, prefix_beam_search
from .logmath import MAX_SCORE, NEG_INF, as_float_array, check_index, check_log_probs, log_softmax

__all__ = [
    "log_likelihood",
    "greedy",
    "greedy_with_timesteps",
    "prefix_beam_search",
    "Hypothesis",
    "BeamOptions",
    "log_softmax",
    "min_frames",
]


def _check_labels(labels, vocab_size: int, blank: int) -> np.ndarray:
    try:
        lab = np.asarray(list(labels) if not isinstance(labels, np.ndarray) else labels)
    except TypeError as exc:
        raise DecoderError(f"labels must be a sequence of integer token ids ({exc})") from exc
    if lab.size == 0:
        return np.zeros(0, dtype=np.int64)
    if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer):
        raise DecoderError(f"labels must be a 1-D sequence of integer token ids, got {lab.dtype} shape {lab.shape}")
    if lab.min() < 0 or lab.max() >= vocab_size:
        raise DecoderError(f"labels contain ids outside [0, {vocab_size}); check the vocabulary size")
    if np.any(lab == blank):
        raise DecoderError(f"labels contain the blank id {blank}; a labelling never includes blank")
    return lab.astype(np.int64)


def min_frames(labels) -> int:
    """Fewest frames that can emit `labels`: one per label plus a blank between repeats."""
    lab = np.asarray(list(labels), dtype=np.int64)
    return int(lab.size + np.count_nonzero(lab[1:] == lab[:-1])) if lab.size else 0


def log_likelihood(log_probs, labels, blank: int = 0) -> float:
    """log p(labels | x): the sum over every CTC alignment, by the forward algorithm.

    Equals -torch.nn.functional.ctc_loss(..., reduction='sum') for one sequence.
    Returns -inf when no alignment exists (too few frames, or a required token is -inf).
    T = 0 is defined: 0.0 for an empty labelling, -inf otherwise.
    """
    lp = check_log_probs(log_probs)
    T, V = lp.shape
    blank = check_index(blank, "blank", V)
    lab = _check_labels(labels, V, blank)
    L = lab.size
    if L == 0:
        return float(np.sum(lp[:, blank]))
    if T < min_frames(lab):
        return NEG_INF

    # extended labelling: blank, l1, blank, l2, ..., lL, blank
    ext = np.full(2 * L + 1, blank, dtype=np.int64)
    ext[1::2] = lab
    S = ext.size
    # a label may be reached from two states back only if it differs from that label
    # (otherwise the blank between the repeats is mandatory)
    skip = np.zeros(S, dtype=bool)
    skip[3::2] = lab[1:] != lab[:-1]
    emit = lp[:, ext]  # (T, S) gathered once, not per frame

    alpha = np.full(S, NEG_INF)
    alpha[:2] = emit[0, :2]
    shifted1 = np.full(S, NEG_INF)
    shifted2 = np.full(S, NEG_INF)
    for t in range(1, T):
        shifted1[1:] = alpha[:-1]
        shifted2[2:] = np.where(skip[2:], alpha[:-2], NEG_INF)
        alpha = np.logaddexp(np.logaddexp(alpha, shifted1), shifted2) + emit[t]
    return float(np.logaddexp(alpha[-1], alpha[-2]))


def _best_path(log_probs, blank: int):
    """Frame argmax with the finiteness check folded in (one pass over the data)."""
    arr = as_float_array(log_probs, "log_probs", 2, dtype=None)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    T, V = arr.shape
    if V == 0:
        raise DecoderError(f"log_probs has shape {arr.shape}: the vocabulary axis V is empty")
    blank = check_index(blank, "blank", V)
    if T == 0:
        return np.zeros(0, dtype=np.int64), blank
    best = np.argmax(arr, axis=1)
    # argmax lands on the first NaN or +inf of a row if there is one, and on -inf only
    # when the whole row is -inf, so checking the winners checks the input
    top = arr[np.arange(T), best]
    ok = np.isfinite(top) & (np.abs(top) <= MAX_SCORE)
    if not np.all(ok):
        t = int(np.flatnonzero(~ok)[0])
        v = top[t]
        what = ("NaN" if np.isnan(v) else "+inf" if v == np.inf else "-inf (log 0) in every token" if v < 0
                else f"a score of {v:.3g}, above {MAX_SCORE:g}")
        raise DecoderError(f"log_probs frame {t} has {what}; check the model output before decoding")
    return best, blank


def greedy(log_probs, blank: int = 0) -> list[int]:
    """Best-path decoding: frame-wise argmax, merge repeats, drop blanks."""
    best, blank = _best_path(log_probs, blank)
    if best.size == 0:
        return []
    keep = best != blank
    keep[1:] &= best[1:] != best[:-1]
    return best[keep].tolist()


def greedy_with_timesteps(log_probs, blank: int = 0) -> tuple[list[int], list[int]]:
    """Greedy tokens and, for each, the first frame of its run."""
    best, blank = _best_path(log_probs, blank)
    if best.size == 0:
        return [], []
    keep = best != blank
    keep[1:] &= best[1:] != best[:-1]
    frames = np.flatnonzero(keep)
    return best[frames].tolist(), frames.tolist()
