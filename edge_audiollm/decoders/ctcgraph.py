"""The CTC topology over a graph of tokens (a chain for alignment, a trie for grammars).

Every token node n gets a token unit T_n (self-loop: the token repeated) and a blank unit
B_n after it; the root gets B_root. For an edge p -> c:
    T_p -> T_c    only if the tokens differ (a repeat needs a blank between)
    B_p -> T_c
and T_n -> B_n always. Paths start in B_root or in the token of a root child and end in
T_n or B_n of a final node. All weights are log 1 = 0, so the forward score over a chain
is exactly the CTC likelihood of the labelling.

Word gaps. Models emit the word delimiter (" " or "|") inconsistently, so a "gap" edge
(into the first token of a word) may route through a gap unit G_p instead of B_p, whose
frame score is log(p(blank) + p(delimiter)): the delimiter becomes optional without
extra arcs, which keeps every state's in-degree at 3 (instead of 5 with skip arcs) and
the Viterbi cheaper. The gap column is appended to the frame scores by `with_gap_column`.
"""

from __future__ import annotations

import numpy as np

from .network import Network
from .topology import Duration, expand


def with_gap_column(scores: np.ndarray, blank: int, delimiter: int) -> np.ndarray:
    """(T, V) -> (T, V + 1): column V scores a word gap, blank or delimiter."""
    gap = np.logaddexp(scores[:, blank], scores[:, delimiter])
    return np.concatenate([scores, gap[:, None]], axis=1)


def build(tokens, edges, root_children, finals, blank: int, *, gap=None, gap_col: int | None = None,
          duration: Duration | None = None) -> tuple[Network, np.ndarray]:
    """tokens: (N,) token id per node; edges: (parent, child) node arrays; gap: bool per
    edge, True when the child starts a new word (needs gap_col); root_children: nodes
    that may come first; finals: nodes where a path may end.

    Returns the network and the node of every unit (-1 for B_root). Unit ids: 2n is T_n,
    2n+1 is B_n, 2N is B_root, then one G unit per node that needs one.
    """
    tokens = np.asarray(tokens, dtype=np.int64)
    N = tokens.size
    p, c = (np.asarray(x, dtype=np.int64) for x in edges)
    g = np.zeros(p.size, dtype=bool) if gap is None or gap_col is None else np.asarray(gap, dtype=bool)
    rc = np.asarray(root_children, dtype=np.int64)
    fin = np.asarray(finals, dtype=np.int64)
    n_idx = np.arange(N)
    # gap units: for nodes with word-starting children, and for final nodes (trailing gap)
    g_nodes = np.unique(np.concatenate([p[g], fin])) if gap_col is not None else np.zeros(0, np.int64)
    g_unit = np.full(N, -1, dtype=np.int64)
    g_unit[g_nodes] = 2 * N + 1 + np.arange(g_nodes.size)
    U = 2 * N + 1 + g_nodes.size

    diff = tokens[p] != tokens[c]
    via = np.where(g, g_unit[p], 2 * p + 1)  # B_p, or G_p for a gap edge
    src = np.concatenate([2 * p[diff], via, 2 * n_idx, np.full(rc.size, 2 * N), 2 * g_nodes])
    dst = np.concatenate([2 * c[diff], 2 * c, 2 * n_idx + 1, 2 * rc, g_unit[g_nodes]])
    cols = np.full(U, blank, dtype=np.int64)
    cols[0:2 * N:2] = tokens
    if gap_col is not None:
        cols[2 * N] = gap_col  # leading gap
        cols[2 * N + 1:] = gap_col
    init_u = np.concatenate([[2 * N], 2 * rc])
    final_u = np.concatenate([2 * fin, 2 * fin + 1, g_unit[fin][g_unit[fin] >= 0]])
    if N == 0:  # empty labelling: blanks only
        final_u = np.array([2 * N])
    unit_node = np.full(U, -1, dtype=np.int64)
    unit_node[0:2 * N:2] = n_idx
    unit_node[1:2 * N:2] = n_idx
    unit_node[2 * N + 1:] = g_nodes
    net = expand(np.ones(U, dtype=np.int64), (src, dst, np.zeros(src.size)),
                 (init_u, np.zeros(init_u.size)), (final_u.astype(np.int64), np.zeros(final_u.size)),
                 cols=cols, duration=duration)
    return net, unit_node


def chain(ids, blank: int, word_start=None, gap_col: int | None = None, *,
          duration: Duration | None = None) -> tuple[Network, np.ndarray]:
    """CTC network for a label sequence. With gap_col, tokens flagged in `word_start`
    are entered through an optional-delimiter gap (see the module doc)."""
    ids = np.asarray(ids, dtype=np.int64)
    N = ids.size
    parents, children = np.arange(N - 1), np.arange(1, N)
    gap = None if word_start is None else np.asarray(word_start, dtype=bool)[1:]
    return build(ids, (parents, children), [0] if N else [], [N - 1] if N else [], blank,
                 gap=gap, gap_col=gap_col, duration=duration)
