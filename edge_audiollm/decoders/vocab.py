"""Token vocabularies for the decoders: how each token id reads as text and where word
boundaries fall.

Two conventions are recognised from the token strings themselves:
- character vocabularies: one character per token, with " " or "|" as the word
  delimiter (wav2vec2 style);
- subword vocabularies in the SentencePiece style: "▁" at the start of a piece marks the
  start of a word.
The blank token reads as nothing whatever its string is.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from ..errors import DecoderError

SP_MARK = "\u2581"  # SentencePiece word-start marker "▁"
DELIMITERS = (" ", "|")
DEFAULT_CHARS = ("<blank>", " ", *string.ascii_lowercase, "'")


@dataclass(frozen=True)
class Vocabulary:
    tokens: tuple  # token strings as given
    blank: int
    subword: bool  # SentencePiece convention
    boundary: tuple  # per token: starts a new word (delimiter, or "▁" piece)
    chars: tuple  # per token: the characters it adds to the current word
    delimiter: int | None  # id of the delimiter token (character vocabularies)

    @classmethod
    def from_tokens(cls, tokens, blank: int = 0) -> "Vocabulary":
        if isinstance(tokens, Vocabulary):
            return tokens
        if isinstance(tokens, str):
            raise DecoderError("vocab must be a list of token strings, not one string; e.g. list(' abc')")
        toks = tuple(tokens)
        if not toks or not all(isinstance(t, str) for t in toks):
            raise DecoderError("vocab must be a non-empty list of token strings")
        if not 0 <= blank < len(toks):
            raise DecoderError(f"blank={blank} is out of range for a vocabulary of {len(toks)} tokens")
        subword = any(t.startswith(SP_MARK) for i, t in enumerate(toks) if i != blank)
        boundary, chars = [], []
        delimiter = None
        for i, t in enumerate(toks):
            if i == blank:
                boundary.append(False)
                chars.append("")
            elif subword:
                boundary.append(t.startswith(SP_MARK))
                chars.append(t.lstrip(SP_MARK))
            elif t in DELIMITERS:
                boundary.append(True)
                chars.append("")
                delimiter = i if delimiter is None else delimiter
            else:
                boundary.append(False)
                chars.append(t)
        return cls(toks, blank, subword, tuple(boundary), tuple(chars), delimiter)

    def __len__(self) -> int:
        return len(self.tokens)

    def words(self, ids) -> list[str]:
        """The words spelled by a token sequence."""
        out, cur = [], []
        for i in ids:
            if self.boundary[i] and cur:
                out.append("".join(cur))
                cur = []
            if self.chars[i]:
                cur.append(self.chars[i])
        if cur:
            out.append("".join(cur))
        return out

    def text(self, ids) -> str:
        return " ".join(self.words(ids))

    def encode(self, text: str) -> list[int]:
        """Token ids spelling `text` (words separated by the delimiter token).

        Character vocabularies map character by character; subword vocabularies use a
        greedy longest match per word. Raises DecoderError for text the vocabulary cannot spell.
        """
        words = text.split()
        if not self.subword:
            index = {c: i for i, c in enumerate(self.chars) if len(c) == 1 and i != self.blank}
            ids: list[int] = []
            for k, w in enumerate(words):
                if k and self.delimiter is not None:
                    ids.append(self.delimiter)
                for ch in w:
                    if ch not in index:
                        raise DecoderError(f"character {ch!r} in {text!r} is not in the vocabulary; "
                                           "normalise the text (e.g. lowercase) or extend the vocab")
                    ids.append(index[ch])
            return ids
        pieces = {}
        for i, t in enumerate(self.tokens):
            if i != self.blank:
                pieces.setdefault(t, i)
        ids = []
        for w in words:
            rest, first = w, True
            while rest:
                for n in range(len(rest), 0, -1):
                    key = (SP_MARK if first else "") + rest[:n]
                    if key in pieces:
                        ids.append(pieces[key])
                        rest, first = rest[n:], False
                        break
                else:
                    raise DecoderError(f"word {w!r} cannot be spelled with this subword vocabulary")
        return ids
