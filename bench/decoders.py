"""Decoder benchmarks: prints the figures and writes bench/results/decoders.json.

    python bench/decoders.py [--repeat N] [--out PATH]

Figures (targets from issue 3):
  greedy, 60 s of 50 Hz frames, 500-token vocabulary        <= 2 ms
  prefix beam 8 + trigram ARPA LM, 10 s, character vocab    <= 50 ms
  forced alignment, 20 words over 10 s                      <= 20 ms
  grammar decoding, 3 s command, intents.json grammar       <= 30 ms
Peers run in the same process on the same inputs where they are installed (torch,
hmmlearn, kenlm, torchaudio, pyctcdecode); a missing peer is reported, not faked.
Each figure is the median of --repeat runs after one warm-up; inputs are synthetic
CTC-like posteriors (blank-dominated, one spike per character) with a fixed seed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_audiollm.decoders import ctc, hmm  # noqa: E402
from edge_audiollm.decoders.arpa import ArpaLM  # noqa: E402
from edge_audiollm.decoders.beam import BeamOptions  # noqa: E402
from edge_audiollm.decoders.vocab import DEFAULT_CHARS  # noqa: E402

FRAME_HZ = 50.0
TEXT_10S = ("please turn on the lights in the kitchen and then set a timer for five minutes "
            "so that the pasta does not burn while we talk about the weather tomorrow")
CORPUS = [TEXT_10S, "turn off the lights in the bedroom", "set a timer for ten minutes",
          "what is the weather tomorrow in berlin", "the pasta is in the kitchen",
          "please play some jazz in the living room", "we talk about the weather",
          "set an alarm for seven tomorrow", "turn on the tv", "the kitchen lights are on"]


def timed(fn, repeat):
    fn()  # warm-up: caches, lazy imports
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def log_softmax(x):
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def synth(text, T, rng, vocab=DEFAULT_CHARS, peak=7.0, noise=1.0):
    ids = [vocab.index(c) for c in text]
    frames = np.linspace(2, T - 3, len(ids)).round().astype(int)
    x = rng.normal(size=(T, len(vocab))) * noise
    x[:, 0] += peak
    x[frames, ids] += 2 * peak
    return log_softmax(x)


def write_arpa(path, sentences, order=3):
    """A Witten-Bell-free, plainly discounted ARPA: enough structure for timing."""
    counts = {n: Counter() for n in range(1, order + 1)}
    for s in sentences:
        w = ["<s>"] + s.split() + ["</s>"]
        for n in range(1, order + 1):
            counts[n].update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
    counts[1][("<unk>",)] += 1
    lines = ["\\data\\"] + [f"ngram {n}={len(counts[n])}" for n in counts] + [""]
    for n in range(1, order + 1):
        lines.append(f"\\{n}-grams:")
        for g, c in sorted(counts[n].items()):
            ctx = sum(v for k, v in counts[n].items() if k[:-1] == g[:-1]) if n > 1 else sum(counts[1].values())
            lp = -99.0 if g == ("<s>",) else math.log10(0.8 * c / ctx)
            bo = "\t-0.3" if n < order and g[-1] != "</s>" else ""
            lines.append(f"{lp:.5f}\t{' '.join(g)}{bo}")
        lines.append("")
    lines.append("\\end\\")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def peer(name):
    try:
        return __import__(name)
    except Exception:
        return None


def bench_greedy(rng, repeat, out):
    T, V = int(60 * FRAME_HZ), 500
    x = rng.normal(size=(T, V)).astype(np.float32) * 2
    x[:, 0] += 4
    lp = (x - np.log(np.exp(x).sum(1, keepdims=True))).astype(np.float32)
    out["greedy_60s_v500_ms"] = timed(lambda: ctc.greedy(lp), repeat)
    torch = peer("torch")
    if torch is not None:
        tl = torch.from_numpy(lp)

        def torch_greedy():
            best = torch.unique_consecutive(tl.argmax(dim=1))
            return best[best != 0].tolist()

        assert torch_greedy() == ctc.greedy(lp)
        out["peer_torch_greedy_60s_v500_ms"] = timed(torch_greedy, repeat)


def bench_beam(rng, repeat, out, tmp):
    lp = synth(TEXT_10S, int(10 * FRAME_HZ), rng)
    arpa = Path(tmp) / "bench.arpa"
    write_arpa(arpa, CORPUS)
    lm = ArpaLM.from_file(arpa)
    opts = BeamOptions(lm_weight=0.5, word_bonus=1.0)
    run = lambda: ctc.prefix_beam_search(lp, 8, vocab=list(DEFAULT_CHARS), lm=lm, options=opts)  # noqa: E731
    best = run()[0]
    out["beam8_lm_10s_text_ok"] = best.text == TEXT_10S
    out["beam8_lm_10s_ms"] = timed(run, repeat)
    out["beam8_nolm_10s_ms"] = timed(lambda: ctc.prefix_beam_search(lp, 8, vocab=list(DEFAULT_CHARS)), repeat)
    out["beam8_lm_hotwords_10s_ms"] = timed(
        lambda: ctc.prefix_beam_search(lp, 8, vocab=list(DEFAULT_CHARS), lm=lm, hotwords=["pasta", "kitchen"],
                                       options=opts), repeat)
    # 500-token vocabulary (worst case: every token expanded every frame)
    sub = rng.normal(size=(500, 500)) * 2
    sub[:, 0] += 3
    out["beam8_nolm_10s_v500_ms"] = timed(lambda: ctc.prefix_beam_search(log_softmax(sub), 8), repeat)
    kenlm = peer("kenlm")
    if kenlm is not None:
        model = kenlm.Model(str(arpa))
        sents = CORPUS * 20
        ours = [lm.score_sentence(s.split()) for s in sents]
        theirs = [model.score(s) for s in sents]
        out["peer_kenlm_max_abs_diff_log10"] = float(np.max(np.abs(np.subtract(ours, theirs))))
        # ours memoises (state, word) lookups, which the warm-up fills: this is the cached figure
        out["arpa_score_200_sentences_cached_ms"] = timed(lambda: [lm.score_sentence(s.split()) for s in sents], repeat)
        out["peer_kenlm_score_200_sentences_ms"] = timed(lambda: [model.score(s) for s in sents], repeat)
    pyctc = peer("pyctcdecode")
    out["peer_pyctcdecode"] = "not installed" if pyctc is None else "installed (not timed)"


def bench_align(rng, repeat, out):
    words = TEXT_10S.split()[:20]
    text = " ".join(words)
    lp = synth(text, int(10 * FRAME_HZ), rng)
    al = hmm.force_align(lp, text, list(DEFAULT_CHARS))
    out["align_20w_10s_words_ok"] = [w.word for w in al.words] == words
    out["align_20w_10s_ms"] = timed(lambda: hmm.force_align(lp, text, list(DEFAULT_CHARS)), repeat)
    # peer: hmmlearn's compiled O(T*S^2) Viterbi on the same CTC chain made dense
    from edge_audiollm.decoders import ctcgraph

    ids = [DEFAULT_CHARS.index(c) for c in text]
    net, _ = ctcgraph.chain(ids, 0)
    E = net.frame_scores(lp)
    out["align_states"] = int(net.n_states)
    out["sparse_network_viterbi_ms"] = timed(lambda: hmm.network_viterbi(net, lp), repeat)
    hl = peer("hmmlearn")
    if hl is not None:
        from hmmlearn import _hmmc

        pi, A = net.to_dense()
        with np.errstate(divide="ignore", over="ignore"):
            start, trans = np.exp(pi), np.exp(A)
        E_masked = E + np.where(np.isfinite(net.log_final), 0.0, -1e4)[None, :] * (np.arange(len(E)) == len(E) - 1)[:, None]
        out["peer_hmmlearn_dense_viterbi_ms"] = timed(lambda: _hmmc.viterbi(start, trans, E_masked), max(1, repeat // 5))
        ref = _hmmc.viterbi(start, trans, E_masked)[0]
        out["peer_hmmlearn_viterbi_score_diff"] = abs(ref - hmm.network_viterbi(net, lp)[1])
    ta = peer("torchaudio")
    out["peer_torchaudio_forced_align"] = "not installed" if ta is None else "installed (not timed)"


def bench_grammar(rng, repeat, out):
    g = hmm.command_grammar()
    t = time.perf_counter()
    cg = g.compile(list(DEFAULT_CHARS))
    out["grammar_compile_ms"] = (time.perf_counter() - t) * 1e3
    out["grammar_phrases"], out["grammar_states"] = len(g.phrases), int(cg.network.n_states)
    text = "turn on the lights in the kitchen"
    lp = synth(text, int(3 * FRAME_HZ), rng, noise=1.5)
    res = hmm.decode_grammar(lp, cg)
    out["grammar_3s_ok"] = (res.text, res.intent, res.slots) == (text, "lights_on", {"room": "kitchen"})
    out["grammar_3s_ms"] = timed(lambda: hmm.decode_grammar(lp, cg), repeat)
    # peer (flat network): score every phrase on its own with the CTC forward
    vocab = list(DEFAULT_CHARS)
    phrases = [[vocab.index(c) for c in p.text] for p in g.phrases]
    n = 60
    flat_ms = timed(lambda: [ctc.log_likelihood(lp, ids) for ids in phrases[:n]], 1)
    out["flat_per_phrase_ctc_3s_ms_extrapolated"] = flat_ms * len(phrases) / n


def bench_hmm_general(rng, repeat, out):
    S, T = 64, 500
    A = rng.dirichlet(np.ones(S), size=S)
    pi = rng.dirichlet(np.ones(S))
    B = rng.normal(size=(T, S))
    lpi, lA = np.log(pi), np.log(A)
    out["hmm_dense_s64_t500_forward_ms"] = timed(lambda: hmm.forward(lpi, lA, B), repeat)
    out["hmm_dense_s64_t500_viterbi_ms"] = timed(lambda: hmm.viterbi(lpi, lA, B), repeat)
    hl = peer("hmmlearn")
    if hl is not None:
        from hmmlearn import _hmmc

        out["peer_hmmlearn_s64_t500_forward_ms"] = timed(lambda: _hmmc.forward_log(pi, A, B), repeat)
        out["peer_hmmlearn_s64_t500_viterbi_ms"] = timed(lambda: _hmmc.viterbi(pi, A, B), repeat)
    torch = peer("torch")
    if torch is not None:
        Tc, V, L = 500, 29, 150
        lp = log_softmax(rng.normal(size=(Tc, V)))
        lab = list(rng.integers(1, V, size=L))
        x, y = torch.from_numpy(lp)[:, None, :], torch.tensor([lab])
        tl = lambda: torch.nn.functional.ctc_loss(x, y, torch.tensor([Tc]), torch.tensor([L]), reduction="sum")  # noqa: E731
        out["ctc_loglik_t500_l150_ms"] = timed(lambda: ctc.log_likelihood(lp, lab), repeat)
        out["peer_torch_ctc_loss_t500_l150_ms"] = timed(tl, repeat)
        out["peer_torch_ctc_loss_abs_diff"] = abs(ctc.log_likelihood(lp, lab) + float(tl()))


TARGETS = {"greedy_60s_v500_ms": 2.0, "beam8_lm_10s_ms": 50.0, "align_20w_10s_ms": 20.0, "grammar_3s_ms": 30.0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "decoders.json"))
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    res: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        bench_greedy(rng, args.repeat, res)
        bench_beam(rng, args.repeat, res, tmp)
    bench_align(rng, args.repeat, res)
    bench_grammar(rng, args.repeat, res)
    bench_hmm_general(rng, args.repeat, res)
    meta = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "repeat": args.repeat, "statistic": "median ms after one warm-up"}
    print(f"decoder benchmarks ({meta['python']}, numpy {meta['numpy']}, {meta['cpu_count']} CPUs, "
          f"median of {args.repeat})")
    for k, v in res.items():
        tgt = TARGETS.get(k)
        mark = "" if tgt is None else f"   target <= {tgt:g} ms: {'PASS' if v <= tgt else 'MISS'}"
        val = f"{v:10.3f}" if isinstance(v, float) else f"{v!s:>10}"
        print(f"  {k:45s}{val}{mark}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "targets_ms": TARGETS, "results": res}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
