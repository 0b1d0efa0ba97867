"""General English sentences from Debian text packages, normalised to spoken lowercase words.

Sources (all free): `fortunes` (fortune cookies), `wordnet-base` (glosses and their example
sentences), `bible-kjv` (KJV verses, read with the `bible` program), `dict-gcide` (quotations
in the 1913 Webster). Each is read on demand; a missing package just contributes nothing.
A small built-in list keeps tests working on a machine without any of them.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_audiollm.numwords import int_to_words, ordinal_words, year_to_words

FORTUNE_DIR = Path("/usr/share/games/fortunes")
WORDNET_DIR = Path("/usr/share/wordnet")
GCIDE = Path("/usr/share/dictd/gcide.dict.dz")
# Fortune files that are mostly ASCII art, code, or not meant to be read aloud.
_FORTUNE_SKIP = {"art", "ascii-art", "perl", "linux", "debian", "computers", "translate-me", "startrek",
                 "zippy", "drugs", "ethnic", "men-women", "politics"}

# Abbreviations that TTS engines expand in ways we cannot predict: sentences with them are dropped.
_ABBREV = re.compile(r"\b(mr|mrs|ms|dr|st|etc|e\.g|i\.e|vs|jr|sr|no|vol|ch|p|pp|ft|lb|oz|ca|cf|viz)\.", re.I)
_WORD_RE = re.compile(r"^[a-z]+('[a-z]+)?$")

FALLBACK_SENTENCES = (
    # Harvard sentences (IEEE 1969 recommended practice for speech quality measurements)
    "The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.", "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.", "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.", "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.", "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.", "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.", "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.", "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.", "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.", "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.", "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.", "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.", "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.", "Read verse out loud for pleasure.",
)


@dataclass(frozen=True)
class Sentence:
    text: str
    source: str


@dataclass(frozen=True)
class GeneralTextOptions:
    min_words: int = 3
    max_words: int = 20
    sources: tuple = ("fortunes", "wordnet", "bible", "gcide")


# ---------------------------------------------------------------------------------------------
# normalisation


def _number(m: re.Match) -> str:
    s = m.group(0)
    if re.fullmatch(r"\d+(st|nd|rd|th)", s):
        return " " + ordinal_words(int(re.sub(r"\D", "", s))) + " "
    if re.fullmatch(r"\d{1,2}:\d{2}", s):
        h, mm = s.split(":")
        words = int_to_words(int(h))
        mm_i = int(mm)
        words += "" if mm_i == 0 else (" oh " + int_to_words(mm_i) if mm_i < 10 else " " + int_to_words(mm_i))
        return " " + words + " "
    if re.fullmatch(r"\d+\.\d+", s):
        a, b = s.split(".")
        return " " + int_to_words(int(a)) + " point " + " ".join(int_to_words(int(d)) for d in b) + " "
    digits = s.replace(",", "")
    n = int(digits)
    if len(digits) == 4 and 1100 <= n <= 1999:
        return " " + year_to_words(n) + " "
    return " " + int_to_words(n) + " "


def spoken_words(text: str) -> str:
    """Lenient spoken form (for ASR hypotheses): numbers and symbols as words, the rest dropped."""
    t = text.replace("&", " and ").replace("%", " percent ").replace("+", " plus ").replace("=", " equals ")
    t = re.sub(r"(?<=\d)\s*[x\u00d7*]\s*(?=\d)", " times ", t)
    t = re.sub(r"\d+(?:,\d{3})+|\d+(?:st|nd|rd|th)\b|\d{1,2}:\d{2}|\d+\.\d+|\d+", _number, t)
    t = t.lower().replace("`", "'").replace("\u2019", "'")
    t = re.sub(r"\b([ap])\.m\.", r"\1 m", t)
    t = re.sub(r"[-/]", " ", t)
    t = re.sub(r"[^a-z' ]", " ", t)
    return " ".join(w.strip("'") for w in t.split() if w.strip("'"))


def normalise(text: str) -> str | None:
    """Spoken form: lowercase words and apostrophes, numbers spelled out; None if unspeakable."""
    if not text.isascii() or _ABBREV.search(text):
        return None
    if re.search(r"[$\u00a3#@*_<>=+]", text):
        return None  # currency and symbols are read in an order we would have to rewrite
    # Acronyms and roman numerals would be spelled letter by letter; we cannot label that.
    if re.search(r"\b[A-Z]{2,}\b", text.replace("I ", "  ")) and not text.isupper():
        return None
    words = spoken_words(text).split()
    if any(not _WORD_RE.match(w) for w in words):
        return None
    # Single letters other than a/i/o are usually initials or list markers.
    if any(len(w) == 1 and w not in ("a", "i", "o") for w in words):
        return None
    return " ".join(words) or None


def split_sentences(paragraph: str) -> list[str]:
    paragraph = " ".join(paragraph.split())
    return [s for s in re.split(r"(?<=[.!?;])\s+(?=[A-Z\"'(])", paragraph) if s]


# ---------------------------------------------------------------------------------------------
# sources


def _fortunes() -> list[str]:
    out: list[str] = []
    if not FORTUNE_DIR.is_dir():
        return out
    for f in sorted(FORTUNE_DIR.iterdir()):
        if f.suffix or f.name in _FORTUNE_SKIP or not f.is_file():
            continue
        for block in f.read_text(errors="replace").split("\n%\n"):
            lines = [ln for ln in block.splitlines() if ln.strip()]
            # Attribution lines ("-- Mark Twain") and indented verse/code are not prose.
            lines = [ln for ln in lines if not ln.strip().startswith("--")]
            if any(ln.startswith(("\t", "    ")) for ln in lines) or any(":" in ln[:12] for ln in lines):
                continue
            out.extend(split_sentences(" ".join(lines)))
    return out


def _wordnet() -> list[str]:
    out: list[str] = []
    for pos in ("noun", "verb", "adj", "adv"):
        path = WORDNET_DIR / f"data.{pos}"
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("  ") or " | " not in line:
                continue
            gloss = line.split(" | ", 1)[1]
            parts = [p.strip() for p in gloss.split(";")]
            for p in parts:
                if p.startswith('"'):
                    out.append(p.strip('"'))  # example sentence
                elif p:
                    out.append(p)  # the gloss itself, a phrase read as-is
    return out


def _bible() -> list[str]:
    exe = shutil.which("bible")
    if exe is None:
        return []
    try:
        text = subprocess.run([exe, "-l10000", "ge1:1-re22:21"], capture_output=True, text=True,
                              timeout=120, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    out = []
    for line in text.splitlines():
        m = re.match(r"^\s*\d+\s+(.*)$", line)
        if m:
            out.extend(split_sentences(m.group(1)))
    return out


def _gcide() -> list[str]:
    """Quotations: indented lines after a definition, ending in '--Author.'"""
    if not GCIDE.exists():
        return []
    text = gzip.open(GCIDE, "rt", encoding="utf-8", errors="replace").read()
    out = []
    for block in re.findall(r"\n((?: {10,}\S.*\n)+)", text):
        quote = " ".join(block.split())
        quote = re.sub(r"\s*--\s*[A-Z][^.]*\.?\s*$", "", quote)  # the author
        # Brackets are markup; digits are nearly always references ("Heb. i. 12").
        if re.search(r"[\[{\\\d]", quote):
            continue
        out.extend(split_sentences(quote))
    return out


_SOURCES = {"fortunes": _fortunes, "wordnet": _wordnet, "bible": _bible, "gcide": _gcide}


def load_sentences(options: GeneralTextOptions = GeneralTextOptions()) -> list[Sentence]:
    """All usable sentences, deduplicated by spoken form, in a fixed order."""
    seen: set[str] = set()
    out: list[Sentence] = []
    for name in options.sources:
        for raw in _SOURCES[name]():
            text = normalise(raw)
            if text is None or text in seen:
                continue
            if not options.min_words <= len(text.split()) <= options.max_words:
                continue
            seen.add(text)
            out.append(Sentence(text, name))
    if not out:
        for raw in FALLBACK_SENTENCES:
            text = normalise(raw)
            if text and text not in seen:
                seen.add(text)
                out.append(Sentence(text, "harvard"))
    return out


def balanced_sample(sentences: list[Sentence], n: int, rng: np.random.Generator) -> list[Sentence]:
    """n sentences drawn evenly across sources (a source with too few gives all it has)."""
    by_source: dict[str, list[Sentence]] = {}
    for s in sentences:
        by_source.setdefault(s.source, []).append(s)
    order = {k: list(rng.permutation(len(v))) for k, v in sorted(by_source.items())}
    out: list[Sentence] = []
    while len(out) < n and any(order.values()):
        for k in sorted(order):
            if order[k] and len(out) < n:
                out.append(by_source[k][order[k].pop()])
    return out
