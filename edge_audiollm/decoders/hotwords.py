"""Hotword boosting for the prefix beam search.

A hypothesis earns `weight` for every hotword (a word or a phrase) it spells as whole
words. While a hotword is being spelled it holds partial credit, weight * depth / length,
so that the hypothesis survives pruning long enough to finish the word; the credit is
taken back if the spelling leaves the hotword. The bonus is a function of the text only,
so prefixes that merge in the beam always agree on it.
"""

from __future__ import annotations

import numpy as np

from ..errors import DecoderError
from .vocab import Vocabulary

ROOT, DEAD = 0, -1  # DEAD: inside a word that matches no hotword


class HotwordBooster:
    def __init__(self, hotwords, vocab: Vocabulary, weight: float = 10.0):
        if isinstance(hotwords, str):
            hotwords = [hotwords]
        items = hotwords.items() if isinstance(hotwords, dict) else ((h, weight) for h in hotwords)
        self.vocab = vocab
        self.words: set[str] = set()  # every word of every phrase: the beam's lexicon must allow them
        self.children: list[dict] = [{}]
        self.depth = [0]
        self.terminal: list[float | None] = [None]
        self.phi = [0.0]  # credit held at a node
        for phrase, w in items:
            if not isinstance(phrase, str) or not phrase.split():
                raise DecoderError(f"hotword {phrase!r} must be a non-empty string")
            w = float(w)
            if not np.isfinite(w):
                raise DecoderError(f"hotword {phrase!r} has a non-finite weight {w}")
            text = " ".join(phrase.split())
            self.words.update(text.split())
            node = ROOT
            for k, ch in enumerate(text):
                nxt = self.children[node].get(ch)
                if nxt is None:
                    nxt = len(self.children)
                    self.children[node][ch] = nxt
                    self.children.append({})
                    self.depth.append(k + 1)
                    self.terminal.append(None)
                    self.phi.append(float("-inf"))
                node = nxt
                self.phi[node] = max(self.phi[node], w * (k + 1) / len(text))
            self.terminal[node] = max(w, self.terminal[node] or float("-inf"))
        self.phi = [0.0 if not np.isfinite(p) else p for p in self.phi]
        self._rows: dict[int, tuple[np.ndarray, list[int]]] = {}

    def _phi(self, node: int) -> float:
        return 0.0 if node <= ROOT else self.phi[node]

    def _boundary(self, node: int) -> tuple[int, float]:
        """Step over a word boundary: (next node, credit banked)."""
        if node <= ROOT:
            return ROOT, 0.0
        nxt = self.children[node].get(" ")
        if nxt is not None:  # inside a phrase: the longer match is preferred
            return nxt, 0.0
        return ROOT, self.terminal[node] or 0.0

    def _char(self, node: int, ch: str) -> int:
        if node == DEAD:
            return DEAD
        return self.children[node].get(ch, DEAD)

    def step(self, node: int, token: int) -> tuple[int, float]:
        """(next node, score change) for appending `token`."""
        nxt, bank = node, 0.0
        if self.vocab.boundary[token]:
            nxt, bank = self._boundary(nxt)
        for ch in self.vocab.chars[token]:
            nxt = self._char(nxt, ch)
        return nxt, bank + self._phi(nxt) - self._phi(node)

    def row(self, node: int) -> tuple[np.ndarray, list[int]]:
        """Score change and next node for every token, cached per node."""
        hit = self._rows.get(node)
        if hit is None:
            nodes, delta = [], np.zeros(len(self.vocab))
            for v in range(len(self.vocab)):
                n, d = self.step(node, v) if v != self.vocab.blank else (node, 0.0)
                nodes.append(n)
                delta[v] = d
            hit = (delta, nodes)
            self._rows[node] = hit
        return hit

    def finish(self, node: int) -> float:
        """Score change at the end of the utterance (an implicit word boundary): a
        finished hotword keeps its weight, an unfinished one gives its credit back."""
        if node <= ROOT:
            return 0.0
        return (self.terminal[node] or 0.0) - self.phi[node]
