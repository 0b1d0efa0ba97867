"""Reader and scorer for back-off word n-gram LMs in ARPA format (what KenLM's lmplz
writes), so the beam search can use an LM without the kenlm extension.

Scores follow the ARPA definition, with log10 values as stored in the file:
    log p(w | h) = logprob(h w)                        if the n-gram "h w" is listed
                 = backoff(h) + log p(w | h[1:])       otherwise (backoff(h) = 0 if h is not listed)
Words missing from the unigrams are scored as <unk>; a file without <unk> gets
log10 p(<unk>) = -100, as KenLM does.
"""

from __future__ import annotations

import bisect
import gzip
import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import DecoderError

LN10 = math.log(10.0)
BOS, EOS, UNK = "<s>", "</s>", "<unk>"
_UNK_DEFAULT_LOG10 = -100.0


def _open_text(path):
    path = os.fspath(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


class _Table:
    """One order's n-grams: packed id keys (sorted int64), log10 probs and back-offs (float64, as read).
    A 60k-word trigram LM is ~10 MB this way against ~80 MB as dicts of tuples."""

    __slots__ = ("keys", "probs", "backoffs", "filled")

    def __init__(self, count: int):
        self.keys = np.zeros(count, dtype=np.int64)
        self.probs = np.zeros(count, dtype=np.float64)
        self.backoffs = np.zeros(count, dtype=np.float64)  # 0: none listed
        self.filled = 0

    def add(self, key: int, lp: float, bo: float | None) -> None:
        i = self.filled
        self.keys[i], self.probs[i] = key, lp
        if bo is not None:
            self.backoffs[i] = bo
        self.filled = i + 1

    def seal(self) -> None:
        order = np.argsort(self.keys, kind="stable")
        self.keys, self.probs, self.backoffs = self.keys[order], self.probs[order], self.backoffs[order]

    def find(self, key: int) -> int:
        i = int(self.keys.searchsorted(key))
        return i if i < self.keys.size and self.keys[i] == key else -1


# eq=False: identity hashing, frozen: no field reassignment
@dataclass(frozen=True, eq=False)
class ArpaLM:
    """A back-off n-gram LM. States are tuples of word ids (the last order-1 words)."""

    order: int
    vocab: dict  # word -> id
    tables: tuple  # per order n (tables[n - 1]): its n-grams, keys packed in radix `base`
    base: int
    unk_log10: float
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    _lexicon: list = field(default_factory=list, repr=False, compare=False)  # memo of lexicon()
    _memos: dict = field(default_factory=dict, repr=False, compare=False)

    # construction ----------------------------------------------------------------
    @classmethod
    def from_file(cls, path) -> "ArpaLM":
        try:
            with _open_text(path) as fh:
                return cls.from_lines(fh, source=str(path))
        except OSError as exc:
            raise DecoderError(f"cannot read ARPA LM {path}: {exc.strerror or exc}; check the path") from exc

    @classmethod
    def from_string(cls, text: str) -> "ArpaLM":
        return cls.from_lines(text.splitlines(), source="<string>")

    @classmethod
    def from_lines(cls, lines, source: str = "<lines>") -> "ArpaLM":
        counts: dict[int, int] = {}
        tables: dict[int, _Table] = {}
        vocab: dict[str, int] = {}
        base = 0
        section = None  # None before \data\, 0 inside \data\, n inside \n-grams:
        ended = False
        for lineno, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or ended:
                continue
            if line == "\\data\\":
                section = 0
                continue
            if line == "\\end\\":
                ended = True
                continue
            if line.startswith("\\") and line.endswith("-grams:"):
                try:
                    section = int(line[1:-len("-grams:")])
                except ValueError:
                    raise DecoderError(f"{source}:{lineno}: bad section header {line!r}") from None
                if section not in counts:
                    raise DecoderError(f"{source}:{lineno}: section {line!r} is not announced in \\data\\")
                if not base:
                    base = counts.get(1, 0) + 1  # room for an <unk> the file may lack
                    if base ** max(counts) >= 2**63:
                        raise DecoderError(f"{source}: {max(counts)}-grams over {base - 1} words do not fit "
                                           "64-bit keys; prune the vocabulary or lower the order")
                tables[section] = _Table(counts[section])
                continue
            if section is None:
                continue  # text before \data\ is a comment by convention
            if section == 0:
                if not line.startswith("ngram ") or "=" not in line:
                    raise DecoderError(f"{source}:{lineno}: expected 'ngram N=COUNT' in \\data\\, got {line!r}")
                n, c = line[6:].split("=", 1)
                counts[int(n)] = int(c)
                continue
            parts = line.split()
            n = section
            if len(parts) not in (n + 1, n + 2):
                raise DecoderError(f"{source}:{lineno}: a {n}-gram line needs logprob, {n} words and an optional backoff")
            try:
                lp = float(parts[0])
                bo = float(parts[n + 1]) if len(parts) == n + 2 else None
            except ValueError:
                raise DecoderError(f"{source}:{lineno}: logprob/backoff is not a number in {line!r}") from None
            table = tables[n]
            if table.filled >= table.keys.size:
                raise DecoderError(f"{source}: \\data\\ announces {counts[n]} {n}-grams but more were read")
            if n == 1:
                vocab.setdefault(parts[1], len(vocab))
            key = 0
            for w in parts[1 : n + 1]:
                i = vocab.get(w)
                if i is None:
                    raise DecoderError(f"{source}:{lineno}: word {w!r} has no unigram entry")
                key = key * base + i
            table.add(key, lp, bo)
        if section is None or not counts:
            raise DecoderError(f"{source} is not an ARPA file: no \\data\\ section found")
        if not ended:
            raise DecoderError(f"{source}: missing \\end\\ marker; the file looks truncated")
        for n, c in counts.items():
            got = tables[n].filled if n in tables else 0
            if got != c:
                raise DecoderError(f"{source}: \\data\\ announces {c} {n}-grams but {got} were read")
        for w in (BOS, EOS):
            if w not in vocab:
                raise DecoderError(f"{source}: the unigrams must include {w}")
        for t in tables.values():
            t.seal()
        unk = tables[1].find(vocab[UNK]) if UNK in vocab else -1
        unk_log10 = float(tables[1].probs[unk]) if unk >= 0 else _UNK_DEFAULT_LOG10
        vocab.setdefault(UNK, len(vocab))
        return cls(order=max(counts), vocab=vocab, tables=tuple(tables[n] for n in sorted(tables)), base=base,
                   unk_log10=unk_log10)

    def lexicon(self) -> tuple[frozenset, "Prefixes"]:
        """(words, their prefixes): the unigrams without <s>, </s> and <unk>. Built on first use
        and kept: the beam asks per hypothesis."""
        if not self._lexicon:
            words = frozenset(w for w in self.vocab if w not in (BOS, EOS, UNK))
            self._lexicon.append((words, Prefixes(sorted(words))))
        return self._lexicon[0]

    def memo(self, key) -> dict:
        """A cache that lives as long as this LM, for what decoders derive from it (a search's
        own cache would start empty for every utterance)."""
        return self._memos.setdefault(key, {})

    # scoring ---------------------------------------------------------------------
    def word_id(self, word: str) -> int:
        return self.vocab.get(word, self.vocab[UNK])

    def begin_state(self, bos: bool = True) -> tuple:
        return (self.vocab[BOS],) if bos and self.order > 1 else ()

    def _entry(self, ids: tuple) -> tuple[_Table, int]:
        key = 0
        for i in ids:
            key = key * self.base + i
        table = self.tables[len(ids) - 1]
        return table, table.find(key)

    def _log10p(self, ctx: tuple, w: int) -> float:
        total = 0.0
        while True:
            table, i = self._entry(ctx + (w,))
            if i >= 0:
                return total + float(table.probs[i])
            if not ctx:  # a word outside the unigrams (only <unk> can be)
                return total + self.unk_log10
            table, i = self._entry(ctx)
            if i >= 0:
                total += float(table.backoffs[i])
            ctx = ctx[1:]

    def score_word(self, state: tuple, word: str) -> tuple[float, tuple]:
        """(log10 p(word | state), next state). Cached by word id, not text: the beam asks for
        partial words at every extension, and most of them are one word, <unk>."""
        w = self.word_id(word)
        key = (state, w)
        hit = self._cache.get(key)
        if hit is None:
            hit = (self._log10p(state, w), (state + (w,))[-(self.order - 1) :] if self.order > 1 else ())
            if len(self._cache) < 200_000:  # bound memory on long sessions (~40 MB at most)
                self._cache[key] = hit
        return hit

    def score_sentence(self, words, bos: bool = True, eos: bool = True) -> float:
        """log10 p(words), like kenlm.Model.score(" ".join(words), bos, eos)."""
        state = self.begin_state(bos)
        total = 0.0
        for w in list(words) + ([EOS] if eos else []):
            lp, state = self.score_word(state, w)
            total += lp
        return total


class Prefixes:
    """Whether any lexicon word starts with a string, by bisection in the sorted words: the
    word list alone, where a set of every prefix took 20 MB more for 60k words."""

    __slots__ = ("words",)

    def __init__(self, sorted_words: list[str]):
        self.words = sorted_words

    def __contains__(self, prefix: str) -> bool:
        i = bisect.bisect_left(self.words, prefix)
        return i < len(self.words) and self.words[i].startswith(prefix)

    def next_chars(self, prefix: str) -> frozenset[str]:
        """The characters that follow `prefix` in some word: one bisection per distinct
        character (jumping past the words that share it), not one per character tried."""
        words, n, k = self.words, len(self.words), len(prefix)
        out = set()
        i = bisect.bisect_left(words, prefix)
        while i < n and words[i].startswith(prefix):
            if len(words[i]) == k:
                i += 1
                continue
            ch = words[i][k]
            out.add(ch)
            i = bisect.bisect_left(words, prefix + chr(ord(ch) + 1), i)
        return frozenset(out)
