"""A tiny random template grammar: `(a|b|)` picks one alternative, `[x]` or `[x|y]` is optional,
nesting allowed.

`{name}` placeholders are left for the caller to fill. Expansion is driven by a numpy Generator
so corpora are reproducible from a seed.
"""

from __future__ import annotations

import hashlib

import numpy as np


class GrammarError(ValueError):
    pass


def _parse(s: str, i: int, closer: str | None) -> tuple[list, int]:
    """Parse into a list of str | ('alt', [seq, ...]) | ('opt', seq) up to `closer`."""
    seq: list = []
    buf = ""
    while i < len(s):
        c = s[i]
        if c in "([":
            if buf:
                seq.append(buf)
                buf = ""
            alts = []
            i += 1
            end = ")" if c == "(" else "]"
            while True:
                part, i = _parse(s, i, "|" + end)
                alts.append(part)
                if s[i] == end:
                    break
                i += 1
            seq.append(("alt" if c == "(" else "opt", alts))
            i += 1
            continue
        if closer and c in closer:
            break
        if c in ")]|":
            raise GrammarError(f"unbalanced {c!r} at {i} in {s!r}")
        buf += c
        i += 1
    else:
        if closer:
            raise GrammarError(f"missing {closer[-1]!r} in {s!r}")
    if buf:
        seq.append(buf)
    return seq, i


def _render(seq: list, rng: np.random.Generator) -> str:
    out = []
    for node in seq:
        if isinstance(node, str):
            out.append(node)
        elif node[0] == "alt":
            out.append(_render(node[1][int(rng.integers(len(node[1])))], rng))
        elif rng.random() < 0.5:  # optional: absent half the time, else one of its alternatives
            out.append(_render(node[1][int(rng.integers(len(node[1])))], rng))
    return "".join(out)


def expand(template: str, rng: np.random.Generator) -> str:
    """One random expansion, with whitespace collapsed."""
    seq, _ = _parse(template, 0, None)
    return " ".join(_render(seq, rng).split())


def stable_fraction(*parts: object) -> float:
    """A number in [0, 1) fixed by its arguments (not by Python's salted hash)."""
    digest = hashlib.sha1("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
