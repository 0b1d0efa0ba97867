"""Word and character error rates, with an English normaliser applied to both sides.

Systems write the same speech differently ("Mr. Dashwood", "10 meters", "1990"), while our
references are spoken lowercase words ("mister dashwood", "ten meters", "nineteen ninety").
Scoring raw strings would measure spelling conventions, not recognition, so both the reference
and the hypothesis go through `normalize()` first:

- NFKC, lowercase, curly quotes to straight ones;
- bracketed annotations removed ("[noise]", "<sil>", "(music)"), as Whisper's own normaliser does;
- numbers to words: integers ("10" -> "ten", "1,000" -> "one thousand"), years ("1990" ->
  "nineteen ninety", "2005" -> "two thousand five", "2026" -> "twenty twenty six"), ordinals
  ("21st" -> "twenty first"), decimals ("3.5" -> "three point five"), percentages, currency,
  clock times ("7:05" -> "seven oh five", "7:00" -> "seven"), decades ("1990s"), and
  "am"/"pm"/"a.m." -> "a m" (the corpus spells them as letters);
- "hundred and five" -> "hundred five" on both sides, so "and" inside numbers does not count;
- a few abbreviations spelled out (mr -> mister, ...), okay/ok unified, fillers (um, uh) dropped;
- hyphens to spaces, punctuation removed, apostrophes kept only inside words ("don't");
- whitespace collapsed.

Error rates are aggregated over a group: total edits / total reference words (or characters),
never a mean of per-utterance rates, so long utterances weigh what they contain. A reference
with no words (the corpus's silence and noise clips) has a denominator of one: every word a
system writes there is an insertion.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

# ---------------------------------------------------------------------------- numbers as words

from .numwords import _ONES, _SCALES, _TENS, digits_to_words, int_to_words, ordinal_words  # noqa: F401

_NUMBER_WORDS = frozenset(_ONES + _TENS[2:] + ["hundred"] + [name for _, name in _SCALES])


def year_to_words(n: int) -> str:
    """How a four-digit number that looks like a year is said: in pairs, or 'two thousand five'."""
    high, low = divmod(n, 100)
    if 2000 <= n <= 2009 or n % 1000 == 0:
        return int_to_words(n)
    if low == 0:
        return int_to_words(high) + " hundred"
    if low < 10:
        return int_to_words(high) + " oh " + _ONES[low]
    return int_to_words(high) + " " + int_to_words(low)


def _looks_like_year(n: int) -> bool:
    # 1010..2099: read in pairs ("1066" -> "ten sixty six"), which is also correct speech for a
    # quantity ("1500 meters" -> "fifteen hundred meters"). 1000..1009 stay "one thousand (n)";
    # 2000..2009 are "two thousand (n)" either way (year_to_words knows).
    return 1010 <= n <= 2099


def _plural(words: str) -> str:
    """'nineteen ninety' -> 'nineteen nineties', 'six' -> 'sixes' (for '1990s', '6s')."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + ("es" if last.endswith("x") else "s")
    return f"{head} {last}".strip()


def _number(token: str) -> str:
    """Words for a run of digits, possibly with thousands commas."""
    plain = token.replace(",", "")
    if len(plain) > 1 and plain.startswith("0"):
        return digits_to_words(plain)
    n = int(plain)
    if "," not in token and len(plain) == 4 and _looks_like_year(n):
        return year_to_words(n)
    return int_to_words(n)


def _decimal(whole: str, frac: str) -> str:
    return f"{_number(whole)} point {digits_to_words(frac)}"


def _money(m: re.Match, unit: str, cents_unit: str) -> str:
    """'$5.50' -> 'five dollars fifty cents', '$1' -> 'one dollar', '$2.125' -> 'two point one two five dollars'."""
    whole, frac = m.group(1), m.group(2)
    if frac and len(frac) != 2:
        return _decimal(whole, frac) + f" {unit}"
    words = _number(whole) + " " + (unit[:-1] if whole == "1" else unit)
    if frac and int(frac):
        words += f" {int_to_words(int(frac))} " + (cents_unit[:-1] if frac == "01" and cents_unit.endswith("s") else cents_unit)
    return words


