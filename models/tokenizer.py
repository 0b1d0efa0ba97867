"""Our subword vocabulary for the LLM: BPE over sentencepiece-style pieces ("▁" marks a
word start), trained with HF `tokenizers` (training only). The runtime needs just the
list of pieces (edge_audiollm/tokens.py decodes by concatenation)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>", "<transcribe>", "<understand>", "<audio>", "</audio>")
# Every character a transcript or an intent JSON can hold, so nothing is ever <unk>.
ALPHABET = list("abcdefghijklmnopqrstuvwxyz'0123456789{}[]\":,_+-*/ ")


@dataclass
class Tokenizer:
    pieces: list[str]
    _tok: object  # tokenizers.Tokenizer

    @property
    def ids(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.pieces)}

    def __len__(self) -> int:
        return len(self.pieces)

    def special(self, name: str) -> int:
        return self.pieces.index(name)

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text).ids

    def decode(self, ids: Iterable[int]) -> str:
        from edge_audiollm.tokens import Vocabulary

        return Vocabulary(tuple(self.pieces), frozenset(range(len(SPECIAL_TOKENS)))).decode(list(ids))

    def merges(self) -> list[list[str]]:
        """The BPE merges in rank order: what the runtime needs to encode text the same way."""
        import json

        return [list(m) if isinstance(m, list) else m.split(" ", 1) for m in json.loads(self._tok.to_str())["model"]["merges"]]

    def save(self, path: Path) -> None:
        self._tok.save(str(path))

    @classmethod
    def load(cls, path: Path) -> "Tokenizer":
        from tokenizers import Tokenizer as HFTokenizer

        tok = HFTokenizer.from_file(str(path))
        vocab = tok.get_vocab()
        pieces = [""] * len(vocab)
        for piece, i in vocab.items():
            pieces[i] = piece
        return cls(pieces, tok)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> Tokenizer:
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = HFTokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), initial_alphabet=ALPHABET + ["\u2581"],
        min_frequency=2, show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    vocab = tok.get_vocab()
    pieces = [""] * len(vocab)
    for piece, i in vocab.items():
        pieces[i] = piece
    return Tokenizer(pieces, tok)


def intent_target(intent: str, slots: dict) -> str:
    """The understand task's target text: compact JSON, keys in a fixed order."""
    return json.dumps({"intent": intent, "slots": slots}, separators=(",", ":"), ensure_ascii=False)
