"""The voice assistant's action layer (examples/assistant) on real intent/slot dicts in the
canonical forms of edge_audiollm/intents.json: persistence across restarts, atomic saves under
SIGKILL, timers that fire on the real clock, and a calculator that refuses anything but arithmetic."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
from assistant import calc, state  # noqa: E402
from assistant.actions import Assistant, next_time, say_duration  # noqa: E402

INTENTS = json.loads((ROOT / "edge_audiollm" / "intents.json").read_text())


def test_every_intent_gets_a_reply_and_examples_act(tmp_path):
    a = Assistant(tmp_path / "s.json")
    for name, spec in INTENTS["intents"].items():
        assert a.handle(name, {}), name  # missing slots: a reply, never an exception
    for ex in INTENTS["examples"]:
        a.handle(ex["intent"], ex["slots"])
    s = state.load(tmp_path / "s.json")
    assert s["lists"]["shopping"] == ["apples", "rice"]
    assert s["home"]["hallway"]["lights"] == {"on": True, "level": 100}
    assert [t["seconds"] for t in s["timers"]] == [300]
    assert [al["time"] for al in s["alarms"]] == ["06:30"]
    assert a.handle("calculate", {"expression": "9+16"}) == "9 plus 16 is 25."
    assert "offline" in a.handle("weather", {"location": "berlin", "date": "friday"})
    assert a.handle("unknown", {}) == a.handle("no_such_intent", {"x": 1}) == "Sorry, I don't know how to help with that."


def test_state_survives_a_restart(tmp_path):
    path = tmp_path / "state.json"
    a = Assistant(path)
    assert a.handle("add_to_list", {"items": ["milk", "eggs"], "list": "shopping"}) == \
        "Added milk and eggs to the shopping list. It has 2 items."
    a.handle("lights_dim", {"level": 40, "room": "living room"})
    a.handle("lock", {"door": "front door"})
    a.handle("set_temperature", {"temperature": 21, "room": "bedroom"})
    a.handle("set_timer", {"duration": 3600})
    b = Assistant(path)  # a new process would do exactly this
    assert b.handle("add_to_list", {"items": ["eggs", "bread"], "list": "shopping"}).endswith("It has 3 items.")
    s = state.load(path)
    assert s["lists"] == {"shopping": ["milk", "eggs", "bread"]}
    assert s["home"]["living room"]["lights"] == {"on": True, "level": 40}
    assert s["home"]["home"]["front door"] == {"state": "locked"}
    assert s["home"]["bedroom"]["thermostat"] == {"target": 21}
    assert len(s["timers"]) == 1 and s["timers"][0]["due"] > time.time() + 3500


def test_timer_fires_once_on_the_real_clock_and_after_restart(tmp_path):
    path = tmp_path / "state.json"
    a = Assistant(path)
    assert a.handle("set_timer", {"duration": 1}) == "Timer set for 1 second."
    assert a.due() == []
    time.sleep(1.05)
    assert a.due() == ["Your timer for 1 second is done."]
    assert a.due() == []
    a.handle("set_timer", {"duration": 1})
    time.sleep(1.05)
    assert Assistant(path).due() == ["Your timer for 1 second is done."]  # fired by the restarted process
    assert state.load(path)["timers"] == []
    assert Assistant(path).handle("cancel_timer", {}) == "There is no timer running."


def test_alarm_and_reminder_times():
    now = dt.datetime(2026, 11, 24, 14, 0).timestamp()  # a Tuesday
    assert dt.datetime.fromtimestamp(next_time("06:30", None, now)) == dt.datetime(2026, 11, 25, 6, 30)
    assert dt.datetime.fromtimestamp(next_time("15:00", None, now)) == dt.datetime(2026, 11, 24, 15, 0)
    assert dt.datetime.fromtimestamp(next_time("08:00", "friday", now)) == dt.datetime(2026, 11, 27, 8, 0)
    assert dt.datetime.fromtimestamp(next_time("08:00", "tuesday", now)) == dt.datetime(2026, 12, 1, 8, 0)
    with pytest.raises(ValueError):
        next_time("25:00", None, now)
    assert say_duration(5400) == "1 hour and 30 minutes" and say_duration(61) == "1 minute and 1 second"


def test_bad_slots_get_a_reply(tmp_path):
    a = Assistant(tmp_path / "s.json")
    assert a.handle("set_timer", {"duration": "soon"}) == "I didn't catch how long the timer should run."
    assert a.handle("set_alarm", {"time": "7 o'clock"}) == "I didn't catch the time for the alarm."
    assert a.handle("lights_dim", {"level": 150}).startswith("I didn't catch the brightness")
    assert a.handle("add_to_list", {"items": "milk", "list": "shopping"}) == "I didn't catch what to add to which list."
    assert state.load(tmp_path / "s.json")["timers"] == []


@pytest.mark.parametrize("expr, value", [("12*14", 168), ("9+16", 25), ("7/2", 3.5), ("10-4*2", 2), ("-3+5", 2),
                                         ("(2+3)*4", 20), ("1/3", 1 / 3)])
def test_calculator_arithmetic(expr, value):
    assert calc.evaluate(expr) == pytest.approx(value)


@pytest.mark.parametrize("expr, reason", [
    ("__import__('os').system('touch /tmp/pwned')", "only do numbers"), ("2**64", "only do numbers"),
    ("9999999*9999999*9999999", "too large"), ("1/0", "dividing by zero"), ("abs(-1)", "only do numbers"),
    ("x+1", "only do numbers"), ("1+", "cannot read"), ("", "no expression"), ("1" * 101, "longer than"),
    ("True+1", "only do numbers"), ("[1]*3", "only do numbers"), ("1e999", "too large")])
def test_calculator_refuses_everything_else(expr, reason, tmp_path):
    with pytest.raises(calc.CalcError, match=reason):
        calc.evaluate(expr)
    assert Assistant(tmp_path / "s.json").handle("calculate", {"expression": expr}).startswith("Sorry, ")


_WRITER = """
import sys; sys.path.insert(0, sys.argv[2])
from assistant import state
big = ["item %d" % i for i in range(20000)]
i = 0
while True:
    state.save(sys.argv[1], {**state.empty_state(), "next_id": i, "lists": {"big": big}})
    i += 1
    if i == 3:
        print("writing", flush=True)