def _clock(m: re.Match) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    if minute == 0:
        return int_to_words(hour)
    if minute < 10:
        return f"{int_to_words(hour)} oh {_ONES[minute]}"
    return f"{int_to_words(hour)} {int_to_words(minute)}"


_NUM = r"\d+(?:,\d{3})*"
_RULES: tuple[tuple[re.Pattern, object], ...] = (
    # Order matters: the specific shapes (money, times, decimals) before plain integers.
    (re.compile(rf"\$\s?({_NUM})(?:\.(\d+))?"), lambda m: " " + _money(m, "dollars", "cents") + " "),
    (re.compile(rf"£\s?({_NUM})(?:\.(\d+))?"), lambda m: " " + _money(m, "pounds", "pence") + " "),
    (re.compile(rf"€\s?({_NUM})(?:\.(\d+))?"), lambda m: " " + _money(m, "euros", "cents") + " "),
    (re.compile(r"\b(\d{1,2}):(\d{2})\b"), lambda m: " " + _clock(m) + " "),
    (re.compile(rf"(?<![\d.])({_NUM})\.(\d+)(?![\d.]*\d)"), lambda m: " " + _decimal(m.group(1), m.group(2)) + " "),
    (re.compile(rf"(?<![\w.])-({_NUM})"), lambda m: " minus " + m.group(1)),
    (re.compile(r"%"), lambda m: " percent "),
    (re.compile(r"°\s?([cf])\b"), lambda m: " degrees " + {"c": "celsius", "f": "fahrenheit"}[m.group(1)] + " "),
    (re.compile(r"°"), lambda m: " degrees "),
    (re.compile(r"\b(\d+)(?:st|nd|rd|th)\b"), lambda m: " " + ordinal_words(int(m.group(1))) + " "),
    (re.compile(r"\b(\d+)'?s\b"), lambda m: " " + _plural(_number(m.group(1))) + " "),
    (re.compile(rf"{_NUM}"), lambda m: " " + _number(m.group(0)) + " "),
)

# ---------------------------------------------------------------------------- words and punctuation

# Only unambiguous ones: "st" (saint / street) and "ms" (miss / milliseconds) stay as written.
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "ok": "okay", "vs": "versus", "etc": "et cetera"}
_FILLERS = frozenset({"um", "uh", "umm", "uhm", "hmm", "mm", "mmm", "mhm", "er", "erm"})
_BRACKETED = re.compile(r"\[[^\]]*\]|<[^>]*>|\([^)]*\)")
_DOTTED = re.compile(r"\b(?:[a-z]\.){2,}")  # "a.m.", "u.s.": letters, as the corpus spells them
_HUNDRED_AND = re.compile(r"\b(hundred|thousand|million|billion|trillion) and (?=(?:" + "|".join(
    sorted(_NUMBER_WORDS - {"hundred", "thousand", "million", "billion", "trillion", "quadrillion"}, key=len, reverse=True)
) + r")\b)")


def normalize(text: str) -> str:
    """Spoken-form lowercase words separated by single spaces (see the module docstring)."""
    # NFKD then dropping combining marks: "café" -> "cafe" rather than "caf".
    s = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    s = _BRACKETED.sub(" ", s)
    s = _DOTTED.sub(lambda m: " " + " ".join(m.group(0).replace(".", "")) + " ", s)
    s = s.replace("&", " and ").replace("+", " plus ").replace("@", " at ")
    for pattern, repl in _RULES:
        s = pattern.sub(repl, s)
    s = re.sub(r"[-\u2010-\u2015_/]", " ", s)  # hyphens and dashes separate words
    s = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", s)  # apostrophes survive only inside words
    s = re.sub(r"[^a-z' ]+", " ", s)
    words: list[str] = []
    for w in s.split():
        if w in _FILLERS:
            continue
        if w == "pm" or (w == "am" and words and (words[-1] in _NUMBER_WORDS or words[-1] == "o'clock")):
            words += [w[0], "m"]  # "7 pm" -> "seven p m"; "am" only after a number, else it is the verb
        else:
            words.append(_ABBREVIATIONS.get(w, w))
    return _HUNDRED_AND.sub(r"\1 ", " ".join(words))


