"""The LLM's vocabulary at run time: ids -> text. Prompts arrive as ids in the manifest,
so the runtime never needs to encode text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BundleError

WORD_BOUNDARY = "\u2581"  # sentencepiece's "▁": a piece that starts a word
_CONTROL = re.compile(r"^</?[A-Za-z_][A-Za-z0-9_.|-]*>$")


@dataclass(frozen=True)
class Vocabulary:
    pieces: tuple[str, ...]
    special_ids: frozenset[int]

    @classmethod
    def from_manifest(cls, llm: dict) -> "Vocabulary":
        pieces = llm.get("vocab")
        if not isinstance(pieces, list) or not pieces:
            raise BundleError("bundle manifest: llm.vocab must be a non-empty list of pieces")
        special = {int(llm[k]) for k in ("bos_id", "eos_id", "pad_id") if k in llm}
        # Control pieces such as "<transcribe>" or "</audio>" are never text.
        special |= {i for i, p in enumerate(pieces) if _CONTROL.match(str(p))}
        return cls(tuple(str(p) for p in pieces), frozenset(special))

    def __len__(self) -> int:
        return len(self.pieces)

    def ids_containing(self, chars: str) -> tuple[int, ...]:
        """Ids of the pieces that hold any of `chars`: what a task's output may never contain."""
        return tuple(i for i, p in enumerate(self.pieces) if any(c in p for c in chars))

    def decode(self, ids) -> str:
        text = "".join(self.pieces[i] for i in ids if i not in self.special_ids and 0 <= i < len(self.pieces))
        return " ".join(text.replace(WORD_BOUNDARY, " ").split())
