"""Numbers as spoken English words (transcripts never contain digits)."""

from __future__ import annotations

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**15, "quadrillion"), (10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                      "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def int_to_words(n: int) -> str:
    """Cardinal words without 'and' or hyphens: 121 -> 'one hundred twenty one'."""
    if n < 0:
        return "minus " + int_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + int_to_words(rest))
    for scale, name in _SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            if high >= 1000 and scale == _SCALES[0][0]:
                break  # beyond our scales: read digit by digit below
            return int_to_words(high) + " " + name + ("" if rest == 0 else " " + int_to_words(rest))
    return digits_to_words(str(n))


def digits_to_words(digits: str) -> str:
    """'007' -> 'zero zero seven': codes, PINs and numbers with leading zeros are read digit by digit."""
    return " ".join(_ONES[int(d)] for d in digits)


def year_to_words(n: int) -> str:
    """Years are read in pairs: 1066 -> 'ten sixty six', 1900 -> 'nineteen hundred', 1905 -> 'nineteen oh five'."""
    if not 1100 <= n <= 1999:
        return int_to_words(n)
    high, low = divmod(n, 100)
    if low == 0:
        return int_to_words(high) + " hundred"
    if low < 10:
        return int_to_words(high) + " oh " + _ONES[low]
    return int_to_words(high) + " " + int_to_words(low)


def ordinal_words(n: int) -> str:
    """21 -> 'twenty first'."""
    words = int_to_words(n).split()
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        words[-1] = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)