"""


def test_a_kill_mid_write_never_loses_the_state(tmp_path):
    path = tmp_path / "state.json"
    for delay in (0.05, 0.13, 0.21):
        p = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(ROOT / "examples")],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "writing"
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        s = state.load(path)  # whole: the old or the new version, never torn
        assert s["next_id"] >= 2 and len(s["lists"]["big"]) == 20000
        assert not list(tmp_path.glob(".state.json.*.tmp"))  # load() clears what the kill left


def test_a_damaged_state_file_is_one_clear_error(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(state.StateError, match="move it away"):
        Assistant(path)


def test_due_alerts_wait_for_the_end_of_an_utterance(tmp_path, monkeypatch):
    import importlib.util
    import types

    spec = importlib.util.spec_from_file_location("voice_assistant", ROOT / "examples" / "voice_assistant.py")
    va = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(va)
    a = Assistant(tmp_path / "s.json")
    a.handle("set_timer", {"duration": 1})
    monkeypatch.setattr(a, "now", lambda: time.time() + 5)
    said = []
    voice = types.SimpleNamespace(say=lambda text, kind: said.append((kind, text)))
    assert va.announce_due(a, types.SimpleNamespace(in_utterance=True), voice) == 0 and said == []
    assert va.announce_due(a, types.SimpleNamespace(in_utterance=False), voice) == 1
    assert said == [("fired", "Your timer for 1 second is done.")]
