"""Intents and slots (canonical forms of edge_audiollm/intents.json) -> actions and a reply.

    a = Assistant("state.json")
    a.handle("set_timer", {"duration": 300})          # -> "Timer set for 5 minutes."
    a.due()                                           # -> replies of timers/alarms/reminders now due

Everything is offline: timers, alarms and reminders are due times in the state file (they fire
through due(), also after a restart); lists and smart-home devices are states in it. Slots that
are missing or malformed get a reply saying so, never an exception.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from . import calc, state

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HOME = "home"  # the room of devices said without one


def say_duration(seconds: int) -> str:
    parts, rest = [], int(seconds)
    for name, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        n, rest = divmod(rest, size)
        if n:
            parts.append(f"{n} {name}{'s' if n != 1 else ''}")
    return " and ".join(parts) if parts else "0 seconds"


def next_time(hhmm: str, date: str | None, now: float) -> float:
    """The epoch time of the next HH:MM on `date` ('today', 'tomorrow', a weekday, or None: the
    next one to come). Raises ValueError for a malformed slot."""
    hour, minute = (int(p) for p in str(hhmm).split(":"))
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(hhmm)
    base = dt.datetime.fromtimestamp(now)
    at = base.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if date in (None, ""):
        return (at if at.timestamp() > now else at + dt.timedelta(days=1)).timestamp()
    if date == "today":
        return at.timestamp()
    if date == "tomorrow":
        return (at + dt.timedelta(days=1)).timestamp()
    if date in WEEKDAYS:
        ahead = (WEEKDAYS.index(date) - base.weekday()) % 7
        if ahead == 0 and at.timestamp() <= now:
            ahead = 7
        return (at + dt.timedelta(days=ahead)).timestamp()
    raise ValueError(date)


def clock(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%H:%M")


def _text(slots: dict, name: str) -> str | None:
    v = slots.get(name)
    if not isinstance(v, str):
        return None
    return " ".join(v.lower().split()) or None


def _number(slots: dict, name: str, lo: float, hi: float) -> int | float | None:
    v = slots.get(name)
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        return None
    return int(v) if float(v).is_integer() else v


class Assistant:
    def __init__(self, path: str | Path, clock_fn=time.time):
        self.path = Path(path)
        self.now = clock_fn
        self.state = state.load(self.path)

    # ------------------------------------------------------------------ entry points
    def handle(self, intent: str, slots: dict | None) -> str:
        slots = slots if isinstance(slots, dict) else {}
        method = getattr(self, f"_do_{intent}", None) if isinstance(intent, str) else None
        reply = method(slots) if method else self._do_unknown(slots)
        state.save(self.path, self.state)
        return reply

    def due(self) -> list[str]:
        """Replies for every timer, alarm and reminder whose time has come (each fires once)."""
        now, out = self.now(), []
        for kind, say in (("timers", lambda t: f"Your timer for {say_duration(t['seconds'])} is done."),
                          ("alarms", lambda a: f"It is {a['time']}. This is your alarm."),
                          ("reminders", lambda r: f"Reminder: {r['task']}.")):
            keep = []
            for item in self.state[kind]:
                if item.get("due") is not None and item["due"] <= now:
                    out.append(say(item))
                else:
                    keep.append(item)
            self.state[kind] = keep
        if out:
            state.save(self.path, self.state)
        return out

    # ------------------------------------------------------------------ helpers
    def _new_id(self) -> int:
        self.state["next_id"] += 1
        return self.state["next_id"] - 1

    def _device(self, room: str | None, name: str) -> dict:
        return self.state["home"].setdefault(room or HOME, {}).setdefault(name, {})

    @staticmethod
    def _where(room: str | None) -> str:
        return f" in the {room}" if room else ""

    # ------------------------------------------------------------------ intents
    def _do_set_timer(self, slots):
        seconds = _number(slots, "duration", 1, 7 * 86400)
        if seconds is None:
            return "I didn't catch how long the timer should run."
        seconds = int(seconds)
        self.state["timers"].append({"id": self._new_id(), "seconds": seconds, "due": self.now() + seconds})
        return f"Timer set for {say_duration(seconds)}."

    def _do_cancel_timer(self, slots):
        n = len(self.state["timers"])
        self.state["timers"] = []
        return "There is no timer running." if n == 0 else f"Cancelled {n} timer{'s' if n > 1 else ''}."

    def _do_set_alarm(self, slots):
        try:
            due = next_time(slots.get("time"), slots.get("date"), self.now())
        except (ValueError, TypeError, AttributeError):
            return "I didn't catch the time for the alarm."
        when = dt.datetime.fromtimestamp(due)
        self.state["alarms"].append({"id": self._new_id(), "time": clock(due), "due": due})
        return f"Alarm set for {clock(due)} on {when.strftime('%A')}."

    def _do_set_reminder(self, slots):
        task = _text(slots, "task")
        if not task:
            return "I didn't catch what to remind you of."
        due = None
        if slots.get("time") or slots.get("date"):
            try:
                due = next_time(slots.get("time") or "09:00", slots.get("date"), self.now())
            except (ValueError, TypeError, AttributeError):
                return "I didn't catch when to remind you."
        self.state["reminders"].append({"id": self._new_id(), "task": task, "due": due})
        when = "" if due is None else f" at {clock(due)} on {dt.datetime.fromtimestamp(due).strftime('%A')}"
        return f"I'll remind you to {task}{when}."

    def _do_time_query(self, slots):
        return f"It is {clock(self.now())}."

    def _do_weather(self, slots):
        where = f" for {_text(slots, 'location')}" if _text(slots, "location") else ""
        return f"I can't tell the weather{where}: I work offline, with no weather service."

    def _lights(self, slots, on: bool, level: int | None = None):
        room = _text(slots, "room")
        lights = self._device(room, "lights")
        lights["on"] = on
        if level is not None:
            lights["level"] = level
        elif on:
            lights.setdefault("level", 100)
        return lights, room

    def _do_lights_on(self, slots):
        _, room = self._lights(slots, True)
        return f"Lights on{self._where(room)}."

    def _do_lights_off(self, slots):
        _, room = self._lights(slots, False)
        return f"Lights off{self._where(room)}."

    def _do_lights_dim(self, slots):
        level = _number(slots, "level", 0, 100)
        if level is None:
            return "I didn't catch the brightness, from 0 to 100 percent."
        _, room = self._lights(slots, level > 0, int(level))
        return f"Lights{self._where(room)} at {int(level)} percent."

    def _switch(self, slots, key: str, value: str, verb: str):
        name = _text(slots, key)
        if not name:
            return f"I didn't catch which {key} to {verb}."
        room = _text(slots, "room")
        self._device(room, name)["state"] = value
        return f"The {name}{self._where(room)} is {value}."

    def _do_device_on(self, slots):
        return self._switch(slots, "device", "on", "turn on")

    def _do_device_off(self, slots):
        return self._switch(slots, "device", "off", "turn off")

    def _do_lock(self, slots):
        return self._switch(slots, "door", "locked", "lock")

    def _do_unlock(self, slots):
        return self._switch(slots, "door", "unlocked", "unlock")

    def _do_open(self, slots):
        return self._switch(slots, "device", "open", "open")

    def _do_close(self, slots):
        return self._switch(slots, "device", "closed", "close")

    def _do_set_temperature(self, slots):
        degrees = _number(slots, "temperature", 5, 35)
        if degrees is None:
            return "I didn't catch a temperature between 5 and 35 degrees."
        room = _text(slots, "room")
        self._device(room, "thermostat")["target"] = degrees
        return f"Thermostat{self._where(room)} set to {degrees} degrees."

    def _do_play_music(self, slots):
        m = self.state["music"]
        m.update(playing=True, genre=_text(slots, "genre"), artist=_text(slots, "artist"), room=_text(slots, "room"))
        what = " ".join(x for x in (m["genre"], f"by {m['artist']}" if m["artist"] else None) if x) or "music"
        return f"Playing {what}{self._where(m['room'])}."

    def _do_stop_music(self, slots):
        self.state["music"]["playing"] = False
        return "Music stopped."

    def _do_next_track(self, slots):
        return "Next track." if self.state["music"]["playing"] else "No music is playing."

    def _volume(self, level: int) -> str:
        self.state["music"]["volume"] = max(0, min(100, int(level)))
        return f"Volume {self.state['music']['volume']} percent."

    def _do_volume_up(self, slots):
        return self._volume(self.state["music"]["volume"] + 10)

    def _do_volume_down(self, slots):
        return self._volume(self.state["music"]["volume"] - 10)

    def _do_volume_set(self, slots):
        level = _number(slots, "level", 0, 100)
        return "I didn't catch a volume from 0 to 100." if level is None else self._volume(level)

    def _do_add_to_list(self, slots):
        name = _text(slots, "list")
        items = slots.get("items")
        items = [" ".join(i.lower().split()) for i in items if isinstance(i, str) and i.strip()] \
            if isinstance(items, list) else []
        if not name or not items:
            return "I didn't catch what to add to which list."
        lst = self.state["lists"].setdefault(name, [])
        lst += [i for i in items if i not in lst]
        return f"Added {' and '.join(items)} to the {name} list. It has {len(lst)} item{'s' if len(lst) != 1 else ''}."

    def _do_calculate(self, slots):
        expr = slots.get("expression")
        try:
            value = calc.evaluate(expr)
        except calc.CalcError as exc:
            return f"Sorry, {exc}."
        return f"{calc.spoken(expr)} is {calc.format_number(value)}."

    def _do_unknown(self, slots):
        return "Sorry, I don't know how to help with that."
