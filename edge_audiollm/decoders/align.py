"""Forced alignment: where each word of a known transcript sits in the frames.

Two topologies:
- "ctc": the CTC graph of the transcript over CTC log-posteriors (blank between tokens
  optional, word delimiters optional through word gaps, see ctcgraph). The usual choice
  for a CTC head.
- "hmm": classical left-to-right units of `n_states` states per token, with an optional
  silence unit (the blank column by default) between words, over scaled likelihoods
  log p(token | x) - prior_scale * log p(token) when `log_priors` is given (the hybrid
  HMM recipe for phone posteriors).
Both run the sparse Viterbi, O(T * S).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import DecoderError
from . import ctcgraph
from .logmath import as_float_array, check_index, check_log_probs
from .network import viterbi as _viterbi
from .topology import Duration, expand
from .vocab import DEFAULT_CHARS, Vocabulary


@dataclass(frozen=True)
class WordTiming:
    word: str
    start_s: float
    end_s: float
    start_frame: int
    end_frame: int  # exclusive


@dataclass(frozen=True)
class Alignment:
    words: tuple  # WordTiming per word, in order
    score: float  # Viterbi log score of the best path
    tokens: tuple  # (token id, start_frame, end_frame) per transcript token
    frame_rate_hz: float


def word_timings(words, unit_word, path_units, frame_rate_hz):
    """WordTiming per word from the unit of every frame on the best path."""
    wk = unit_word[path_units]  # word index per frame (-1: blank, silence, delimiter)
    out = []
    for k, word in enumerate(words):
        frames = np.flatnonzero(wk == k)
        if frames.size == 0:  # cannot happen for emitting words; keep the result total
            out.append(WordTiming(word, math.nan, math.nan, -1, -1))
            continue
        s, e = int(frames[0]), int(frames[-1]) + 1
        out.append(WordTiming(word, s / frame_rate_hz, e / frame_rate_hz, s, e))
    return tuple(out)


def _token_spans(ids, unit_tok, path_units):
    tk = unit_tok[path_units]
    spans = []
    for k, tok in enumerate(ids):
        frames = np.flatnonzero(tk == k)
        spans.append((int(tok), int(frames[0]), int(frames[-1]) + 1) if frames.size else (int(tok), -1, -1))
    return tuple(spans)


def force_align(log_probs, transcript, vocab=None, *, blank: int = 0, frame_rate_hz: float = 50.0,
                topology: str = "ctc", n_states: int = 3, self_loop: float = 0.5,
                log_priors=None, prior_scale: float = 1.0, silence: int | None = None,
                duration: Duration | None = None) -> Alignment:
    """Align `transcript` (a string, or a list of words) to (T, V) frame log-posteriors.

    vocab: token strings (default: blank, space, a-z, apostrophe). Raises DecoderError
    when the transcript cannot be spelled or does not fit in T frames.
    """
    lp = check_log_probs(log_probs)
    T, V = lp.shape
    voc = Vocabulary.from_tokens(vocab if vocab is not None else DEFAULT_CHARS, blank)
    if len(voc) != V:
        raise DecoderError(f"vocab has {len(voc)} tokens but log_probs has V={V}")
    words = transcript.split() if isinstance(transcript, str) else [str(w) for w in transcript]
    if not words:
        raise DecoderError("the transcript is empty; there is nothing to align")
    if not frame_rate_hz > 0:
        raise DecoderError(f"frame_rate_hz must be positive, got {frame_rate_hz!r}")
    # with a delimiter token, the CTC topology makes it optional through word gaps
    # (ctcgraph): the transcript is then spelled without delimiters
    gap = topology == "ctc" and voc.delimiter is not None
    ids, word_of = [], []
    for k, w in enumerate(words):
        if k and voc.delimiter is not None and not gap:
            ids.append(voc.delimiter)
            word_of.append(-1)
        piece = voc.encode(w)
        ids += piece
        word_of += [k] * len(piece)
    ids_a = np.array(ids, dtype=np.int64)
    word_of_a = np.array(word_of, dtype=np.int64)

    if topology == "ctc":
        starts = np.r_[True, word_of_a[1:] != word_of_a[:-1]] if gap else None
        net, unit_node = ctcgraph.chain(ids_a, blank, starts, V if gap else None, duration=duration)
        N = ids_a.size
        unit_word = np.full(unit_node.size, -1)
        unit_word[0:2 * N:2] = word_of_a
        unit_tok = np.full(unit_node.size, -1)
        unit_tok[0:2 * N:2] = np.arange(N)
        scores = ctcgraph.with_gap_column(lp, blank, voc.delimiter) if gap else lp
    elif topology == "hmm":
        sil = blank if silence is None else check_index(silence, "silence", V)
        if not 0.0 <= float(self_loop) < 1.0:
            raise DecoderError(f"self_loop must be a probability in [0, 1), got {self_loop!r}")
        net, unit_word, unit_tok = _hmm_network(ids_a, word_of_a, sil, n_states, self_loop, duration)
        scores = lp
        if log_priors is not None:
            pri = as_float_array(log_priors, "log_priors", 1)
            if pri.size != V or not np.all(np.isfinite(pri)):
                raise DecoderError(f"log_priors must be {V} finite log-probabilities, one per token")
            scores = lp - float(prior_scale) * pri[None, :]
    else:
        raise DecoderError(f"topology must be 'ctc' or 'hmm', got {topology!r}")
    try:
        path, score = _viterbi(net, net.frame_scores(scores))
    except DecoderError:
        raise DecoderError(f"the transcript ({len(ids)} tokens) cannot be aligned to {T} frames: "
                           "too few frames for its tokens, or a token is impossible where needed") from None
    units = net.unit[path]
    return Alignment(word_timings(words, unit_word, units, frame_rate_hz), score,
                     _token_spans(ids_a, unit_tok, units), float(frame_rate_hz))


def _hmm_network(ids, word_of, sil, n_states, self_loop, duration):
    """Units: [sil] tok tok ... [sil] tok ... [sil]; delimiters become optional silence."""
    keep = word_of >= 0
    toks, wof = ids[keep], word_of[keep]
    units_col, unit_word, unit_tok, n_sub = [sil], [-1], [-1], [1]
    src, dst = [], []
    prev_exits = [0]  # units a token may follow
    tok_idx = np.flatnonzero(keep)
    for j, (tok, k) in enumerate(zip(toks.tolist(), wof.tolist())):
        if j and k != wof[j - 1]:  # word boundary: optional silence
            s = len(units_col)
            units_col.append(sil), unit_word.append(-1), unit_tok.append(-1), n_sub.append(1)
            src.append(prev_exits[-1]), dst.append(s)
            prev_exits = [prev_exits[-1], s]
        u = len(units_col)
        units_col.append(tok), unit_word.append(k), unit_tok.append(int(tok_idx[j])), n_sub.append(n_states)
        for p in prev_exits:
            src.append(p), dst.append(u)
        prev_exits = [u]
    s = len(units_col)
    units_col.append(sil), unit_word.append(-1), unit_tok.append(-1), n_sub.append(1)
    src.append(prev_exits[-1]), dst.append(s)
    loop = math.log(self_loop) if self_loop > 0 else float("-inf")
    first_tok, last_tok = 1, prev_exits[-1]
    net = expand(np.array(n_sub), (np.array(src), np.array(dst), np.zeros(len(src))),
                 ([0, first_tok], [0.0, 0.0]), ([last_tok, s], [0.0, 0.0]), cols=np.array(units_col),
                 duration=duration, loop_logp=loop, exit_logp=math.log1p(-self_loop))
    return net, np.array(unit_word), np.array(unit_tok)
