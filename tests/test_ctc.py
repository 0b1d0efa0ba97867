"""CTC decoders against implementations we did not write: torch's ctc_loss, brute-force
enumeration of every labelling, and kenlm (or an ARPA scorer written here from the format
definition)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from edge_audiollm.decoders import ctc
from edge_audiollm.decoders.arpa import ArpaLM
from edge_audiollm.decoders.beam import BeamOptions
from edge_audiollm.errors import DecoderError, EdgeAudioError

CHARS = ["<blank>", " ", *"abcdefghijklmnopqrstuvwxyz", "'"]


# helpers ------------------------------------------------------------------------------
def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def synth_ctc(text, T, rng, vocab=CHARS, peak=8.0, noise=1.0):
    """Blank everywhere, one spike per character at evenly spaced frames."""
    index = {c: i for i, c in enumerate(vocab)}
    ids = [index[c] for c in text]
    frames = np.linspace(2, T - 3, len(ids)).round().astype(int)
    x = rng.normal(size=(T, len(vocab))) * noise
    x[:, 0] += peak
    for f, i in zip(frames, ids):
        x[f, i] += 2 * peak
    return log_softmax(x), frames


def torch_ll(lp, labels, blank=0):
    torch = pytest.importorskip("torch")
    x = torch.tensor(lp, dtype=torch.float64)[:, None, :]
    y = torch.tensor([list(labels)], dtype=torch.long) if len(labels) else torch.zeros((1, 0), dtype=torch.long)
    loss = torch.nn.functional.ctc_loss(x, y, torch.tensor([lp.shape[0]]), torch.tensor([len(labels)]),
                                        blank=blank, reduction="sum", zero_infinity=False)
    return -float(loss)


def brute_force_best(lp, blank=0):
    """The most probable labelling by enumerating every label sequence (CTC marginal)."""
    T, V = lp.shape
    symbols = [v for v in range(V) if v != blank]
    best, best_lab = -math.inf, None
    for L in range(T + 1):
        for lab in itertools.product(symbols, repeat=L):
            s = ctc.log_likelihood(lp, lab, blank)
            if s > best:
                best, best_lab = s, list(lab)
    return best_lab, best


def write_arpa(path, sentences, order=3, seed=0):
    """ARPA over every n-gram of the corpus, with fixed arbitrary log10 probs/back-offs."""
    rng = np.random.default_rng(seed)
    grams = {n: set() for n in range(1, order + 1)}
    for s in sentences:
        w = ["<s>"] + s.split() + ["</s>"]
        for n in range(1, order + 1):
            grams[n].update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
    grams[1].add(("<unk>",))
    lines = ["\\data\\"] + [f"ngram {n}={len(grams[n])}" for n in grams] + [""]
    for n in range(1, order + 1):
        lines.append(f"\\{n}-grams:")
        for g in sorted(grams[n]):
            lp = -99.0 if g == ("<s>",) else round(float(rng.uniform(-3.0, -0.05)), 4)
            bo = f"\t{round(float(rng.uniform(-1.0, 0.0)), 4)}" if n < order and g[-1] != "</s>" else ""
            lines.append(f"{lp}\t{' '.join(g)}{bo}")
        lines.append("")
    lines.append("\\end\\")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class ReferenceArpa:
    """Back-off scoring written here from the ARPA definition (log10)."""

    def __init__(self, path):
        self.p, self.bo, self.order, n = {}, {}, 0, None
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.startswith("\\") and line.endswith("-grams:"):
                n = int(line[1:line.index("-")])
                self.order = max(self.order, n)
            elif line.startswith("\\end"):
                n = None
            elif n and line:
                f = line.split()
                self.p[tuple(f[1:n + 1])] = float(f[0])
                if len(f) == n + 2:
                    self.bo[tuple(f[1:n + 1])] = float(f[n + 1])

    def cond(self, hist, w):
        hist = tuple(hist)[len(hist) - (self.order - 1):] if self.order > 1 else ()
        if hist + (w,) in self.p:
            return self.p[hist + (w,)]
        return self.bo.get(hist, 0.0) + self.cond(hist[1:], w) if hist else self.p[(w,)]

    def sentence(self, words):
        hist, total = ["<s>"], 0.0
        for w in list(words) + ["</s>"]:
            w = w if (w,) in self.p else "<unk>"
            total += self.cond(hist, w)
            hist.append(w)
        return total


CORPUS = ["the cat sat on the mat", "a cat sat", "the dog sat on a log", "the cap is red",
          "a red cap", "the mat is red", "the dog is on the mat"]


@pytest.fixture(scope="module")
def arpa_path(tmp_path_factory):
    return write_arpa(tmp_path_factory.mktemp("lm") / "tiny.arpa", CORPUS)


# log_likelihood -----------------------------------------------------------------------
def _random_case(rng, k):
    T = int(rng.integers(1, 16))
    V = int(rng.integers(2, 7))
    kind = k % 4
    if kind == 0:  # repeated labels, T at the minimum length
        L = int(rng.integers(1, 5))
        lab = list(rng.integers(1, V, size=L))
        for i in range(1, L):
            if rng.random() < 0.5:
                lab[i] = lab[i - 1]
        T = ctc.min_frames(lab)
    elif kind == 1:  # all the same label
        lab = [int(rng.integers(1, V))] * int(rng.integers(1, 4))
        T = max(T, ctc.min_frames(lab))
    else:
        lab = list(rng.integers(1, V, size=int(rng.integers(0, T + 1))))
    return random_lp(rng, T, V), [int(x) for x in lab]


def random_lp(rng, T, V):
    return log_softmax(rng.normal(size=(T, V)) * 2.0)


def test_log_likelihood_matches_torch_ctc_loss():
    rng = np.random.default_rng(0)
    n_finite = n_min = n_rep = 0
    for k in range(240):
        lp, lab = _random_case(rng, k)
        ours, ref = ctc.log_likelihood(lp, lab), torch_ll(lp, lab)
        if math.isinf(ref):
            assert ours == -math.inf, (lab, lp.shape)
            continue
        n_finite += 1
        n_min += lp.shape[0] == ctc.min_frames(lab)
        n_rep += any(a == b for a, b in zip(lab, lab[1:]))
        assert ours == pytest.approx(ref, rel=1e-4, abs=1e-9), (lab, lp.shape)
    assert n_finite >= 200 and n_min >= 50 and n_rep >= 50


def test_log_likelihood_other_blank_and_unnormalised_like_torch():
    rng = np.random.default_rng(1)
    for _ in range(20):
        T, V = 9, 5
        lp = rng.normal(size=(T, V)) * 3  # raw scores: used as given, as torch does
        lab = [1, 1, 4, 2]
        assert ctc.log_likelihood(lp, lab, blank=3) == pytest.approx(torch_ll(lp, lab, blank=3), rel=1e-4)


def test_impossible_alignments_are_minus_inf():
    lp = random_lp(np.random.default_rng(2), 3, 4)
    assert ctc.log_likelihood(lp, [1, 1, 2]) == -math.inf  # needs 4 frames (blank between repeats)
    assert ctc.log_likelihood(lp, [1, 2, 3, 1]) == -math.inf
    assert math.isfinite(ctc.log_likelihood(lp, [1, 2, 3]))
    lp2 = lp.copy()
    lp2[:, 2] = -np.inf  # token 2 can never be emitted
    assert ctc.log_likelihood(lp2, [1, 2]) == -math.inf
    assert math.isfinite(ctc.log_likelihood(lp2, [1, 3]))


def test_empty_labels_and_single_frame():
    lp = random_lp(np.random.default_rng(3), 5, 3)
    assert ctc.log_likelihood(lp, []) == pytest.approx(lp[:, 0].sum())
    one = lp[:1]
    assert ctc.log_likelihood(one, [2]) == pytest.approx(one[0, 2])
    assert ctc.log_likelihood(np.zeros((0, 3)), []) == 0.0
    assert ctc.log_likelihood(np.zeros((0, 3)), [1]) == -math.inf


def test_row_shift_adds_to_log_likelihood():
    """Unnormalised input is used as scores: shifting a frame's row adds the shift."""
    rng = np.random.default_rng(4)
    lp = random_lp(rng, 10, 5)
    c = rng.normal(size=(10, 1)) * 5
    assert ctc.log_likelihood(lp + c, [1, 2, 2]) == pytest.approx(ctc.log_likelihood(lp, [1, 2, 2]) + c.sum())


