"""Values read from a transcript's words, checked against the corpus builder's own spoken forms
(models/data/spoken.py writes every phrasing with its canonical label: an independent generator)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_audiollm import intents, spoken_values as sv
from edge_audiollm.numwords import int_to_words
from models.data.spoken import duration_forms, time_forms


@given(st.integers(min_value=0, max_value=999_999))
def test_every_cardinal_reads_back(n):
    words = int_to_words(n).split()
    assert sv.read_number(words, 0) == (n, len(words))


def test_spoken_and_forms_and_where_numbers_end():
    w = "one hundred and twenty eight added together".split()
    assert sv.read_number(w, 0) == (128, 5)
    assert sv.read_number(w, 0, allow_and=False) == (100, 2)
    assert sv.read_number("five five".split(), 0) == (5, 1)
    assert sv.read_number("twenty twelve".split(), 0) == (20, 1)
    assert sv.read_number("a hundred".split(), 0) == (100, 2)
    assert sv.read_number("a cat".split(), 0) is None


def test_every_generated_clock_time_reads_as_its_label():
    wrong = [(spoken, label, sv.clock_time("wake me at " + spoken))
             for h in range(1, 13) for m in range(60) for spoken, label in time_forms(h, m)
             if sv.clock_time("wake me at " + spoken) != label]
    assert wrong == []


def test_every_generated_duration_reads_as_its_seconds():
    wrong = [(f, s) for s in list(range(1, 7300)) + [9900, 12000, 3600 * 3 + 1800]
             for f in duration_forms(s) if sv.duration_seconds(f"set a timer for {f}") != s]
    assert wrong == []


@pytest.mark.parametrize("text", ["remind me to call two friends", "from five to six", "set a timer for ten minutes",
                                  "what time is it", "play track one"])
def test_no_clock_time_where_none_is_said(text):
    assert sv.clock_time(text) is None


@pytest.mark.parametrize("text, expected", [
    ("could you calculate thirty seven divided by thirty five", "37/35"),
    ("what's the answer to fourteen and seventy four added together", "14+74"),
    ("one hundred and twenty eight added together is what", "100+28"),
    ("quick maths zero minus fifty five", "0-55"),
    ("what is nine take away three", "9-3"),
    ("eight hundred forty three multiplied by two", "843*2"),
    ("turn on the lights", None),
])
def test_expressions(text, expected):
    assert sv.expression(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("cool the conservatory to twenty seven for me", 27), ("dim the lights to fifty percent", 50),
    ("hey i would like it to be fifteen degrees", 15), ("volume up", None),
])
def test_levels(text, expected):
    assert sv.level_number(text) == expected


def test_dates_only_when_one_is_named():
    assert sv.spoken_date("remind me on friday to buy milk") == "friday"
    assert sv.spoken_date("is it monday or tuesday") is None
    assert sv.spoken_date("wake me at six") is None


def test_the_words_correct_the_models_arithmetic_and_inventions():
    raw = '{"intent":"set_alarm","slots":{"time":"17:45","date":"monday"}}'
    assert intents.parse_model_output(raw) == ("set_alarm", {"time": "17:45", "date": "monday"})
    heard = "can you wake me up at quarter to five in the afternoon"
    assert intents.parse_model_output(raw, transcript=heard) == ("set_alarm", {"time": "16:45"})
    # a required value the words do not hold keeps the model's answer
    assert intents.parse_model_output('{"intent":"set_timer","slots":{"duration":60}}', "start the timer") == (
        "set_timer", {"duration": 60})
    # text slots stay the model's
    raw = '{"intent":"set_reminder","slots":{"task":"buy milk","time":"05:00"}}'
    assert intents.parse_model_output(raw, "remind me to buy milk") == ("set_reminder", {"task": "buy milk"})
