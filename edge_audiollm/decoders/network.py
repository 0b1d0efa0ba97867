"""Sparse HMM networks and their forward / backward / Viterbi passes.

A network stores, for every state, its K incoming arcs as padded (S, K) arrays of
predecessor indices and log-weights (and the same for outgoing arcs, for the backward
pass). A frame then costs O(S * K) instead of O(S^2): left-to-right speech topologies have
K <= 3, which makes forced alignment and grammar decoding O(T * S).

States read their frame scores from a (T, C) matrix through `emit` (a column per state),
so several states can share one posterior column (the 3 states of a unit, every copy of a
token in a grammar).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DecoderError
from .logmath import NEG_INF


def _pad_by(key: np.ndarray, other: np.ndarray, w: np.ndarray, S: int):
    """Group arcs by `key` into (S, K) arrays of `other` and `w`, padded with (0, -inf)."""
    K = int(np.bincount(key, minlength=S).max()) if key.size else 1
    K = max(K, 1)
    idx = np.zeros((S, K), dtype=np.int64)
    wts = np.full((S, K), NEG_INF)
    if key.size:
        order = np.argsort(key, kind="stable")
        k_sorted = key[order]
        starts = np.searchsorted(k_sorted, np.arange(S))
        rank = np.arange(key.size) - starts[k_sorted]
        idx[k_sorted, rank] = other[order]
        wts[k_sorted, rank] = w[order]
    return idx, wts


@dataclass(frozen=True, eq=False)
class Network:
    log_init: np.ndarray  # (S,) log weight of starting in each state
    log_final: np.ndarray  # (S,) log weight of ending in each state (-inf: not allowed)
    emit: np.ndarray  # (S,) column of the frame-score matrix each state reads
    pred: np.ndarray  # (S, K) predecessor state ids
    pred_logp: np.ndarray  # (S, K) arc log weights (-inf pads)
    succ: np.ndarray  # (S, K') successor state ids
    succ_logp: np.ndarray  # (S, K') arc log weights
    unit: np.ndarray  # (S,) id of the unit (token position, grammar node) a state belongs to

    @classmethod
    def from_arcs(cls, n_states, src, dst, logp, log_init, log_final, emit, unit=None) -> "Network":
        S = int(n_states)
        src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
        logp = np.asarray(logp, dtype=np.float64)
        pred, pred_logp = _pad_by(dst, src, logp, S)
        succ, succ_logp = _pad_by(src, dst, logp, S)
        unit = np.arange(S) if unit is None else np.asarray(unit, dtype=np.int64)
        return cls(np.asarray(log_init, float), np.asarray(log_final, float),
                   np.asarray(emit, dtype=np.int64), pred, pred_logp, succ, succ_logp, unit)

    @classmethod
    def from_dense(cls, log_pi, log_A, log_final=None) -> "Network":
        """Keep only the finite entries of a dense log transition matrix."""
        S = log_A.shape[0]
        src, dst = np.nonzero(np.isfinite(log_A))
        fin = np.zeros(S) if log_final is None else log_final
        return cls.from_arcs(S, src, dst, log_A[src, dst], log_pi, fin, np.arange(S))

    @property
    def n_states(self) -> int:
        return self.log_init.size

    def to_dense(self):
        """(log_pi, log_A) of the same model; for tests and small networks."""
        S = self.n_states
        A = np.full((S, S), NEG_INF)
        rows = np.repeat(np.arange(S), self.pred.shape[1])
        src, w = self.pred.ravel(), self.pred_logp.ravel()
        ok = np.isfinite(w)
        np.logaddexp.at(A, (src[ok], rows[ok]), w[ok])
        return self.log_init.copy(), A

    def frame_scores(self, scores: np.ndarray) -> np.ndarray:
        """Gather the (T, S) emission matrix once, so the time loop only adds rows."""
        if scores.ndim != 2 or scores.shape[1] <= int(self.emit.max(initial=0)):
            raise DecoderError(f"frame scores of shape {scores.shape} do not cover the network's "
                               f"columns (needs > {int(self.emit.max(initial=0))}); check the vocabulary size")
        return scores[:, self.emit]


def _lse_rows(cand: np.ndarray) -> np.ndarray:
    m = cand.max(axis=1)
    m = np.where(np.isfinite(m), m, 0.0)  # all -inf rows stay -inf, not NaN
    with np.errstate(divide="ignore"):
        return np.log(np.exp(cand - m[:, None]).sum(axis=1)) + m


def forward_lattice(net: Network, E: np.ndarray) -> np.ndarray:
    """(T, S) log alpha over the emission matrix E = net.frame_scores(...)."""
    T, S = E.shape
    alpha = np.empty((T, S))
    alpha[0] = net.log_init + E[0]
    pred, w = net.pred, net.pred_logp
    for t in range(1, T):
        alpha[t] = _lse_rows(alpha[t - 1][pred] + w) + E[t]
    return alpha


def backward_lattice(net: Network, E: np.ndarray) -> np.ndarray:
    """(T, S) log beta, with beta[T-1] = log_final."""
    T, S = E.shape
    beta = np.empty((T, S))
    beta[-1] = net.log_final
    succ, w = net.succ, net.succ_logp
    for t in range(T - 2, -1, -1):
        nxt = E[t + 1] + beta[t + 1]
        beta[t] = _lse_rows(nxt[succ] + w)
    return beta


def forward(net: Network, E: np.ndarray) -> float:
    alpha = net.log_init + E[0]
    pred, w = net.pred, net.pred_logp
    for t in range(1, E.shape[0]):
        alpha = _lse_rows(alpha[pred] + w) + E[t]
    with np.errstate(divide="ignore"):
        return float(_lse_rows((alpha + net.log_final)[None, :])[0])


def viterbi(net: Network, E: np.ndarray, return_final: bool = False):
    """Best state path and its score; optionally the best score ending in every state."""
    T, S = E.shape
    pred, w = net.pred, net.pred_logp
    K = pred.shape[1]
    bp = np.zeros((T, S), dtype=np.int8 if K < 128 else np.int32)
    rows = np.arange(S)
    delta = net.log_init + E[0]
    for t in range(1, T):
        cand = delta[pred] + w
        k = cand.argmax(axis=1)
        bp[t] = k
        delta = cand[rows, k] + E[t]
    final = delta + net.log_final
    s = int(np.argmax(final))
    score = float(final[s])
    if not np.isfinite(score):
        raise DecoderError(f"no path through the network fits the {T} frames "
                           "(too few frames for the sequence, or every path has zero probability)")
    path = np.empty(T, dtype=np.int64)
    path[-1] = s
    for t in range(T - 1, 0, -1):
        s = int(pred[s, bp[t, s]])
        path[t - 1] = s
    return (path, score, final) if return_final else (path, score)
