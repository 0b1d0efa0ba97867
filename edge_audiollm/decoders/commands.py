"""A default command grammar for the intents of intents.json, with short slot value
lists in their canonical forms. Small on purpose: grammar decoding is the fast,
closed-vocabulary path; open requests go to the LLM.
"""

from __future__ import annotations

import json
from importlib import resources

from ..errors import DecoderError
from .grammar import Grammar

_NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "ten": 10, "fifteen": 15,
        "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}

RULES = {
    "duration": {**{f"{w} minutes": n * 60 for w, n in _NUM.items() if n > 1}, "one minute": 60,
                 "an hour": 3600, "half an hour": 1800, "thirty seconds": 30, "ten seconds": 10},
    "time": {"six": "06:00", "seven": "07:00", "seven thirty": "07:30", "eight": "08:00",
             "six in the morning": "06:00", "seven in the evening": "19:00", "noon": "12:00"},
    "date": ["today", "tomorrow", "monday", "friday", "saturday", "sunday"],
    "room": ["kitchen", "bedroom", "living room", "hallway", "bathroom", "office"],
    "location": ["berlin", "london", "paris", "tokyo", "new york"],
    "level": {"ten percent": 10, "twenty percent": 20, "fifty percent": 50, "eighty percent": 80},
    "temperature": {"eighteen degrees": 18, "twenty degrees": 20, "twenty one degrees": 21,
                    "twenty two degrees": 22},
    "device": ["tv", "fan", "heater", "radio", "coffee machine"],
    "door": ["front door", "back door", "garage"],
    "genre": ["jazz", "rock", "classical", "pop"],
    "opening": ["window", "blinds", "garage door", "curtains"],
}

TEMPLATES = {
    "set_timer": ["set a timer for <duration>", "start a <duration> timer"],
    "cancel_timer": ["(cancel | stop) the timer"],
    "set_alarm": ["(set an alarm for | wake me up at) <time> [<date>]"],
    "time_query": ["what time is it"],
    "weather": ["what is the weather [in <location>] [<date>]"],
    "lights_on": ["turn on the lights [in the <room>]"],
    "lights_off": ["turn off the lights [in the <room>]"],
    "lights_dim": ["dim the lights to <level> [in the <room>]"],
    "device_on": ["turn on the <device> [in the <room>]"],
    "device_off": ["turn off the <device> [in the <room>]"],
    "set_temperature": ["set the temperature to <temperature> [in the <room>]"],
    "play_music": ["play [some] <genre> [music] [in the <room>]", "play music"],
    "stop_music": ["stop the music"],
    "next_track": ["(next | skip this) song"],
    "volume_up": ["turn it up", "volume up"],
    "volume_down": ["turn it down", "volume down"],
    "volume_set": ["set the volume to <level:level>"],
    "lock": ["lock the <door>"],
    "unlock": ["unlock the <door>"],
    "open": ["open the <device:opening>"],
    "close": ["close the <device:opening>"],
}


def load_intents() -> dict:
    """The packaged intents.json (read on call, never at import)."""
    try:
        text = resources.files("edge_audiollm").joinpath("intents.json").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError) as exc:
        raise DecoderError(f"cannot read the packaged intents.json ({exc}); reinstall the package") from exc
    return json.loads(text)


def command_grammar(templates: dict | None = None, rules: dict | None = None,
                    intents: dict | None = None) -> Grammar:
    """Build the command grammar, checked against the intent schema: every template's
    intent must exist and fill all of its required slots, and no unknown slot."""
    templates = TEMPLATES if templates is None else templates
    rules = RULES if rules is None else rules
    schema = (intents or load_intents())["intents"]
    grammar = Grammar.from_templates(templates, rules)
    for ph in grammar.phrases:
        spec = schema.get(ph.intent)
        if spec is None:
            raise DecoderError(f"grammar intent {ph.intent!r} is not in intents.json")
        names = {n for n, _ in ph.slots}
        missing = set(spec["required"]) - names
        unknown = names - set(spec["required"]) - set(spec["optional"])
        if missing or unknown:
            raise DecoderError(f"grammar phrase {ph.text!r} ({ph.intent}) has slots {sorted(names)}; "
                               f"missing {sorted(missing)}, unknown {sorted(unknown)}")
    return grammar
