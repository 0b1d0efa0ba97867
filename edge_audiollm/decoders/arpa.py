"""Reader and scorer for back-off word n-gram LMs in ARPA format (what KenLM's lmplz
writes), so the beam search can use an LM without the kenlm extension.

Scores follow the ARPA definition, with log10 values as stored in the file:
    log p(w | h) = logprob(h w)                        if the n-gram "h w" is listed
                 = backoff(h) + log p(w | h[1:])       otherwise (backoff(h) = 0 if h is not listed)
Words missing from the unigrams are scored as <unk>; a file without <unk> gets
log10 p(<unk>) = -100, as KenLM does.
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass, field

from ..errors import DecoderError

LN10 = math.log(10.0)
BOS, EOS, UNK = "<s>", "</s>", "<unk>"
_UNK_DEFAULT_LOG10 = -100.0


def _open_text(path):
    path = os.fspath(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


# eq=False: identity hashing (the tables are dicts), frozen: no field reassignment
@dataclass(frozen=True, eq=False)
class ArpaLM:
    """A back-off n-gram LM. States are tuples of word ids (the last order-1 words)."""

    order: int
    vocab: dict  # word -> id
    probs: dict  # tuple of ids -> log10 prob
    backoffs: dict  # tuple of ids -> log10 backoff
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    _lexicon: list = field(default_factory=list, repr=False, compare=False)  # memo of lexicon()

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
        seen: dict[int, int] = {}
        vocab: dict[str, int] = {}
        probs: dict[tuple, float] = {}
        backoffs: dict[tuple, float] = {}
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
                seen[section] = 0
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
            words = parts[1 : n + 1]
            if n == 1:
                vocab.setdefault(words[0], len(vocab))
            try:
                key = tuple(vocab[w] for w in words)
            except KeyError as exc:
                raise DecoderError(f"{source}:{lineno}: word {exc.args[0]!r} has no unigram entry") from None
            probs[key] = lp
            if bo is not None:
                backoffs[key] = bo
            seen[n] += 1
        if section is None or not counts:
            raise DecoderError(f"{source} is not an ARPA file: no \\data\\ section found")
        if not ended:
            raise DecoderError(f"{source}: missing \\end\\ marker; the file looks truncated")
        for n, c in counts.items():
            if seen.get(n, 0) != c:
                raise DecoderError(f"{source}: \\data\\ announces {c} {n}-grams but {seen.get(n, 0)} were read")
        if UNK not in vocab:
            vocab[UNK] = len(vocab)
            probs[(vocab[UNK],)] = _UNK_DEFAULT_LOG10
        for w in (BOS, EOS):
            if w not in vocab:
                raise DecoderError(f"{source}: the unigrams must include {w}")
        return cls(order=max(counts), vocab=vocab, probs=probs, backoffs=backoffs)

    def lexicon(self) -> tuple[frozenset, frozenset]:
        """(words, every prefix of a word): the unigrams, without <s>, </s> and <unk>. Built on
        first use (about a second for 60k words) and kept: the beam asks per hypothesis."""
        if not self._lexicon:
            words = frozenset(w for w in self.vocab if w not in (BOS, EOS, UNK))
            self._lexicon.append((words, frozenset(w[:i] for w in words for i in range(1, len(w) + 1))))
        return self._lexicon[0]

    # scoring ---------------------------------------------------------------------
    def word_id(self, word: str) -> int:
        return self.vocab.get(word, self.vocab[UNK])

    def begin_state(self, bos: bool = True) -> tuple:
        return (self.vocab[BOS],) if bos and self.order > 1 else ()

    def _log10p(self, ctx: tuple, w: int) -> float:
        total = 0.0
        probs, backoffs = self.probs, self.backoffs
        while True:
            p = probs.get(ctx + (w,))
            if p is not None:
                return total + p
            if not ctx:  # cannot happen for ids from word_id(); guard anyway
                return total + probs[(self.vocab[UNK],)]
            total += backoffs.get(ctx, 0.0)
            ctx = ctx[1:]

    def score_word(self, state: tuple, word: str) -> tuple[float, tuple]:
        """(log10 p(word | state), next state). Cached: the beam asks the same pairs often."""
        key = (state, word)
        hit = self._cache.get(key)
        if hit is None:
            w = self.word_id(word)
            hit = (self._log10p(state, w), (state + (w,))[-(self.order - 1) :] if self.order > 1 else ())
            if len(self._cache) < 1_000_000:  # bound memory on long sessions
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
