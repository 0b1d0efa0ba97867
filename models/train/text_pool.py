"""Extra text for the LLM's text stage: fresh command phrasings (held-out templates and
values excluded) and general English sentences, never any valid/test sentence."""

from __future__ import annotations

import numpy as np

from models.data.texts_general import load_sentences
from models.data.texts_intents import CommandGenerator, CommandOptions


def extra_texts(n_commands: int, n_sentences: int, *, exclude: set[str], seed: int = 0) -> list[tuple[str, str | None, dict]]:
    """(text, intent or None, slots) triples."""
    rng = np.random.default_rng(seed + 1000)
    out = []
    if n_commands:
        gen = CommandGenerator(CommandOptions(seed=seed))
        while len(out) < n_commands:
            c = gen.sample(rng, allow_heldout=False)
            if c.text not in exclude:
                out.append((c.text, c.intent, c.slots))
    if n_sentences:
        sentences = [s.text for s in load_sentences() if s.text not in exclude]
        for i in rng.permutation(len(sentences))[:n_sentences]:
            out.append((sentences[i], None, {}))
    return out
