"""Log-space helpers and the input checks shared by every public decoder call.

Policy on values, the same for CTC and HMM inputs:
- NaN and +inf are rejected (they can only come from a bug upstream, and would turn
  every score into NaN without a word).
- finite values above MAX_SCORE (1e30) are rejected too: they overflow when summed.
- values below -MAX_SCORE are read as -inf (masks such as torch.finfo(float32).min mean
  log 0, and summing them would overflow anyway).
- -inf is accepted: it is log(0), a legitimate structural zero (masked tokens, forbidden
  transitions).
- Rows need not be normalised. Inputs are used as *scores*: every result is the log of a
  sum over paths of exp(score), which is a log-probability exactly when the inputs are
  normalised log-probabilities. (torch's ctc_loss and hmmlearn's frame log-likelihoods
  behave the same way.) Use `log_softmax` to turn raw logits into log-probabilities.
"""

from __future__ import annotations

import numpy as np

from ..errors import DecoderError

NEG_INF = float("-inf")
# Larger scores are not log-probabilities or logits of any real model, and sums of them
# overflow to +inf; reject them rather than return inf.
MAX_SCORE = 1e30


def log_softmax(logits, axis: int = -1) -> np.ndarray:
    """Normalise raw scores (logits) into log-probabilities along `axis`."""
    x = np.asarray(logits, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    # a row of all -inf would give -inf - -inf = NaN; shift it by 0 instead
    m = np.where(np.isfinite(m), m, 0.0)
    z = x - m
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def logsumexp(x, axis=None) -> np.ndarray | float:
    """log(sum(exp(x))) that returns -inf (not NaN) when every term is -inf."""
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if axis is None:
        return float(out.reshape(()))
    return np.squeeze(out, axis=axis)


def as_float_array(x, name: str, ndim: int, dtype=np.float64) -> np.ndarray:
    """Convert to a float array of the given rank, or raise DecoderError naming `name`."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise DecoderError(f"{name} could not be read as an array ({exc}); pass a numpy array") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DecoderError(f"{name} has dtype {arr.dtype}; pass real floating-point scores")
    if arr.ndim != ndim:
        raise DecoderError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr.astype(dtype, copy=False)


def check_scores(arr: np.ndarray, name: str) -> np.ndarray:
    """Reject NaN, +inf and huge values; map values below -MAX_SCORE to -inf (log 0).
    Returns the array (a copy only when something had to be mapped)."""
    if arr.size == 0:
        return arr
    # one reduction is cheaper than isfinite over the array: max() propagates NaN
    # and surfaces +inf
    top = float(np.max(arr))
    if np.isnan(top):
        raise DecoderError(f"{name} contains NaN; check the model output before decoding")
    if top == np.inf:
        raise DecoderError(f"{name} contains +inf; scores must be log-probabilities (finite or -inf)")
    if top > MAX_SCORE:
        raise DecoderError(f"{name} contains {top:.3g}, above {MAX_SCORE:g}; pass log-probabilities "
                           "(e.g. ctc.log_softmax(logits)), not raw huge values")
    if float(np.min(arr)) < -MAX_SCORE:
        arr = np.where(arr < -MAX_SCORE, NEG_INF, arr)
    return arr


def check_log_probs(log_probs, name: str = "log_probs", dtype=np.float64) -> np.ndarray:
    """The (T, V) check done at every public CTC call. Returns the array as `dtype`."""
    arr = as_float_array(log_probs, name, 2, dtype)
    if arr.shape[1] == 0:
        raise DecoderError(f"{name} has shape {arr.shape}: the vocabulary axis V is empty")
    arr = check_scores(arr, name)
    if arr.shape[0] and not np.all(np.max(arr, axis=1) > NEG_INF):
        t = int(np.argmin(np.max(arr, axis=1)))
        raise DecoderError(f"{name} frame {t} is -inf for every token; no label can be emitted there")
    return arr


def check_index(value, name: str, size: int) -> int:
    """An integer index in [0, size)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise DecoderError(f"{name} must be an integer index, got {value!r}")
    if not 0 <= int(value) < size:
        raise DecoderError(f"{name}={value} is out of range for a vocabulary of size {size}")
    return int(value)
