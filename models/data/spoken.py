"""Slot values as spoken words, each with its canonical label (intents.json `canonical_forms`).

Every function returns all the phrasings we generate for one value, so tests can check
that a given phrasing maps to the right label, and generators pick among them at random.
"""

from __future__ import annotations

from edge_audiollm.numwords import int_to_words

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _plural(n: int, unit: str) -> str:
    return f"{int_to_words(n)} {unit}" + ("" if n == 1 else "s")


def duration_forms(seconds: int) -> list[str]:
    """Spoken forms of a duration; the label is the integer `seconds`."""
    forms: list[str] = []
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if seconds < 60:
        forms.append(_plural(seconds, "second"))
    if seconds % 60 == 0 and seconds < 3600 * 2:
        mins = seconds // 60
        forms.append(_plural(mins, "minute"))
        if mins == 1:
            forms += ["a minute", "one minute"]
    if rem == 0 and h >= 1:
        forms.append(_plural(h, "hour"))
        if h == 1:
            forms += ["an hour", "one hour"]
    if h >= 1 and m and not s:
        hours = "an hour" if h == 1 else _plural(h, "hour")
        forms.append(f"{hours} and {_plural(m, 'minute')}")
        forms.append(f"{_plural(h, 'hour')} {_plural(m, 'minute')}")
    if not h and m and s:
        mins = "a minute" if m == 1 else _plural(m, "minute")
        forms.append(f"{mins} and {_plural(s, 'second')}")
    if 60 < seconds <= 120 and seconds % 60:
        forms.append(_plural(seconds, "second"))
    # halves and quarters
    if seconds == 30:
        forms.append("half a minute")
    if seconds == 90:
        forms += ["a minute and a half", "one and a half minutes"]
    if seconds == 900:
        forms += ["a quarter of an hour", "quarter of an hour", "a quarter hour"]
    if seconds == 1800:
        forms += ["half an hour", "a half hour"]
    if seconds == 2700:
        forms += ["three quarters of an hour", "forty five minutes"]
    if seconds == 5400:
        forms += ["an hour and a half", "one and a half hours"]
    if seconds % 60 == 30 and 120 < seconds < 1200:
        forms.append(f"{int_to_words(seconds // 60)} and a half minutes")
    if seconds % 3600 == 1800 and seconds > 3600:
        forms.append(f"{int_to_words(seconds // 3600)} and a half hours")
    return list(dict.fromkeys(forms))


def _minute_words(minute: int) -> str:
    if minute == 0:
        return "o'clock"
    if minute < 10:
        return "oh " + int_to_words(minute)
    return int_to_words(minute)


# (suffix words, which hours 1..12 it may follow, how it maps the hour)
_AM = ("a m", range(1, 13), "am")
_PM = ("p m", range(1, 13), "pm")
_HALF_DAY = (
    _AM, _PM,
    ("in the morning", range(1, 12), "am"),
    ("in the afternoon", (12, 1, 2, 3, 4, 5), "pm"),
    ("in the evening", range(5, 12), "pm"),
    ("tonight", range(6, 12), "pm"),
    ("at night", range(8, 12), "pm"),
)


def _label(hour12: int, minute: int, half: str | None) -> str:
    if half == "am":
        hour = hour12 % 12
    elif half == "pm":
        hour = hour12 % 12 + 12
    else:
        hour = hour12  # no half-of-day word: keep the spoken hour (canonical_forms)
    return f"{hour:02d}:{minute:02d}"


def time_forms(hour12: int, minute: int) -> list[tuple[str, str]]:
    """(spoken, 'HH:MM') pairs for a clock time given as spoken hour 1..12 and minute."""
    bases: list[str] = [f"{int_to_words(hour12)} {_minute_words(minute)}"]
    if minute == 0:
        bases.append(int_to_words(hour12))
    if minute == 30:
        bases.append(f"half past {int_to_words(hour12)}")
    if minute == 15:
        bases.append(f"quarter past {int_to_words(hour12)}")
        bases.append(f"a quarter past {int_to_words(hour12)}")
    if minute in (5, 10, 20, 25):
        bases.append(f"{int_to_words(minute)} past {int_to_words(hour12)}")
    nxt = hour12 % 12 + 1  # "quarter to seven" is spoken with the next hour
    if minute == 45:
        bases.append(f"quarter to {int_to_words(nxt)}")
        bases.append(f"a quarter to {int_to_words(nxt)}")
    if minute in (35, 40, 50, 55):
        bases.append(f"{int_to_words(60 - minute)} to {int_to_words(nxt)}")

    out: list[tuple[str, str]] = []
    for base in bases:
        # The half-of-day word applies to the hour the phrase names ("quarter to one p m" = 12:45).
        spoken_hour = nxt if " to " in f" {base} " else hour12
        out.append((base, _label(hour12, minute, None)))
        if spoken_hour == 12 and hour12 == 11:
            continue  # "quarter to twelve p m" is 11:45 a m: too easy to mislabel, not generated
        for words, hours, half in _HALF_DAY:
            if spoken_hour in hours:
                out.append((f"{base} {words}", _label(hour12, minute, half)))
    if hour12 == 12 and minute == 0:
        out += [("noon", "12:00"), ("midday", "12:00"), ("midnight", "00:00")]
    return out


def date_forms(date: str) -> list[str]:
    """Spoken forms of 'today', 'tomorrow' or a weekday; the label is `date` itself."""
    if date in ("today", "tomorrow"):
        return [date]
    return [f"on {date}", f"this {date}", date]


def number_forms(n: int, unit: str = "") -> list[str]:
    words = int_to_words(n)
    if unit == "percent":
        return [f"{words} percent"]
    if unit == "degrees":
        return [f"{words} degrees", words]
    return [words]
