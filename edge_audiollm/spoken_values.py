"""Slot values read from a transcript's words: durations, clock times, numbers, arithmetic
and dates in intents.json's canonical forms (inverse text normalisation, as duckling does).

A 3M-parameter LLM picks the intent and copies text slots well, but converting "quarter to
five in the afternoon" to "16:45" or "thirty two minutes" to 1920 is arithmetic, and there it
guesses. These functions do that part exactly. Each returns None when the words hold no such
value, so the caller keeps the LLM's answer then.
"""

from __future__ import annotations

import re

_ONES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i > 1}
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}
_DATES = ("today", "tomorrow", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# half-of-day phrases, longest first: what follows a clock time and decides am or pm
_HALF_DAY = (("in the morning", "am"), ("this morning", "am"), ("a m", "am"), ("am", "am"),
             ("in the afternoon", "pm"), ("this afternoon", "pm"), ("in the evening", "pm"),
             ("this evening", "pm"), ("at night", "pm"), ("tonight", "pm"), ("p m", "pm"), ("pm", "pm"))
_OPERATORS = (("multiplied by", "*"), ("divided by", "/"), ("take away", "-"), ("plus", "+"), ("add", "+"),
              ("minus", "-"), ("less", "-"), ("times", "*"), ("over", "/"))


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


def read_number(w: list[str], i: int, allow_and: bool = True) -> tuple[int, int] | None:
    """The longest cardinal number spoken from w[i]: (value, index after it), or None.
    'one hundred and twenty eight' -> 128 (with allow_and=False: 100); 'a hundred' -> 100;
    'five five' -> 5 (then 5 again)."""
    if i < len(w) and w[i].isdigit():
        return int(w[i]), i + 1
    total = cur = 0
    last = None  # kind of the last word taken: ones, teen, tens, hundred, thousand, and
    j = i
    while j < len(w):
        t = w[j]
        if t == "a" and last is None and w[j + 1: j + 2] in (["hundred"], ["thousand"]):
            cur, last = 1, "ones"
        elif t == "zero" and last is None:
            return 0, j + 1
        elif t in _ONES and _ONES[t] < 10 and last in (None, "tens", "hundred", "thousand", "and"):
            cur, last = cur + _ONES[t], "ones"
        elif t in _ONES and last in (None, "hundred", "thousand", "and"):
            cur, last = cur + _ONES[t], "teen"
        elif t in _TENS and last in (None, "hundred", "thousand", "and"):
            cur, last = cur + _TENS[t], "tens"
        elif t == "hundred" and last == "ones" and cur < 10:
            cur, last = cur * 100, "hundred"
        elif t == "thousand" and last in ("ones", "teen", "tens", "hundred"):
            total, cur, last = total + cur * 1000, 0, "thousand"
        elif (allow_and and t == "and" and last in ("hundred", "thousand") and j + 1 < len(w)
              and (w[j + 1] in _ONES or w[j + 1] in _TENS)):
            last = "and"  # "one hundred and five"
        else:
            break
        j += 1
    if last is None:
        return None
    return total + cur, j


def duration_seconds(text: str) -> int | None:
    """Every '<number> <unit>' term summed, with halves and quarters: 'two hours and forty five
    minutes' -> 9900, 'an hour and a half' -> 5400, 'half an hour' -> 1800."""
    w = _words(text)
    total, found, i = 0.0, False, 0
    while i < len(w):
        amount, j = None, i
        if w[i] in ("a", "an", "one") and i + 1 < len(w) and w[i + 1] in ("quarter", "half"):
            i += 1  # "a quarter of an hour", "a half hour"
        if w[i] == "quarter" or (w[i] == "quarters" and i > 0 and w[i - 1] == "three"):
            amount, j = (0.75 if w[i] == "quarters" else 0.25), i + 1
            if w[j: j + 2] in (["of", "an"], ["of", "a"]):
                j += 2
        elif w[i] == "half":
            amount, j = 0.5, i + 1
            if j < len(w) and w[j] in ("an", "a"):
                j += 1
        elif w[i] in ("a", "an") and i + 1 < len(w) and _unit(w[i + 1]):
            amount, j = 1.0, i + 1
        else:
            n = read_number(w, i)
            if n is not None:
                amount, j = float(n[0]), n[1]
                if w[j: j + 3] == ["and", "a", "half"]:
                    amount, j = amount + 0.5, j + 3
        unit = _unit(w[j]) if amount is not None and j < len(w) else None
        if unit is None:
            i += 1
            continue
        total += amount * _UNIT_SECONDS[unit]
        found, i = True, j + 1
        if w[i: i + 3] == ["and", "a", "half"]:  # "an hour and a half"
            total += 0.5 * _UNIT_SECONDS[unit]
            i += 3
    return int(round(total)) if found else None


def _unit(word: str) -> str | None:
    base = word[:-1] if word.endswith("s") else word
    return base if base in _UNIT_SECONDS else None


def clock_time(text: str) -> str | None:
    """The first clock time spoken, as 'HH:MM' (canonical_forms: am/pm words decide the half of
    the day; without one the spoken hour stays): 'quarter to five in the afternoon' -> '16:45'."""
    w = _words(text)
    for t in w:
        if t in ("noon", "midday"):
            return "12:00"
        if t == "midnight":
            return "00:00"
    for i in range(len(w)):
        got = _clock_at(w, i)
        if got is not None:
            (hour, minute), j = got
            half = _half_day(w, j)
            if half == "am":
                hour %= 12
            elif half == "pm":
                hour = hour % 12 + 12
            return f"{hour:02d}:{minute:02d}"
    return None


def _clock_at(w: list[str], i: int):
    """((spoken hour, minute), index after) for a clock phrase starting at w[i], else None."""
    start = i + 1 if w[i] == "a" and i + 1 < len(w) and w[i + 1] == "quarter" else i
    if start < len(w) and w[start] in ("quarter", "half") and start + 2 < len(w) and w[start + 1] in ("past", "to"):
        minutes = 15 if w[start] == "quarter" else 30
        return _relative(w, minutes, w[start + 1], start + 2)
    n = read_number(w, i)
    if n is None:
        return None
    value, j = n
    k = j + 1 if j < len(w) and w[j] == "minutes" else j  # "ten minutes past six"
    if k + 1 < len(w) and w[k] in ("past", "to") and 0 < value <= 30:
        # "ten to five" needs a clock cue ("at ten to five", "... a m"): "from five to six" is no time
        cue = i > 0 and w[i - 1] in ("at", "for", "until", "by")
        got = _relative(w, value, w[k], k + 1)
        if got is not None and (w[k] == "past" or cue or _half_day(w, got[1])):
            return got
    if k != j or not 1 <= value <= 12 or _is_part_of_number(w, i):
        return None  # "ten minutes" alone is a duration
    if j < len(w) and w[j] == "o'clock":
        return (value, 0), j + 1
    if j + 1 < len(w) and w[j] == "oh":
        m = read_number(w, j + 1)
        if m is not None and 1 <= m[0] <= 9:
            return (value, m[0]), m[1]
    m = read_number(w, j)
    if m is not None and 10 <= m[0] <= 59:
        return (value, m[0]), m[1]
    if _half_day(w, j) or (i > 0 and w[i - 1] in ("at", "for", "until") and not (j < len(w) and _unit(w[j]))):
        return (value, 0), j
    return None


def _is_part_of_number(w: list[str], i: int) -> bool:
    return i > 0 and (w[i - 1] in _TENS or w[i - 1] in ("hundred", "thousand"))


def _relative(w: list[str], minutes: int, direction: str, k: int):
    h = read_number(w, k)
    if h is None or not 1 <= h[0] <= 12:
        return None
    hour = h[0] if direction == "past" else (h[0] - 2) % 12 + 1  # "to five" is the hour before five
    minute = minutes if direction == "past" else 60 - minutes
    return (hour, minute), h[1]


def _half_day(w: list[str], j: int) -> str | None:
    for phrase, half in _HALF_DAY:
        p = phrase.split()
        if w[j: j + len(p)] == p:
            return half
    return None


def expression(text: str) -> str | None:
    """Binary arithmetic spoken: 'thirty seven divided by thirty five' -> '37/35',
    'fourteen and seventy four added together' -> '14+74'."""
    w = _words(text)
    for i in range(len(w)):
        a = read_number(w, i)
        if a is None or _is_part_of_number(w, i):
            continue
        j = a[1]
        for first in (a, read_number(w, i, allow_and=False)):  # "a hundred and five and two added together"
            k = first[1]
            b = read_number(w, k + 1) if w[k: k + 1] == ["and"] else None
            if b is not None and w[b[1]: b[1] + 2] == ["added", "together"]:
                return f"{first[0]}+{b[0]}"
        for words, sym in _OPERATORS:
            p = words.split()
            if w[j: j + len(p)] == p:
                b = read_number(w, j + len(p))
                if b is not None:
                    return f"{a[0]}{sym}{b[0]}"
    return None


def level_number(text: str) -> int | None:
    """A setting's number: the one before 'percent' or 'degrees', else the last one after 'to',
    'at' or 'be' ('cool the conservatory to twenty seven' -> 27)."""
    w = _words(text)
    found = None
    for i in range(len(w)):
        n = read_number(w, i)
        if n is None or _is_part_of_number(w, i):
            continue
        if n[1] < len(w) and w[n[1]] in ("percent", "degrees", "degree"):
            return n[0]
        if i > 0 and w[i - 1] in ("to", "at", "be"):
            found = n[0]
    return found


def spoken_date(text: str) -> str | None:
    """The date word when exactly one is spoken ('today', 'tomorrow' or a weekday)."""
    seen = {t for t in _words(text) if t in _DATES}
    return seen.pop() if len(seen) == 1 else None