# greedy ------------------------------------------------------------------------------
def test_greedy_collapses_repeats_and_drops_blanks():
    path = [0, 1, 1, 0, 1, 2, 2, 0, 0, 3]
    lp = np.full((len(path), 4), -5.0)
    lp[np.arange(len(path)), path] = -0.1
    assert ctc.greedy(lp) == [1, 1, 2, 3]
    assert ctc.greedy_with_timesteps(lp) == ([1, 1, 2, 3], [1, 4, 5, 9])
    assert ctc.greedy(lp, blank=3) == [0, 1, 0, 1, 2, 0]


def test_greedy_matches_reference_on_random_input():
    rng = np.random.default_rng(5)
    for _ in range(50):
        lp = random_lp(rng, int(rng.integers(1, 40)), 6).astype(np.float32)
        best = lp.argmax(1)
        ref = [int(b) for i, b in enumerate(best) if b != 0 and (i == 0 or b != best[i - 1])]
        assert ctc.greedy(lp) == ref


def test_greedy_rejects_nan_and_inf():
    lp = np.zeros((4, 3))
    lp[2, 1] = np.nan
    with pytest.raises(DecoderError, match="frame 2"):
        ctc.greedy(lp)
    lp[2, 1] = np.inf
    with pytest.raises(DecoderError, match=r"\+inf"):
        ctc.greedy(lp)
    with pytest.raises(DecoderError, match=r"\+inf"):
        ctc.log_likelihood(lp, [1])
    lp[2, 1] = np.nan
    with pytest.raises(DecoderError, match="NaN"):
        ctc.prefix_beam_search(lp)


