"""HMM algorithms over general models, and the speech uses built on them.

General models (dense parameters, log space):
    forward(log_pi, log_A, log_B) -> float          log-likelihood, log_B is (T, S)
    backward(log_pi, log_A, log_B) -> (T, S)         log beta (beta[T-1] = 0)
    posteriors(log_pi, log_A, log_B) -> (T, S)       state occupation probabilities
    viterbi(log_pi, log_A, log_B) -> (list[int], float)
A transition matrix with few finite entries per column (left-to-right models) is run
through the sparse network code, O(T * S * K) instead of O(T * S^2); results are the same.

Speech uses (see the modules named):
    left_to_right(...)   3-state units with self-loops, duration options   (topology.py)
    force_align(...)     word start/end times of a known transcript        (align.py)
    Grammar, decode_grammar(...)  command grammars over CTC posteriors     (grammar.py)
    command_grammar()    the intents of intents.json as a grammar            (commands.py)
    network_forward / network_viterbi: any sparse Network over (T, C) frame scores

Values: NaN / +inf are rejected, -inf is a structural zero; parameters need not be
normalised (they are used as log-weights). viterbi raises DecoderError when every path
has zero probability; forward then returns -inf.
"""

from __future__ import annotations

import numpy as np

from ..errors import DecoderError
from . import network as _net
from .align import Alignment, WordTiming, force_align
from .commands import command_grammar
from .grammar import CompiledGrammar, Grammar, GrammarResult, Phrase, compile_grammar, decode_grammar
from .logmath import NEG_INF, as_float_array, check_scores
from .network import Network
from .topology import Duration, left_to_right

__all__ = [
    "forward", "backward", "posteriors", "viterbi", "left_to_right", "Duration",
    "force_align", "Alignment", "WordTiming", "Grammar", "Phrase", "GrammarResult",
    "decode_grammar", "compile_grammar", "CompiledGrammar", "command_grammar", "Network",
    "network_forward", "network_viterbi",
]

_SPARSE_MIN_STATES = 16  # below this the dense code is as fast


def _check(log_pi, log_A, log_B):
    pi = as_float_array(log_pi, "log_pi", 1)
    A = as_float_array(log_A, "log_A", 2)
    B = as_float_array(log_B, "log_B", 2)
    S = pi.size
    if S == 0:
        raise DecoderError("log_pi is empty; a model needs at least one state")
    if A.shape != (S, S):
        raise DecoderError(f"log_A has shape {A.shape} but log_pi has {S} states; log_A must be ({S}, {S})")
    if B.shape[1] != S:
        raise DecoderError(f"log_B has shape {B.shape}; it must be (T, S) with S={S} (transpose it?)")
    if B.shape[0] == 0:
        raise DecoderError("log_B has no frames (T=0); there is nothing to score")
    return check_scores(pi, "log_pi"), check_scores(A, "log_A"), check_scores(B, "log_B")


def _sparse(A: np.ndarray) -> bool:
    S = A.shape[0]
    if S < _SPARSE_MIN_STATES:
        return False
    indeg = np.isfinite(A).sum(axis=0).max()
    return indeg * 4 <= S


def _forward_dense(pi, A, B):
    alpha = np.empty(B.shape)
    alpha[0] = pi + B[0]
    for t in range(1, B.shape[0]):
        alpha[t] = _net._lse_rows((alpha[t - 1][:, None] + A).T) + B[t]
    return alpha


def _backward_dense(A, B):
    beta = np.empty(B.shape)
    beta[-1] = 0.0
    for t in range(B.shape[0] - 2, -1, -1):
        beta[t] = _net._lse_rows(A + (B[t + 1] + beta[t + 1])[None, :])
    return beta


def forward(log_pi, log_A, log_B) -> float:
    """log p(observations) = log sum over state paths; -inf if no path is possible."""
    pi, A, B = _check(log_pi, log_A, log_B)
    if _sparse(A):
        return _net.forward(_net.Network.from_dense(pi, A), B)
    alpha = _forward_dense(pi, A, B)
    return float(_net._lse_rows(alpha[-1][None, :])[0])


def backward(log_pi, log_A, log_B) -> np.ndarray:
    """(T, S) log beta: log p(frames t+1.. | state s at t)."""
    pi, A, B = _check(log_pi, log_A, log_B)
    if _sparse(A):
        return _net.backward_lattice(_net.Network.from_dense(pi, A), B)
    return _backward_dense(A, B)


def posteriors(log_pi, log_A, log_B) -> np.ndarray:
    """(T, S) p(state s at frame t | all frames); rows sum to 1."""
    pi, A, B = _check(log_pi, log_A, log_B)
    if _sparse(A):
        net = _net.Network.from_dense(pi, A)
        alpha, beta = _net.forward_lattice(net, B), _net.backward_lattice(net, B)
    else:
        alpha, beta = _forward_dense(pi, A, B), _backward_dense(A, B)
    total = _net._lse_rows(alpha[-1][None, :])[0]
    if not np.isfinite(total):
        raise DecoderError("the observations have zero probability under this model; posteriors are undefined")
    return np.exp(alpha + beta - total)


def viterbi(log_pi, log_A, log_B) -> tuple[list[int], float]:
    """Most probable state path and its log score."""
    pi, A, B = _check(log_pi, log_A, log_B)
    if _sparse(A):
        path, score = _net.viterbi(_net.Network.from_dense(pi, A), B)
        return path.tolist(), score
    T, S = B.shape
    bp = np.empty((T, S), dtype=np.int64)
    delta = pi + B[0]
    cols = np.arange(S)
    for t in range(1, T):
        cand = delta[:, None] + A  # (from, to)
        bp[t] = cand.argmax(axis=0)
        delta = cand[bp[t], cols] + B[t]
    s = int(np.argmax(delta))
    score = float(delta[s])
    if score == NEG_INF:
        raise DecoderError("every state path has zero probability (check log_pi, log_A and -inf in log_B)")
    path = [s]
    for t in range(T - 1, 0, -1):
        s = int(bp[t, s])
        path.append(s)
    return path[::-1], score


def _check_net_scores(net, scores):
    if not isinstance(net, Network):
        raise DecoderError("net must be a hmm.Network (e.g. from hmm.left_to_right)")
    E = as_float_array(scores, "scores", 2)
    if E.shape[0] == 0:
        raise DecoderError("scores has no frames (T=0); there is nothing to score")
    return net.frame_scores(check_scores(E, "scores"))


def network_forward(net, scores) -> float:
    """log-likelihood of (T, C) frame scores under a sparse network, O(T * S * K)."""
    return _net.forward(net, _check_net_scores(net, scores))


def network_viterbi(net, scores) -> tuple[list[int], float]:
    """Best state path through a sparse network and its score, O(T * S * K)."""
    path, score = _net.viterbi(net, _check_net_scores(net, scores))
    return path.tolist(), score
