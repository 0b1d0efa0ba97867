"""Property tests: whatever the input (empty, one frame, NaN/Inf, unnormalised, wrong
vocabulary size), every public decoder call either raises DecoderError with a message or
returns a defined result: never another exception, never a silent NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from edge_audiollm.decoders import ctc, hmm  # noqa: E402
from edge_audiollm.errors import DecoderError  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
finite = st.floats(min_value=-30, max_value=30, allow_nan=False, allow_infinity=False)


def matrices(elements, max_t=6, max_v=5, min_t=0):
    return hnp.arrays(np.float64, st.tuples(st.integers(min_t, max_t), st.integers(1, max_v)),
                      elements=elements)


def no_nan(x):
    return not (isinstance(x, float) and math.isnan(x))


def _defined_or_error(call):
    """Run call(); DecoderError is fine, anything else must be a NaN-free result."""
    try:
        return call()
    except DecoderError as exc:
        assert str(exc)  # a message, naming the problem
        return None


@SETTINGS
@given(lp=matrices(any_float), labels=st.lists(st.integers(-1, 6), max_size=4))
def test_log_likelihood_never_crashes_or_nans(lp, labels):
    out = _defined_or_error(lambda: ctc.log_likelihood(lp, labels))
    if out is not None:
        assert isinstance(out, float) and no_nan(out) and out != math.inf
        # only valid input gets a result
        assert np.all(~np.isnan(lp)) and not np.any(lp == np.inf)
        assert all(0 < x < lp.shape[1] for x in labels)


def test_huge_values():
    """Above 1e30: rejected (not a score of any model). Below -1e30: read as -inf."""
    lp = np.log(np.full((3, 3), 1 / 3))
    lp[1, 2] = 1e300
    with pytest.raises(DecoderError, match="above"):
        ctc.log_likelihood(lp, [1])
    with pytest.raises(DecoderError, match="above"):
        ctc.greedy(lp)
    lp[1, 2] = np.finfo(np.float64).min
    assert ctc.log_likelihood(lp, [2, 2, 2]) == -math.inf
    lp[1] = -1e308
    with pytest.raises(DecoderError, match="frame 1"):
        ctc.log_likelihood(lp, [1])


@SETTINGS
@given(lp=matrices(any_float))
def test_greedy_and_beam_never_crash_or_nan(lp):
    g = _defined_or_error(lambda: ctc.greedy(lp))
    b = _defined_or_error(lambda: ctc.prefix_beam_search(lp, beam_width=4))
    if g is not None:
        assert all(0 < t < lp.shape[1] for t in g)
    if b is not None:
        assert b and all(no_nan(h.score) and h.score != math.inf for h in b)
        assert [h.score for h in b] == sorted((h.score for h in b), reverse=True)
    if lp.size and (np.isnan(lp).any() or (lp == np.inf).any()):
        assert g is None and b is None  # bad values are always rejected


@SETTINGS
@given(lp=matrices(finite, min_t=1, max_t=3, max_v=3), shift=st.lists(finite, min_size=3, max_size=3))
def test_unnormalised_rows_are_scores(lp, shift):
    """Documented behaviour: rows are used as given. A per-frame shift c_t adds sum(c_t)
    to every score and changes no decision. (Small T and V with a beam that holds every
    prefix, so that the beam is exact and ties cannot prune differently.)"""
    c = np.array(shift[: lp.shape[0]])[:, None]
    lab = [1] if lp.shape[1] > 1 else []
    a, b = ctc.log_likelihood(lp, lab), ctc.log_likelihood(lp + c, lab)
    if a == -math.inf:
        assert b == -math.inf
    else:
        assert b == pytest.approx(a + c.sum(), rel=1e-9, abs=1e-7)
    assert ctc.greedy(lp) == ctc.greedy(lp + c) or np.any(np.isclose(np.diff(np.sort(lp, 1)[:, -2:]), 0))
    h1, h2 = ctc.prefix_beam_search(lp, 64)[0], ctc.prefix_beam_search(lp + c, 64)[0]
    assert h2.score == pytest.approx(h1.score + c.sum(), rel=1e-9, abs=1e-6)


@SETTINGS
@given(lp=matrices(finite, min_t=1, max_v=4), extra=st.integers(-2, 2).filter(lambda d: d != 0))
def test_wrong_vocabulary_size_is_an_error(lp, extra):
    V = lp.shape[1]
    vocab = ["_", *"abcdefgh"][: max(1, V + extra)]
    if len(vocab) == V:
        return
    with pytest.raises(DecoderError, match="vocab"):
        ctc.prefix_beam_search(lp, vocab=vocab)
    with pytest.raises(DecoderError):
        ctc.log_likelihood(lp, [V])  # label id out of range
    with pytest.raises(DecoderError):
        ctc.greedy(lp, blank=V)


@SETTINGS
@given(lp=matrices(finite, min_t=1, max_t=1))
def test_single_frame(lp):
    V = lp.shape[1]
    g = ctc.greedy(lp)
    assert g == ([] if int(np.argmax(lp[0])) == 0 else [int(np.argmax(lp[0]))])
    for v in range(1, V):
        assert ctc.log_likelihood(lp, [v]) == pytest.approx(lp[0, v])
    assert ctc.log_likelihood(lp, []) == pytest.approx(lp[0, 0])


def test_empty_input_is_defined():
    empty = np.zeros((0, 4))
    assert ctc.greedy(empty) == []
    hyps = ctc.prefix_beam_search(empty)
    assert len(hyps) == 1 and hyps[0].tokens == [] and hyps[0].score == 0.0
    assert ctc.log_likelihood(empty, []) == 0.0
    for bad in (np.zeros((3,)), np.zeros((2, 0)), np.zeros((2, 2, 2)), [[1, 2], [3]], "abc"):
        with pytest.raises(DecoderError):
            ctc.greedy(bad)
        with pytest.raises(DecoderError):
            ctc.prefix_beam_search(bad)
    with pytest.raises(DecoderError, match="no frames"):
        hmm.forward(np.zeros(2), np.zeros((2, 2)), np.zeros((0, 2)))


@st.composite
def hmm_inputs(draw):
    S = draw(st.integers(1, 4))
    T = draw(st.integers(0, 5))
    el = st.one_of(finite, st.sampled_from([-np.inf, np.inf, np.nan]))
    pi = draw(hnp.arrays(np.float64, (S,), elements=el))
    A = draw(hnp.arrays(np.float64, (S, S), elements=el))
    B = draw(hnp.arrays(np.float64, (T, S), elements=el))
    return pi, A, B


@SETTINGS
@given(args=hmm_inputs())
def test_hmm_calls_never_crash_or_nan(args):
    pi, A, B = args
    f = _defined_or_error(lambda: hmm.forward(pi, A, B))
    v = _defined_or_error(lambda: hmm.viterbi(pi, A, B))
    p = _defined_or_error(lambda: hmm.posteriors(pi, A, B))
    if f is not None:
        assert no_nan(f) and f != math.inf
    if v is not None:
        path, score = v
        assert len(path) == B.shape[0] and all(0 <= s < B.shape[1] for s in path)
        assert math.isfinite(score) and f is not None and score <= f + 1e-9
    if p is not None:
        assert not np.isnan(p).any() and np.allclose(p.sum(axis=1), 1.0)
    bad = any(np.isnan(x).any() or (x == np.inf).any() for x in (pi, A, B))
    if bad or B.shape[0] == 0:
        assert f is None and v is None and p is None


@SETTINGS
@given(st.lists(st.text("abc'", max_size=5), max_size=30), st.text("abc'", max_size=4))
def test_next_chars_are_exactly_the_characters_that_keep_a_prefix(words, prefix):
    # the beam's out-of-lexicon rows rest on this: one bisection per following character
    from edge_audiollm.decoders.arpa import Prefixes

    p = Prefixes(sorted(set(words)))
    assert p.next_chars(prefix) == {ch for ch in "abc'" if prefix + ch in p}
    assert (prefix in p) == any(w.startswith(prefix) for w in words)
