"""HMM decoders against hmmlearn (forward, Viterbi, posteriors), exact duration
distributions, forced alignment and grammar decoding on synthetic posteriors with known
answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_audiollm.decoders import ctc, hmm
from edge_audiollm.decoders.topology import Duration
from edge_audiollm.errors import DecoderError

CHARS = ["<blank>", " ", *"abcdefghijklmnopqrstuvwxyz", "'"]


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def synth_ctc(text, T, rng, peak=8.0, noise=1.0):
    """Blank everywhere, one spike per character at evenly spaced frames."""
    ids = [CHARS.index(c) for c in text]
    frames = np.linspace(2, T - 3, len(ids)).round().astype(int)
    x = rng.normal(size=(T, len(CHARS))) * noise
    x[:, 0] += peak
    for f, i in zip(frames, ids):
        x[f, i] += 2 * peak
    return log_softmax(x), frames


def hmmlearn_model(pi, A, log_B):
    base = pytest.importorskip("hmmlearn.base")

    class Given(base.BaseHMM):
        """An hmmlearn HMM whose frame log-likelihoods are given (X holds frame indices)."""

        def _compute_log_likelihood(self, X):
            return self.log_B_[X[:, 0].astype(int)]

    m = Given(n_components=pi.size, implementation="log")
    m.startprob_, m.transmat_, m.log_B_ = pi, A, log_B
    return m


def random_model(rng, S, sparse=False):
    if sparse:  # left-to-right: stay, next, skip
        A = np.zeros((S, S))
        for i in range(S):
            nxt = [j for j in (i, i + 1, i + 2) if j < S]
            A[i, nxt] = rng.dirichlet(np.ones(len(nxt)))
        pi = np.zeros(S)
        pi[:2] = rng.dirichlet(np.ones(2)) if S > 1 else 1.0
        pi /= pi.sum()
    else:
        A = rng.dirichlet(np.ones(S), size=S)
        pi = rng.dirichlet(np.ones(S))
    return pi, A


# general algorithms vs hmmlearn -------------------------------------------------------
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_forward_viterbi_posteriors_match_hmmlearn():
    rng = np.random.default_rng(0)
    n_sparse = 0
    for k in range(120):
        sparse = k % 4 == 3
        S = int(rng.integers(16, 40)) if sparse else int(rng.integers(1, 9))
        T = int(rng.integers(S if sparse else 1, 60))
        pi, A = random_model(rng, S, sparse)
        log_B = rng.normal(size=(T, S)) * 3
        with np.errstate(divide="ignore"):
            lpi, lA = np.log(pi), np.log(A)
        n_sparse += hmm._sparse(lA)
        m = hmmlearn_model(pi, A, log_B)
        X = np.arange(T)[:, None]
        ref_ll = m.score(X)
        ref_vit, ref_path = m.decode(X, algorithm="viterbi")
        assert hmm.forward(lpi, lA, log_B) == pytest.approx(ref_ll, rel=1e-7, abs=1e-7)
        path, score = hmm.viterbi(lpi, lA, log_B)
        assert score == pytest.approx(ref_vit, rel=1e-7, abs=1e-7)
        assert path == list(ref_path)
        if k % 3 == 0:
            np.testing.assert_allclose(hmm.posteriors(lpi, lA, log_B), m.predict_proba(X), atol=1e-7)
    assert n_sparse >= 25  # the O(T*S) path really ran against hmmlearn


def test_backward_is_consistent_with_forward():
    rng = np.random.default_rng(1)
    for sparse in (False, True):
        pi, A = random_model(rng, 20, sparse)
        with np.errstate(divide="ignore"):
            lpi, lA = np.log(pi), np.log(A)
        log_B = rng.normal(size=(30, 20))
        beta = hmm.backward(lpi, lA, log_B)
        total = np.logaddexp.reduce(lpi + log_B[0] + beta[0])
        assert total == pytest.approx(hmm.forward(lpi, lA, log_B), rel=1e-10)
        assert np.allclose(hmm.posteriors(lpi, lA, log_B).sum(axis=1), 1.0)


def test_sparse_and_dense_paths_agree_and_sparse_is_used():
    rng = np.random.default_rng(2)
    net = hmm.left_to_right(12, 3, 0.6)
    lpi, lA = net.to_dense()
    B = rng.normal(size=(50, 36))
    assert hmm._sparse(lA)
    f, (p, s) = hmm.forward(lpi, lA, B), hmm.viterbi(lpi, lA, B)
    old = hmm._SPARSE_MIN_STATES
    try:
        hmm._SPARSE_MIN_STATES = 10**9  # force the dense O(S^2) code
        assert hmm.forward(lpi, lA, B) == pytest.approx(f, rel=1e-10)
        assert hmm.viterbi(lpi, lA, B) == (p, pytest.approx(s, rel=1e-10))
    finally:
        hmm._SPARSE_MIN_STATES = old


def test_impossible_observations():
    lpi = np.array([0.0, -np.inf])
    lA = np.array([[0.0, -np.inf], [-np.inf, 0.0]])
    B = np.array([[-np.inf, 0.0]] * 3)
    assert hmm.forward(lpi, lA, B) == -math.inf
    with pytest.raises(DecoderError, match="zero probability"):
        hmm.viterbi(lpi, lA, B)
    with pytest.raises(DecoderError, match="zero probability"):
        hmm.posteriors(lpi, lA, B)


def test_shape_errors_name_the_problem():
    with pytest.raises(DecoderError, match=r"log_A must be \(3, 3\)"):
        hmm.forward(np.zeros(3), np.zeros((3, 2)), np.zeros((4, 3)))
    with pytest.raises(DecoderError, match="transpose"):
        hmm.viterbi(np.zeros(3), np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(DecoderError, match="no frames"):
        hmm.forward(np.zeros(3), np.zeros((3, 3)), np.zeros((0, 3)))
    with pytest.raises(DecoderError, match="NaN"):
        hmm.forward(np.zeros(2), np.array([[0.0, np.nan], [0, 0]]), np.zeros((2, 2)))


# topology and durations ---------------------------------------------------------------
def test_left_to_right_geometric_duration():
    net = hmm.left_to_right(1, 1, self_loop=0.7)
    for T in range(1, 6):  # stays T-1 times, ends in the last state without exiting
        assert hmm.network_forward(net, np.zeros((T, 1))) == pytest.approx((T - 1) * math.log(0.7))


def test_three_state_units_need_three_frames_each():
    net = hmm.left_to_right(4, 3, self_loop=0.5)
    assert net.n_states == 12
    assert net.pred.shape[1] <= 2  # sparse: in-degree 2
    with pytest.raises(DecoderError):
        hmm.network_viterbi(net, np.zeros((11, 4)))
    path, _ = hmm.network_viterbi(net, np.zeros((12, 4)))
    assert path == list(range(12))


def test_duration_pmf_is_exact():
    pmf = np.array([0.1, 0.5, 0.3, 0.1])
    one = hmm.left_to_right(1, 1, duration=Duration(pmf=tuple(pmf)))
    two = hmm.left_to_right(2, 1, duration=Duration(pmf=tuple(pmf)))
    conv = np.convolve(pmf, pmf)  # P(d1 + d2 = T), index T-2
    for T in range(1, 9):
        E = np.zeros((T, 2))
        f1 = hmm.network_forward(one, E[:, :1])
        assert f1 == pytest.approx(math.log(pmf[T - 1]) if T <= 4 else -math.inf)
        f2 = hmm.network_forward(two, E)
        assert f2 == (-math.inf if T < 2 else pytest.approx(math.log(conv[T - 2])))


def test_minimum_duration_forces_segments():
    rng = np.random.default_rng(3)
    net = hmm.left_to_right(3, 1, 0.5, duration=Duration(min_frames=4))
    scores = rng.normal(size=(20, 3)) * 5
    path, _ = hmm.network_viterbi(net, scores)
    units = net.unit[path]
    runs = np.diff(np.flatnonzero(np.diff(np.r_[-1, units, 99]) != 0))
    assert len(runs) == 3 and runs.min() >= 4
    with pytest.raises(DecoderError):
        hmm.network_viterbi(net, scores[:11])
    with pytest.raises(DecoderError, match="min_frames"):
        Duration(min_frames=0)


def test_ctc_network_forward_is_ctc_likelihood():
    """The sparse network code with the CTC topology reproduces the CTC forward."""
    from edge_audiollm.decoders import ctcgraph

    rng = np.random.default_rng(4)
    for _ in range(20):
        lab = list(rng.integers(1, 4, size=int(rng.integers(1, 5))))
        T = ctc.min_frames(lab) + int(rng.integers(0, 4))
        lp = log_softmax(rng.normal(size=(T, 4)) * 2)
        net, _ = ctcgraph.chain(lab, 0)
        assert hmm.network_forward(net, lp) == pytest.approx(ctc.log_likelihood(lp, lab), rel=1e-10)


# forced alignment ---------------------------------------------------------------------
WORDS20 = ("the quick brown fox jumps over the lazy dog and then runs far away from "
           "the old barn near our house").split()


def test_force_align_recovers_word_times_ctc():
    rng = np.random.default_rng(5)
    text = " ".join(WORDS20)
    lp, frames = synth_ctc(text, 500, rng)
    al = hmm.force_align(lp, text, CHARS, frame_rate_hz=50.0)
    assert [w.word for w in al.words] == WORDS20
    starts = np.r_[0, np.flatnonzero(np.array(list(text)) == " ") + 1]
    ends = np.r_[np.flatnonzero(np.array(list(text)) == " ") - 1, len(text) - 1]
    for w, s, e in zip(al.words, starts, ends):
        assert w.start_frame == frames[s]  # spikes are exact
        assert w.end_frame == frames[e] + 1
        assert w.start_s == pytest.approx(frames[s] / 50.0)
    # word gaps score log(p(blank) + p(space)): at least the best path that spells every
    # space, and only a little more (p(space) is small in the gaps here)
    ref = _ctc_best_path_score(lp, [CHARS.index(ch) for ch in text])
    assert ref - 1e-9 <= al.score <= ref + 0.5


def test_force_align_delimiter_optional_and_errors():
    rng = np.random.default_rng(6)
    lp, _ = synth_ctc("ab cd", 30, rng)
    lp2 = lp.copy()
    lp2[:, 1] = -30.0  # the model never emits the space
    al = hmm.force_align(log_softmax(lp2), "ab cd", CHARS)
    assert [w.word for w in al.words] == ["ab", "cd"]
    with pytest.raises(DecoderError, match="cannot be aligned"):
        hmm.force_align(lp[:3], "ab cd", CHARS)
    with pytest.raises(DecoderError, match="not in the vocabulary"):
        hmm.force_align(lp, "AB", CHARS)
    with pytest.raises(DecoderError, match="empty"):
        hmm.force_align(lp, "  ", CHARS)


def test_force_align_hmm_topology_with_scaled_likelihoods():
    """Phone-like posteriors with known segments; 3-state units recover the boundaries."""
    rng = np.random.default_rng(7)
    vocab = ["sil", "a", "b", "c", "d"]
    segs = [(0, 4), (1, 6), (2, 5), (0, 3), (3, 7), (4, 4), (0, 5)]  # (unit, frames)
    seq = np.concatenate([[u] * n for u, n in segs])
    x = rng.normal(size=(seq.size, 5)) * 0.5
    x[np.arange(seq.size), seq] += 5
    lp = log_softmax(x)
    priors = np.log(np.array([0.4, 0.15, 0.15, 0.15, 0.15]))
    al = hmm.force_align(lp, ["ab", "cd"], vocab, topology="hmm", n_states=3, self_loop=0.6,
                         log_priors=priors, prior_scale=0.5)
    assert [(w.start_frame, w.end_frame) for w in al.words] == [(4, 15), (18, 29)]
    assert [t[1:] for t in al.tokens] == [(4, 10), (10, 15), (18, 25), (25, 29)]


# grammar decoding ---------------------------------------------------------------------
def test_template_expansion():
    g = hmm.Grammar.from_templates(
        {"lights": ["turn (on | off) the lights [in the <room>]"], "dim": ["dim to <lvl:level>"]},
        {"room": ["kitchen", "living room"], "level": {"ten percent": 10, "half": 50}})
    texts = sorted(p.text for p in g.phrases)
    assert len(texts) == 8
    assert "turn off the lights in the living room" in texts
    dim = [p for p in g.phrases if p.intent == "dim"]
    assert {p.slots for p in dim} == {(("lvl", 10),), (("lvl", 50),)}
    with pytest.raises(DecoderError, match="not defined"):
        hmm.Grammar.from_templates({"x": ["go <nowhere>"]})
    with pytest.raises(DecoderError, match="missing"):
        hmm.Grammar.from_templates({"x": ["go (a | b"]})


def test_command_grammar_follows_intents_schema():
    g = hmm.command_grammar()
    intents = {p.intent for p in g.phrases}
    assert {"set_timer", "lights_on", "weather", "volume_set"} <= intents
    timer = [p for p in g.phrases if p.text == "set a timer for five minutes"]
    assert timer and timer[0].slots == (("duration", 300),)
    with pytest.raises(DecoderError, match="not in intents.json"):
        hmm.command_grammar({"make_coffee": ["make coffee"]}, {})
    with pytest.raises(DecoderError, match="missing"):
        hmm.command_grammar({"set_timer": ["set a timer"]}, {})


def _ctc_best_path_score(lp, ids):
    """Best single CTC alignment score, written out directly (max instead of sum)."""
    ext = [0]
    for i in ids:
        ext += [i, 0]
    S, T = len(ext), lp.shape[0]
    d = np.full(S, -np.inf)
    d[0], d[1] = lp[0, ext[0]], lp[0, ext[1]]
    for t in range(1, T):
        new = d.copy()
        for s in range(1, S):
            new[s] = max(new[s], d[s - 1])
            if s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2]:
                new[s] = max(new[s], d[s - 2])
        d = new + lp[t, ext]
    return max(d[-1], d[-2])


def test_grammar_decoding_is_the_best_phrase():
    rng = np.random.default_rng(8)
    vocab = ["_", "a", "b", "c", "d"]  # no delimiter: phrases are plain token strings
    g = hmm.Grammar.from_phrases(["ab", "abc", "ba", "cad", "dd", "abd"])
    cg = g.compile(vocab)
    for _ in range(25):
        lp = log_softmax(rng.normal(size=(8, 5)) * 2)
        res = hmm.decode_grammar(lp, cg)
        scores = {p.text: _ctc_best_path_score(lp, [vocab.index(c) for c in p.text]) for p in g.phrases}
        best = max(scores, key=scores.get)
        assert res.text == best
        assert res.score == pytest.approx(scores[best], rel=1e-10)
        assert [t for t, _ in res.nbest] == sorted(scores, key=scores.get, reverse=True)[:5]


@pytest.mark.parametrize("text,intent,slots", [
    ("turn on the lights in the kitchen", "lights_on", {"room": "kitchen"}),
    ("set a timer for five minutes", "set_timer", {"duration": 300}),
    ("what is the weather in new york tomorrow", "weather", {"location": "new york", "date": "tomorrow"}),
    ("set the volume to fifty percent", "volume_set", {"level": 50}),
])
def test_command_grammar_decoding(text, intent, slots):
    rng = np.random.default_rng(9)
    cg = hmm.command_grammar().compile(CHARS)
    lp, frames = synth_ctc(text, 150, rng, noise=1.5)
    res = hmm.decode_grammar(lp, cg)
    assert (res.text, res.intent, res.slots) == (text, intent, slots)
    first = frames[0]
    assert res.words[0].start_frame == first and res.words[-1].end_frame == frames[-1] + 1
    assert res.nbest[0] == (text, pytest.approx(res.score))
    assert 0 <= res.gap_per_frame < 0.5


def test_same_text_under_two_intents_keeps_the_first():
    g = hmm.Grammar.from_templates({"first": ["go home"], "second": ["go home", "go away"]})
    assert len(g.phrases) == 3
    lp, _ = synth_ctc("go home", 40, np.random.default_rng(10))
    res = hmm.decode_grammar(lp, g, CHARS)
    assert (res.text, res.intent) == ("go home", "first")
    assert [t for t, _ in res.nbest] == ["go home", "go away"]


def test_grammar_too_short_and_vocab_mismatch():
    cg = hmm.Grammar.from_phrases(["go home"]).compile(CHARS)
    lp = log_softmax(np.zeros((3, len(CHARS))))
    with pytest.raises(DecoderError, match="too short"):
        hmm.decode_grammar(lp, cg)
    with pytest.raises(DecoderError, match="compiled for"):
        hmm.decode_grammar(lp[:, :5], cg)