# prefix beam search ------------------------------------------------------------------
def test_beam_finds_brute_force_most_probable_labelling():
    rng = np.random.default_rng(6)
    cases, hits = 90, 0
    for _ in range(cases):
        T, V = int(rng.integers(1, 7)), int(rng.integers(2, 5))
        lp = log_softmax(rng.normal(size=(T, V)) * rng.uniform(0.5, 3.0))
        ref_lab, ref_score = brute_force_best(lp)
        best = ctc.prefix_beam_search(lp, beam_width=32)[0]
        hits += best.tokens == ref_lab
        # its score is the mass of the paths the beam kept: never above the true marginal
        true = ctc.log_likelihood(lp, best.tokens)
        assert true - 0.05 <= best.score <= true + 1e-9
    assert hits / cases >= 0.95


def test_beam_scores_are_marginals_and_sorted():
    rng = np.random.default_rng(7)
    lp = random_lp(rng, 5, 3)
    hyps = ctc.prefix_beam_search(lp, beam_width=64)  # 64 > number of labellings of T=5, V=3
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True)
    for h in hyps:
        assert h.score == pytest.approx(torch_ll(lp, h.tokens), rel=1e-6)
    assert len({tuple(h.tokens) for h in hyps}) == len(hyps)


def test_beam_text_and_timesteps_char_vocab():
    rng = np.random.default_rng(8)
    lp, frames = synth_ctc("hello world", 60, rng)
    best = ctc.prefix_beam_search(lp, beam_width=8, vocab=CHARS)[0]
    assert best.text == "hello world"
    assert best.words == ("hello", "world")
    assert best.timesteps == [int(f) for f in frames]
    assert ctc.greedy(lp) == best.tokens


