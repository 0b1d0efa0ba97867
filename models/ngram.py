"""Train a word n-gram LM (interpolated Kneser-Ney) and write it as an ARPA file, the
format KenLM writes and edge_audiollm/decoders/arpa.py reads.

Interpolated KN stored as back-off: each listed n-gram carries its interpolated
probability, and each context's back-off weight is whatever mass the listed words leave,
renormalised over the lower order (exact, also after a count cutoff has pruned n-grams).

    python -m models.ngram --order 3 --out lm.arpa texts.txt ...
"""

from __future__ import annotations

import argparse
import gzip
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
DISCOUNT = 0.75
_UNK_MASS = 1e-4  # probability kept for words the LM never saw


def _counts(sentences: Iterable[str], order: int) -> list[Counter]:
    counts = [Counter() for _ in range(order + 1)]
    for s in sentences:
        words = [BOS] + s.split() + [EOS]
        for n in range(1, order + 1):
            for i in range(max(0, 1 if n == 1 else 0), len(words) - n + 1):
                counts[n][tuple(words[i : i + n])] += 1
    counts[1].pop((BOS,), None)
    return counts


def _continuation(counts: Counter, lower_raw: Counter) -> Counter:
    """Kneser-Ney: an (n-1)-gram's count is the number of distinct words seen before it.
    N-grams that start with <s> have no word before them and keep their raw counts."""
    out = Counter()
    for gram in counts:
        out[gram[1:]] += 1
    for gram, c in lower_raw.items():
        if gram[0] == BOS:
            out[gram] = c
    return out


def train_kn(sentences: Iterable[str], order: int = 3, min_count_top: int = 1,
             min_count_mid: int = 1) -> tuple[dict, dict]:
    """(probs, backoffs): n-gram tuple -> log10 prob / log10 back-off weight.

    Count cutoffs (raw counts) prune the top order (`min_count_top`) and the orders between
    unigrams and the top (`min_count_mid`): that is what keeps a device's LM small. Keep
    min_count_mid <= min_count_top, so every prefix of a listed n-gram stays listed, as ARPA
    requires (a prefix occurs at least as often as the n-gram)."""
    if min_count_mid > min_count_top:
        raise ValueError(f"min_count_mid ({min_count_mid}) must not exceed min_count_top ({min_count_top})")
    raw = _counts(sentences, order)
    # Orders below the top use continuation counts (KN); the top order uses raw counts.
    kn = [None] + [_continuation(raw[n + 1], raw[n]) if n < order else raw[n] for n in range(1, order + 1)]
    vocab = sorted({g[0] for g in raw[1]})

    # unigrams: discounted continuation counts interpolated with a uniform distribution
    total = sum(kn[1].get((w,), 0) for w in vocab)
    n_types = sum(1 for w in vocab if kn[1].get((w,), 0) > 0)
    uniform = 1.0 / (len(vocab) + 1)
    probs: dict[tuple, float] = {}
    for w in vocab:
        c = kn[1].get((w,), 0)
        probs[(w,)] = max(c - DISCOUNT, 0) / total + (DISCOUNT * n_types / total) * uniform
    probs[(UNK,)] = _UNK_MASS
    norm = sum(probs.values())
    probs = {g: p / norm for g, p in probs.items()}
    probs[(BOS,)] = 0.0  # never predicted; listed so that it can be a history
    bows: dict[tuple, float] = {}  # linear back-off weights

    for n in range(2, order + 1):
        ctx_total: dict[tuple, int] = defaultdict(int)
        ctx_types: dict[tuple, int] = defaultdict(int)
        for g, c in kn[n].items():
            ctx_total[g[:-1]] += c
            ctx_types[g[:-1]] += 1
        level = {}
        for g, c in kn[n].items():
            if raw[n][g] < (min_count_top if n == order else min_count_mid):
                continue
            h = g[:-1]
            gamma = DISCOUNT * ctx_types[h] / ctx_total[h]
            level[g] = max(c - DISCOUNT, 0) / ctx_total[h] + gamma * _backed_off(probs, bows, g[1:])
        # Back-off weight of each history: the mass its listed words leave, renormalised
        # over the lower-order distribution (exact, with or without pruning).
        children: dict[tuple, list] = defaultdict(list)
        for g in level:
            children[g[:-1]].append(g)
        for h, grams in children.items():
            listed = sum(level[g] for g in grams)
            listed_lower = sum(_backed_off(probs, bows, g[1:]) for g in grams)
            bows[h] = max(1.0 - listed, 1e-12) / max(1.0 - listed_lower, 1e-12)
        probs.update(level)

    log_probs = {g: (math.log10(p) if p > 0 else -99.0) for g, p in probs.items()}
    return log_probs, {h: math.log10(b) for h, b in bows.items()}


def _backed_off(probs: dict, bows: dict, gram: tuple) -> float:
    """The back-off model's p(w | h) from the orders finished so far."""
    if gram in probs:
        return probs[gram]
    if len(gram) == 1:
        return probs[(UNK,)]
    return bows.get(gram[:-1], 1.0) * _backed_off(probs, bows, gram[1:])


def write_arpa(path: Path, probs: dict, backoffs: dict, order: int) -> Path:
    by_order = defaultdict(list)
    for g in probs:
        by_order[len(g)].append(g)
    opener = gzip.open if str(path).endswith(".gz") else open  # .arpa.gz: a quarter of the size
    with opener(path, "wt", encoding="utf-8") as f:
        f.write("\n\\data\\\n")
        for n in range(1, order + 1):
            f.write(f"ngram {n}={len(by_order[n])}\n")
        for n in range(1, order + 1):
            f.write(f"\n\\{n}-grams:\n")
            for g in sorted(by_order[n]):
                line = f"{probs[g]:.6f}\t{' '.join(g)}"
                if n < order and g in backoffs:
                    line += f"\t{backoffs[g]:.6f}"
                f.write(line + "\n")
        f.write("\n\\end\\\n")
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("texts", nargs="+", type=Path, help="files with one lowercase sentence per line")
    p.add_argument("--order", type=int, default=3)
    p.add_argument("--min-count-top", type=int, default=1)
    p.add_argument("--min-count-mid", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    sentences = [line.strip() for t in a.texts for line in t.read_text().splitlines() if line.strip()]
    probs, bows = train_kn(sentences, a.order, a.min_count_top, a.min_count_mid)
    write_arpa(a.out, probs, bows, a.order)
    print(f"{a.out}: {len(probs)} n-grams from {len(sentences)} sentences")


if __name__ == "__main__":
    main()
