"""From units (tokens, phones) to HMM states: the classical left-to-right topology and
explicit durations.

A unit has n sub-states in a chain (3 for the classical phone model, 1 for a CTC token).
Each sub-state becomes a block of copies that sets its duration:
- geometric (default): one copy with a self-loop;
- min_frames=m: a chain of m copies, the last one looping: at least m frames;
- pmf=(p1..pD): a countdown of D copies entered at "d frames left" with probability p_d
  and left after the last one; the self-loop is gone, durations follow the pmf exactly.
Every block has the same shape, so the whole network is laid out with numpy broadcasting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import DecoderError
from .logmath import NEG_INF
from .network import Network


@dataclass(frozen=True)
class Duration:
    """Duration model for every emitting state of a network (see the module doc)."""

    min_frames: int = 1
    pmf: tuple | None = None  # p(duration = 1 .. D frames); replaces the self-loop

    def __post_init__(self):
        if isinstance(self.min_frames, bool) or not isinstance(self.min_frames, (int, np.integer)) \
                or self.min_frames < 1:
            raise DecoderError(f"Duration.min_frames must be an integer >= 1, got {self.min_frames!r}")
        if self.pmf is not None:
            p = np.asarray(self.pmf, dtype=np.float64)
            if p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
                raise DecoderError("Duration.pmf must be a non-empty list of non-negative probabilities "
                                   "for durations 1..D frames")
            if self.min_frames != 1:
                raise DecoderError("give either Duration.min_frames or Duration.pmf (put zeros at the "
                                   "start of the pmf for a minimum)")
            object.__setattr__(self, "pmf", tuple((p / p.sum()).tolist()))

    def block(self, loop_logp: float, exit_logp: float):
        """(n copies, internal arcs [(a, b, w)], entries [(copy, w)], exits [(copy, w)])."""
        if self.pmf is not None:
            D = len(self.pmf)
            with np.errstate(divide="ignore"):
                lp = np.log(np.asarray(self.pmf))
            # copy k has D - k frames left, counting the current one
            internal = [(k, k + 1, 0.0) for k in range(D - 1)]
            entries = [(k, float(lp[D - 1 - k])) for k in range(D) if np.isfinite(lp[D - 1 - k])]
            return D, internal, entries, [(D - 1, 0.0)]
        m = int(self.min_frames)
        internal = [(k, k + 1, 0.0) for k in range(m - 1)] + [(m - 1, m - 1, loop_logp)]
        return m, internal, [(0, 0.0)], [(m - 1, exit_logp)]


def expand(n_sub, arcs, init, final, *, cols, duration: Duration | None = None,
           loop_logp: float = 0.0, exit_logp: float = 0.0) -> Network:
    """Lay out units as states.

    n_sub: (U,) sub-states per unit; cols: (U,) frame-score column of each unit;
    arcs: (src_unit, dst_unit, log_w) arrays; init / final: (unit, log_w) arrays.
    State ids run unit by unit, sub-state by sub-state, copy by copy.
    """
    dur = duration or Duration()
    n, internal, entries, exits = dur.block(loop_logp, exit_logp)
    n_sub = np.asarray(n_sub, dtype=np.int64)
    U = n_sub.size
    first_block = np.concatenate([[0], np.cumsum(n_sub)[:-1]])  # block id of each unit's sub-state 0
    n_blocks = int(n_sub.sum())
    last_block = first_block + n_sub - 1
    S = n_blocks * n
    src, dst, w = [], [], []

    def connect(from_blocks, to_blocks, weight):
        # exits of from_blocks -> entries of to_blocks, broadcast over copy pairs
        for xc, xw in exits:
            for ec, ew in entries:
                src.append(from_blocks * n + xc)
                dst.append(to_blocks * n + ec)
                w.append(np.broadcast_to(weight + xw + ew, from_blocks.shape).astype(float))

    blocks = np.arange(n_blocks)
    for a, b, iw in internal:
        src.append(blocks * n + a)
        dst.append(blocks * n + b)
        w.append(np.full(n_blocks, iw))
    within = np.ones(n_blocks, dtype=bool)
    within[last_block] = False  # sub-state k -> k+1 inside a unit
    connect(blocks[within], blocks[within] + 1, 0.0)
    a_src, a_dst, a_w = (np.asarray(x) for x in arcs)
    if a_src.size:
        connect(last_block[a_src.astype(np.int64)], first_block[a_dst.astype(np.int64)], a_w.astype(float))

    log_init = np.full(S, NEG_INF)
    i_u, i_w = (np.asarray(x) for x in init)
    for ec, ew in entries:
        np.logaddexp.at(log_init, first_block[i_u.astype(np.int64)] * n + ec, i_w + ew)
    log_final = np.full(S, NEG_INF)
    f_u, f_w = (np.asarray(x) for x in final)
    for xc, _ in exits:  # ending needs a complete duration, not the exit weight
        np.logaddexp.at(log_final, last_block[f_u.astype(np.int64)] * n + xc, f_w.astype(float))

    unit_of_block = np.repeat(np.arange(U), n_sub)
    emit = np.repeat(np.asarray(cols, dtype=np.int64)[unit_of_block], n)
    unit = np.repeat(unit_of_block, n)
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0))
    return Network.from_arcs(S, cat(src).astype(np.int64), cat(dst).astype(np.int64), cat(w),
                             log_init, log_final, emit, unit)


def left_to_right(n_units: int, n_states: int = 3, self_loop: float = 0.5, *, cols=None,
                  duration: Duration | None = None) -> Network:
    """A chain of `n_units` classical units, each `n_states` states with self-loops.

    self_loop: probability of staying in a state (geometric durations); ignored for
    states whose Duration has a pmf. cols: frame-score column per unit (default 0..U-1).
    Starts in the first state and must end in the last.
    """
    if isinstance(n_units, bool) or not isinstance(n_units, (int, np.integer)) or n_units < 1:
        raise DecoderError(f"n_units must be a positive integer, got {n_units!r}")
    if isinstance(n_states, bool) or not isinstance(n_states, (int, np.integer)) or n_states < 1:
        raise DecoderError(f"n_states must be a positive integer, got {n_states!r}")
    if not 0.0 <= float(self_loop) < 1.0:
        raise DecoderError(f"self_loop must be a probability in [0, 1), got {self_loop!r}")
    cols = np.arange(n_units) if cols is None else np.asarray(cols, dtype=np.int64)
    if cols.shape != (n_units,):
        raise DecoderError(f"cols must give one column per unit ({n_units}), got shape {cols.shape}")
    loop = math.log(self_loop) if self_loop > 0 else NEG_INF
    u = np.arange(n_units - 1)
    return expand(np.full(n_units, n_states), (u, u + 1, np.zeros(u.size)), ([0], [0.0]),
                  ([n_units - 1], [0.0]), cols=cols, duration=duration,
                  loop_logp=loop, exit_logp=math.log1p(-self_loop))