def test_beam_subword_vocab():
    vocab = ["<blank>", "\u2581he", "llo", "\u2581wor", "ld", "\u2581a"]
    path = [0, 1, 2, 0, 3, 3, 4, 0, 5]
    lp = np.full((len(path), len(vocab)), -6.0)
    lp[np.arange(len(path)), path] = -0.01
    best = ctc.prefix_beam_search(log_softmax(lp), beam_width=4, vocab=vocab)[0]
    assert best.tokens == [1, 2, 3, 4, 5]
    assert best.text == "hello world a"


def test_beam_checks_vocab_size_and_inputs():
    lp = random_lp(np.random.default_rng(9), 4, 5)
    with pytest.raises(DecoderError, match="V=5"):
        ctc.prefix_beam_search(lp, vocab=CHARS)
    with pytest.raises(DecoderError, match="beam_width"):
        ctc.prefix_beam_search(lp, beam_width=0)
    with pytest.raises(DecoderError, match="vocab"):
        ctc.prefix_beam_search(lp, hotwords=["x"])
    with pytest.raises(EdgeAudioError):
        ctc.prefix_beam_search(lp[:, :, None])


def _ambiguous_cat(rng):
    """Acoustics say 'the cap sat' slightly more than 'the cat sat'."""
    lp, frames = synth_ctc("the cap sat", 50, rng, noise=0.0)
    f = frames[6]  # the 'p'
    x = np.full(len(CHARS), -12.0)
    x[CHARS.index("p")], x[CHARS.index("t")] = math.log(0.55), math.log(0.45)
    lp[f] = x
    return lp


def test_lm_scores_match_independent_arpa_scorer(arpa_path):
    lm = ArpaLM.from_file(arpa_path)
    ref = ReferenceArpa(arpa_path)
    sentences = CORPUS + ["the cat is on a log", "zebra sat on the", "red red red", "", "a mat sat the dog"]
    for s in sentences:
        assert lm.score_sentence(s.split()) == pytest.approx(ref.sentence(s.split()), abs=1e-9)
    kenlm = pytest.importorskip("kenlm")
    model = kenlm.Model(str(arpa_path))
    for s in sentences:
        assert lm.score_sentence(s.split()) == pytest.approx(model.score(s, bos=True, eos=True), abs=1e-4)


def test_beam_uses_lm_scores_exactly(arpa_path):
    rng = np.random.default_rng(10)
    lm = ArpaLM.from_file(arpa_path)
    ref = ReferenceArpa(arpa_path)
    lp = _ambiguous_cat(rng)
    plain = ctc.prefix_beam_search(lp, beam_width=8, vocab=CHARS)[0]
    assert plain.text == "the cap sat"
    opts = BeamOptions(lm_weight=1.0, word_bonus=0.5)
    hyps = ctc.prefix_beam_search(lp, beam_width=8, vocab=CHARS, lm=str(arpa_path), options=opts)
    assert hyps[0].text == "the cat sat"  # p(cat | the) beats p(cap | the) here
    for h in hyps:
        lm10 = ref.sentence(h.words)
        assert h.lm_score == pytest.approx(lm10 * math.log(10), abs=1e-9)
        assert h.score == pytest.approx(h.acoustic_score + 1.0 * h.lm_score + 0.5 * len(h.words), abs=1e-9)
    kenlm = pytest.importorskip("kenlm")
    model = kenlm.Model(str(arpa_path))
    for h in hyps:
        assert h.lm_score == pytest.approx(model.score(h.text) * math.log(10), abs=1e-3)
    del lm


def test_lm_weight_zero_changes_nothing(arpa_path):
    lp = _ambiguous_cat(np.random.default_rng(11))
    a = ctc.prefix_beam_search(lp, vocab=CHARS)
    b = ctc.prefix_beam_search(lp, vocab=CHARS, lm=ArpaLM.from_file(arpa_path),
                               options=BeamOptions(lm_weight=0.0, word_bonus=0.0))
    assert [h.tokens for h in a] == [h.tokens for h in b]
    assert [h.score for h in a] == pytest.approx([h.score for h in b])