# ---------------------------------------------------------------------------- edit distance


@dataclass(frozen=True)
class EditCounts:
    """Levenshtein alignment of a hypothesis against a reference of `ref_len` units."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    ref_len: int = 0

    @property
    def edits(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        # Empty reference: denominator one, so a hallucinated word counts as one error.
        return self.edits / max(self.ref_len, 1)

    def __add__(self, other: "EditCounts") -> "EditCounts":
        return EditCounts(self.substitutions + other.substitutions, self.deletions + other.deletions,
                          self.insertions + other.insertions, self.ref_len + other.ref_len)


def edit_counts(ref: Sequence, hyp: Sequence) -> EditCounts:
    """Minimum edits turning `ref` into `hyp`, split into substitutions, deletions and insertions.

    One row of the DP table at a time, each cell carrying (cost, subs, dels, ins): O(len(ref) *
    len(hyp)) time, O(len(hyp)) memory, fast enough in pure Python for utterances of a few
    hundred words or a few thousand characters. Ties prefer a substitution, then a deletion.
    """
    n = len(hyp)
    prev = [(j, 0, 0, j) for j in range(n + 1)]  # empty ref -> j insertions
    for i, r in enumerate(ref, 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, n + 1):
            d = prev[j - 1]
            if r == hyp[j - 1]:
                best = d
            else:
                best = (d[0] + 1, d[1] + 1, d[2], d[3])
                up = prev[j]
                if up[0] + 1 < best[0]:
                    best = (up[0] + 1, up[1], up[2] + 1, up[3])
                left = cur[j - 1]
                if left[0] + 1 < best[0]:
                    best = (left[0] + 1, left[1], left[2], left[3] + 1)
            cur.append(best)
        prev = cur
    _, s, d, ins = prev[n]
    return EditCounts(s, d, ins, len(ref))


def word_counts(ref: str, hyp: str, *, normalized: bool = False) -> EditCounts:
    if not normalized:
        ref, hyp = normalize(ref), normalize(hyp)
    return edit_counts(ref.split(), hyp.split())


def char_counts(ref: str, hyp: str, *, normalized: bool = False) -> EditCounts:
    """Characters of the normalised text, single spaces between words included (as jiwer counts them)."""
    if not normalized:
        ref, hyp = normalize(ref), normalize(hyp)
    return edit_counts(ref, hyp)


def wer(ref: str, hyp: str) -> float:
    return word_counts(ref, hyp).rate


def cer(ref: str, hyp: str) -> float:
    return char_counts(ref, hyp).rate


@dataclass(frozen=True)
class GroupScore:
    """Error rates over a set of utterances: total edits / total reference units."""

    words: EditCounts
    chars: EditCounts
    utterances: int

    @property
    def wer(self) -> float:
        return self.words.rate

    @property
    def cer(self) -> float:
        return self.chars.rate


def score(pairs: Iterable[tuple[str, str]]) -> GroupScore:
    """Aggregate WER and CER over (reference, hypothesis) pairs."""
    words, chars, n = EditCounts(), EditCounts(), 0
    for ref, hyp in pairs:
        r, h = normalize(ref), normalize(hyp)
        words = words + word_counts(r, h, normalized=True)
        chars = chars + char_counts(r, h, normalized=True)
        n += 1
    return GroupScore(words, chars, n)
