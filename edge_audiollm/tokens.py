"""The LLM's vocabulary at run time: ids -> text, and text -> ids for the bundles that let the
LLM read a transcript (their manifest carries the BPE merges; prompts arrive as ids)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import BundleError

WORD_BOUNDARY = "\u2581"  # sentencepiece's "▁": a piece that starts a word
_CONTROL = re.compile(r"^</?[A-Za-z_][A-Za-z0-9_.|-]*>$")


@dataclass(frozen=True)
class Vocabulary:
    pieces: tuple[str, ...]
    special_ids: frozenset[int]
    merge_ranks: dict = field(default_factory=dict, compare=False)  # (left, right) -> rank; empty: no encode
    piece_ids: dict = field(default_factory=dict, compare=False)  # piece -> its first id (encode)

    @classmethod
    def from_manifest(cls, llm: dict) -> "Vocabulary":
        pieces = llm.get("vocab")
        if not isinstance(pieces, list) or not pieces:
            raise BundleError("bundle manifest: llm.vocab must be a non-empty list of pieces")
        special = {int(llm[k]) for k in ("bos_id", "eos_id", "pad_id") if k in llm}
        # Control pieces such as "<transcribe>" or "</audio>" are never text.
        special |= {i for i, p in enumerate(pieces) if _CONTROL.match(str(p))}
        merges = llm.get("merges", [])
        if not isinstance(merges, list) or not all(isinstance(m, list) and len(m) == 2 for m in merges):
            raise BundleError("bundle manifest: llm.merges must be a list of [left, right] piece pairs")
        ranks = {(str(a), str(b)): r for r, (a, b) in enumerate(merges)}
        ids: dict[str, int] = {}
        for i, piece in enumerate(pieces):
            ids.setdefault(str(piece), i)
        return cls(tuple(str(p) for p in pieces), frozenset(special), ranks, ids)

    def __len__(self) -> int:
        return len(self.pieces)

    def ids_containing(self, chars: str) -> tuple[int, ...]:
        """Ids of the pieces that hold any of `chars`: what a task's output may never contain."""
        return tuple(i for i, p in enumerate(self.pieces) if any(c in p for c in chars))

    def decode(self, ids) -> str:
        text = "".join(self.pieces[i] for i in ids if i not in self.special_ids and 0 <= i < len(self.pieces))
        return " ".join(text.replace(WORD_BOUNDARY, " ").split())

    def encode(self, text: str) -> list[int]:
        """Ids of `text` as the training tokenizer cut it: words split on spaces, "▁" before
        each, then byte-pair merges in rank order (HF tokenizers' BPE with Metaspace)."""
        if not self.merge_ranks:
            raise BundleError("this bundle's manifest has no llm.merges, so its LLM cannot read text; "
                              "rebuild the bundle with the current recipe")
        index = self.piece_ids
        ids: list[int] = []
        for word in text.split():
            for piece in self._merge_word(WORD_BOUNDARY + word):
                if piece not in index:
                    raise BundleError(f"{piece!r} in {text!r} is not in the LLM's vocabulary; normalise the text first")
                ids.append(index[piece])
        return ids

    def _merge_word(self, word: str) -> list[str]:
        parts = list(word)
        ranks = self.merge_ranks
        while len(parts) > 1:
            pairs = [(ranks.get((a, b)), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            pairs = [(r, i) for r, i in pairs if r is not None]
            if not pairs:
                break
            rank = min(pairs)[0]
            out, i = [], 0
            while i < len(parts):  # every occurrence of the best pair, left to right, as BPE does
                if i + 1 < len(parts) and ranks.get((parts[i], parts[i + 1])) == rank:
                    out.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        return parts