def test_hotword_boost_flips_and_scores():
    lp = _ambiguous_cat(np.random.default_rng(12))
    assert ctc.prefix_beam_search(lp, vocab=CHARS)[0].text == "the cap sat"
    best = ctc.prefix_beam_search(lp, vocab=CHARS, hotwords=["cat"], options=BeamOptions(hotword_weight=2.0))[0]
    assert best.text == "the cat sat"
    assert best.hotword_score == pytest.approx(2.0)
    assert best.score == pytest.approx(best.acoustic_score + 2.0)
    phrase = ctc.prefix_beam_search(lp, vocab=CHARS, hotwords={"cat sat": 3.0})[0]
    assert phrase.text == "the cat sat" and phrase.hotword_score == pytest.approx(3.0)
    # a hotword that never completes leaves no credit behind
    other = ctc.prefix_beam_search(lp, vocab=CHARS, hotwords={"caterpillar": 1.0})[0]
    assert other.hotword_score == pytest.approx(0.0)


def test_subword_vocab_with_lm(arpa_path):
    vocab = ["<blank>", "\u2581the", "\u2581c", "at", "ap", "\u2581sat", "\u2581red"]
    path = [0, 1, 0, 2, 3, 0, 5, 0]
    x = np.full((len(path), len(vocab)), -8.0)
    x[np.arange(len(path)), path] = 0.0
    x[4, 4] = -0.2  # "ap" nearly as likely as "at"
    lp = log_softmax(x)
    ref = ReferenceArpa(arpa_path)
    hyps = ctc.prefix_beam_search(lp, 8, vocab=vocab, lm=ArpaLM.from_file(arpa_path),
                                  options=BeamOptions(lm_weight=1.0, word_bonus=0.0))
    assert hyps[0].text == "the cat sat"
    for h in hyps:
        assert h.lm_score == pytest.approx(ref.sentence(h.words) * math.log(10), abs=1e-9)


_CARDS_ARPA = """\\data\\
ngram 1=6

\\1-grams:
-1.0 <s>
-1.0 </s>
-1.0 <unk>
-1.0 ten
-1.0 of
-1.0 clubs

\\end\\
"""


def _clobs(rng):
    """Acoustics say 'ten of clobs' (not a word) slightly more than 'ten of clubs'."""
    lp, frames = synth_ctc("ten of clobs", 60, rng, noise=0.0)
    x = np.full(len(CHARS), -12.0)
    x[CHARS.index("o")], x[CHARS.index("u")] = math.log(0.6), math.log(0.4)
    lp[frames[9]] = x
    return lp


def test_unk_offset_makes_the_lexicon_win_and_is_scored_exactly():
    lm = ArpaLM.from_string(_CARDS_ARPA)  # <unk> as likely as any word: the LM alone cannot tell
    lp = _clobs(np.random.default_rng(14))
    plain = ctc.prefix_beam_search(lp, 8, vocab=CHARS, lm=lm, options=BeamOptions(lm_weight=1.0, word_bonus=0.0))
    assert plain[0].text == "ten of clobs" and plain[0].oov_words == 0  # no offset: nothing counted
    opts = BeamOptions(lm_weight=1.0, word_bonus=0.5, unk_offset=-5.0)
    hyps = ctc.prefix_beam_search(lp, 8, vocab=CHARS, lm=lm, options=opts)
    assert hyps[0].text == "ten of clubs" and hyps[0].oov_words == 0
    lexicon = {"ten", "of", "clubs"}
    clobs = [h for h in hyps if h.text == "ten of clobs"]
    assert clobs and clobs[0].oov_words == 1
    for h in hyps:
        assert h.oov_words == sum(w not in lexicon for w in h.words)
        assert h.score == pytest.approx(h.acoustic_score + h.lm_score + 0.5 * len(h.words) - 5.0 * h.oov_words,
                                        abs=1e-9)


