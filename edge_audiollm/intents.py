"""The intent domain (intents.json, shipped in the package) and the check that turns an
LLM's JSON output into a valid {"intent", "slots"} pair.

A model can emit anything; what leaves the package is always a known intent with slots
of the declared names in their canonical types, or "unknown" with no slots.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from . import spoken_values

SCHEMA_PATH = Path(__file__).parent / "intents.json"
UNKNOWN = "unknown"
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_EXPR_RE = re.compile(r"^\d+(?:[+\-*/]\d+)+$")
_DATES = {"today", "tomorrow", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def intent_names() -> list[str]:
    return list(schema()["intents"])


def canonical_slot(kind: str, value):
    """Value in its canonical form, or None when it cannot be one."""
    if kind in ("duration", "number"):
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)) and float(value).is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        return None
    if kind == "time":
        return value if isinstance(value, str) and _TIME_RE.match(value) else None
    if kind == "date":
        return value if isinstance(value, str) and value in _DATES else None
    if kind == "text":
        return " ".join(value.lower().split()) or None if isinstance(value, str) else None
    if kind == "list":
        if not isinstance(value, list):
            return None
        items = [" ".join(str(v).lower().split()) for v in value if isinstance(v, str) and v.strip()]
        return items or None
    if kind == "expression":
        return value if isinstance(value, str) and _EXPR_RE.match(value) else None
    return None


def validate(intent, slots) -> tuple[str, dict]:
    spec = schema()["intents"].get(intent) if isinstance(intent, str) else None
    if spec is None or not isinstance(slots, dict):
        return UNKNOWN, {}
    kinds = {**spec["required"], **spec["optional"]}
    clean = {}
    for name, value in slots.items():
        if name in kinds:
            v = canonical_slot(kinds[name], value)
            if v is not None:
                clean[name] = v
    if any(name not in clean for name in spec["required"]):
        return UNKNOWN, {}
    return intent, clean


# What reads each value kind from a transcript's words (edge_audiollm/spoken_values.py).
_READERS = {"duration": spoken_values.duration_seconds, "time": spoken_values.clock_time,
            "expression": spoken_values.expression, "number": spoken_values.level_number,
            "date": spoken_values.spoken_date}


def fill_from_transcript(intent, slots, transcript: str) -> dict:
    """The intent's number, time, duration, expression and date slots as the transcript's
    words say them, over what the model wrote: the model picks the intent and copies text, the
    arithmetic ("quarter to five in the afternoon" -> "16:45") is done exactly here. A slot the
    words do not hold keeps the model's value when the intent requires it, and is dropped when
    it is optional (the model read only these words: a time they never say is invented)."""
    spec = schema()["intents"].get(intent) if isinstance(intent, str) else None
    if spec is None or not isinstance(slots, dict) or not transcript.strip():
        return slots
    out = dict(slots)
    for name, kind in {**spec["required"], **spec["optional"]}.items():
        reader = _READERS.get(kind)
        if reader is None:
            continue
        value = reader(transcript)
        if value is not None:
            out[name] = value
        elif name in spec["optional"]:
            out.pop(name, None)  # a time or date the words never say is the model's invention
    return out


def parse_model_output(text: str, transcript: str | None = None) -> tuple[str, dict]:
    """Parse '{"intent": ..., "slots": {...}}' as the LLM writes it; anything else is unknown.
    With the transcript the LLM read, value slots are read from its words (fill_from_transcript)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return UNKNOWN, {}
    try:
        obj = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return UNKNOWN, {}
    if not isinstance(obj, dict):
        return UNKNOWN, {}
    slots = obj.get("slots", {})
    if transcript:
        slots = fill_from_transcript(obj.get("intent"), slots, transcript)
    return validate(obj.get("intent"), slots)