def test_hotwords_join_the_lexicon():
    lm = ArpaLM.from_string(_CARDS_ARPA.replace("clubs", "spades"))  # "clubs" is outside the LM now
    lp = _clobs(np.random.default_rng(16))
    opts = BeamOptions(lm_weight=1.0, word_bonus=0.0, unk_offset=-5.0, hotword_weight=1.0)
    best = ctc.prefix_beam_search(lp, 8, vocab=CHARS, lm=lm, hotwords=["clubs"], options=opts)[0]
    assert best.text == "ten of clubs" and best.oov_words == 0 and best.hotword_score == pytest.approx(1.0)
    # the widened lexicon stays with that search: the same LM without the hotword still charges "clubs"
    plain = ctc.prefix_beam_search(lp, 8, vocab=CHARS, lm=lm, options=opts)
    assert any("clubs" in h.words for h in plain)
    assert all(h.oov_words == sum(w not in {"ten", "of", "spades"} for w in h.words) for h in plain)


def test_unk_offset_needs_an_lm_and_must_be_a_penalty():
    lp = _clobs(np.random.default_rng(15))
    alone = ctc.prefix_beam_search(lp, 8, vocab=CHARS, options=BeamOptions(unk_offset=-5.0))
    assert alone[0].text == "ten of clobs" and alone[0].oov_words == 0  # no LM, no lexicon
    for bad in (1.0, float("nan"), float("-inf")):
        with pytest.raises(DecoderError, match="unk_offset"):
            BeamOptions(unk_offset=bad)


def test_pruning_options_keep_the_answer_on_peaky_input():
    lp, _ = synth_ctc("turn on the lights", 80, np.random.default_rng(13))
    exact = ctc.prefix_beam_search(lp, 8, vocab=CHARS)[0]
    fast = ctc.prefix_beam_search(lp, 8, vocab=CHARS,
                                  options=BeamOptions(token_min_logp=-5.0, beam_prune_logp=10.0))[0]
    assert fast.tokens == exact.tokens == ctc.greedy(lp)
    assert fast.score == pytest.approx(exact.score, abs=1e-3)
    assert fast.timesteps == exact.timesteps


def test_blank_runs_collapse_without_changing_the_answer():
    lp, frames = synth_ctc("hello all", 90, np.random.default_rng(17))  # "ll" twice: repeats across blanks
    exact = ctc.prefix_beam_search(lp, 8, vocab=CHARS)[0]
    fast = ctc.prefix_beam_search(lp, 8, vocab=CHARS, options=BeamOptions(blank_run_logp=math.log(0.999)))[0]
    assert fast.text == exact.text == "hello all"
    assert fast.timesteps == exact.timesteps  # in the caller's frames
    assert fast.score == pytest.approx(exact.score, abs=1e-2)
    with pytest.raises(DecoderError, match="blank_run_logp"):
        BeamOptions(blank_run_logp=float("nan"))


def test_arpa_reader_errors(tmp_path):
    with pytest.raises(DecoderError, match="not an ARPA"):
        ArpaLM.from_string("hello\n")
    bad = "\\data\\\nngram 1=3\n\n\\1-grams:\n-1 <s>\n-1 </s>\n\\end\\\n"
    with pytest.raises(DecoderError, match="announces 3"):
        ArpaLM.from_string(bad)
    with pytest.raises(DecoderError, match="cannot read"):
        ArpaLM.from_file(tmp_path / "missing.arpa")
    ok = ArpaLM.from_string("\\data\\\nngram 1=2\n\n\\1-grams:\n-1 <s>\n-0.5 </s>\n\\end\\\n")
    assert ok.score_sentence(["zzz"]) == pytest.approx(-100.5)  # <unk> defaults to -100 like KenLM
