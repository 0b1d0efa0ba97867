"""Spoken commands for the intents.json domain, each labelled with intent and canonical slots.

Variety comes from a template grammar per intent (word orders, questions vs imperatives), polite
forms and fillers around imperatives, and slot values spoken as words (spoken.py).

Generalisation is tested by holding out about `heldout_fraction` of the templates and of the
open-class slot values (rooms, devices, cities, list items, numbers ...): train/valid never use
them; test may. The choice is a stable hash of (seed, item), so it is the same in every run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .grammar import expand, stable_fraction
from edge_audiollm.numwords import int_to_words
from .spoken import WEEKDAYS, date_forms, duration_forms, number_forms, time_forms

INTENTS_JSON = Path(__file__).resolve().parents[2] / "edge_audiollm" / "intents.json"
TRANSCRIPT_RE = re.compile(r"^[a-z']+( [a-z']+)*$")


@dataclass(frozen=True)
class Command:
    text: str
    intent: str
    slots: dict
    template: str
    novel: bool  # uses a held-out template or slot value


@dataclass(frozen=True)
class CommandOptions:
    seed: int = 0
    heldout_fraction: float = 0.15
    unknown_weight: float = 2.0  # relative to each in-domain intent (there are 24)
    polite_prob: float = 0.3
    filler_prob: float = 0.12


# ---------------------------------------------------------------------------------------------
# vocabularies (open classes, held out in part)

ROOMS = ("kitchen", "living room", "bedroom", "bathroom", "hallway", "office", "garage", "dining room",
         "basement", "attic", "nursery", "guest room", "laundry room", "study", "porch", "kids room",
         "master bedroom", "upstairs bathroom", "den", "playroom", "hall", "lounge", "spare room",
         "front room", "back room", "workshop", "library", "conservatory", "utility room", "entrance")
DEVICES = ("television", "fan", "heater", "coffee maker", "dishwasher", "radio", "air conditioner",
           "humidifier", "kettle", "printer", "washing machine", "space heater", "air purifier",
           "dehumidifier", "ceiling fan", "speaker", "computer", "oven", "toaster", "microwave",
           "dryer", "electric blanket", "projector", "sprinkler", "pool pump", "robot vacuum",
           "hot tub", "fireplace", "lamp", "christmas tree")
OPENABLES = ("blinds", "curtains", "window", "garage door", "gate", "shutters", "skylight",
             "front gate", "bedroom window", "kitchen blinds", "living room curtains", "roof window",
             "awning", "sunroof", "patio door", "back gate")
DOORS = ("front door", "back door", "garage door", "side door", "patio door", "basement door",
         "door", "office door", "shed", "gate", "cellar door", "kitchen door")
CITIES = ("berlin", "london", "paris", "new york", "tokyo", "madrid", "rome", "chicago", "boston",
          "seattle", "denver", "dublin", "edinburgh", "sydney", "toronto", "vancouver", "lisbon",
          "oslo", "vienna", "prague", "amsterdam", "san francisco", "los angeles", "miami", "austin",
          "cairo", "nairobi", "mumbai", "delhi", "singapore", "beijing", "seoul", "moscow",
          "stockholm", "helsinki", "athens", "mexico city", "lima", "buenos aires", "montreal",
          "glasgow", "manchester", "liverpool", "zurich", "geneva", "munich", "hamburg", "warsaw",
          "budapest", "copenhagen")
GENRES = ("jazz", "rock", "classical", "hip hop", "pop", "country", "blues", "reggae", "folk",
          "soul", "funk", "metal", "punk", "techno", "disco", "gospel", "salsa", "ambient",
          "lullabies", "piano", "opera", "indie", "swing", "bluegrass")
ARTISTS = ("the beatles", "miles davis", "bach", "mozart", "beethoven", "nina simone", "bob marley",
           "adele", "elvis presley", "johnny cash", "aretha franklin", "louis armstrong",
           "ella fitzgerald", "frank sinatra", "queen", "abba", "david bowie", "bob dylan",
           "stevie wonder", "madonna", "prince", "chopin", "vivaldi", "duke ellington",
           "john coltrane", "dolly parton", "the rolling stones", "pink floyd", "fleetwood mac",
           "ray charles", "billie holiday", "taylor swift", "coldplay", "radiohead", "debussy")
TASKS = ("call my mother", "take out the trash", "buy milk", "water the plants", "pick up the kids",
         "feed the cat", "walk the dog", "pay the rent", "call the dentist", "take my medicine",
         "check the oven", "send the report", "book a doctor's appointment", "move the car",
         "charge my phone", "call grandma", "pick up the dry cleaning", "stretch", "drink some water",
         "lock the shed", "return the library books", "renew my passport", "email my boss",
         "buy a birthday present", "clean the bathroom", "go to the gym", "bring an umbrella",
         "start dinner", "practice the piano", "call the plumber", "put the bins out", "do my homework",
         "check the mail", "pack my lunch", "turn off the oven", "order more coffee", "study for the exam",
         "change the sheets", "defrost the chicken", "meditate")
ITEMS = ("milk", "eggs", "bread", "butter", "apples", "rice", "cheese", "coffee", "tea", "sugar",
         "flour", "bananas", "tomatoes", "potatoes", "onions", "garlic", "carrots", "chicken", "pasta",
         "yogurt", "orange juice", "cereal", "honey", "olive oil", "toilet paper", "soap", "shampoo",
         "toothpaste", "batteries", "light bulbs", "dish soap", "paper towels", "lemons", "spinach",
         "salmon", "beans", "peanut butter", "jam", "cookies", "chocolate", "ice cream", "oranges",
         "grapes", "lettuce", "cucumbers", "mushrooms", "salt", "pepper", "cat food", "dog food",
         "sunscreen", "socks", "tape", "candles", "napkins", "avocados", "strawberries", "crackers")
LISTS = ("shopping", "grocery", "to do", "packing", "christmas", "hardware store", "party", "camping",
         "wish", "birthday", "weekend", "holiday")

# Out-of-domain fillers (labelled unknown: never slots)
TOPICS = ("dragons", "space", "pirates", "a brave mouse", "dinosaurs", "robots", "the ocean",
          "a lost dog", "knights", "volcanoes", "the moon", "a haunted house", "penguins", "ghosts")
PEOPLE = ("albert einstein", "marie curie", "the president", "shakespeare", "napoleon", "cleopatra",
          "isaac newton", "ada lovelace", "the queen", "abraham lincoln", "nelson mandela", "galileo")
COUNTRIES = ("france", "japan", "brazil", "canada", "australia", "egypt", "norway", "kenya", "peru",
             "italy", "germany", "india", "mexico", "spain", "chile", "ireland")
NAMES = ("john", "sarah", "mike", "emma", "david", "lisa", "tom", "anna", "my brother", "my boss",
         "mom", "dad", "alex", "maria")
LANGUAGES = ("french", "spanish", "german", "italian", "japanese", "chinese", "russian", "portuguese")
WORDS = ("hello", "thank you", "good morning", "where is the station", "cheese", "goodbye", "i love you")
THINGS = ("mount everest", "the eiffel tower", "a giraffe", "the empire state building", "a blue whale",
          "the statue of liberty", "big ben")


# ---------------------------------------------------------------------------------------------
# templates. "!" marks an imperative that may take a polite prefix or suffix; "~" a verbless
# command ("lights off") that only takes a suffix ("lights off please").

TEMPLATES: dict[str, tuple[str, ...]] = {
    "set_timer": (
        "!(set|start|create|make) a timer for {duration}",
        "!(set|start) a {duration} timer",
        "~timer for {duration}",
        "!(count down|countdown) {duration}",
        "!(start|set) a (countdown|count down) for {duration}",
        "~time {duration} (for me|)",
        "i need a timer for {duration}",
        "(let me know|tell me) when {duration} (is up|have passed|has passed)",
        "!set the timer to {duration}",
        "!give me {duration} on the timer",
        "!put a timer on for {duration}",
        "!(remind|alert) me in {duration}",
    ),
    "cancel_timer": (
        "!(cancel|stop|delete|remove|clear) the timer",
        "!(cancel|stop|delete|turn off|kill) my timer",
        "!(cancel|stop|delete|clear) (all|all of) my timers",
        "(never mind|forget) the timer",
        "!(turn|switch) off the timer",
        "i don't need the timer (anymore|any more)",
        "!(get rid of|cancel) the (countdown|count down)",
        "~timer off",
        "!stop the (countdown|count down)",
    ),
    "set_alarm": (
        "!wake me [up] at {time} [{date}]",
        "!(set|create|make) an alarm for {time} [{date}]",
        "!set (an|the|my) alarm (for|at) {time}",
        "!set (an|the|my) alarm for {date} at {time}",
        "i (need|want|have) to (get up|be up|wake up) at {time} [{date}]",
        "~(alarm|an alarm) at {time} [{date}]",
        "{date} wake me [up] at {time}",
        "!(get|wake) me up at {time} [{date}]",
        "can you wake me [up] at {time} [{date}]",
        "!put an alarm on for {time} [{date}]",
        "!(schedule|add) an alarm (at|for) {time}",
    ),
    "set_reminder": (
        "!remind me to {task}",
        "!remind me to {task} at {time}",
        "!remind me to {task} {date}",
        "!remind me {date} to {task}",
        "!remind me at {time} to {task}",
        "!remind me {date} at {time} to {task}",
        "!remind me to {task} {date} at {time}",
        "!(set|create|add) a reminder to {task}",
        "!(set|create|add) a reminder (for|at) {time} to {task}",
        "(don't let me|do not let me) forget to {task}",
        "i need to remember to {task} [{date}]",
        "!(make sure|ensure) i {task} [{date}]",
        "at {time} remind me to {task}",
        "{date} remind me to {task}",
    ),
    "time_query": (
        "what time is it [(right now|now|please)]",
        "what's the time [(right now|now|please)]",
        "do you (know|have) the time",
        "(can|could) you tell me the time",
        "!tell me the time",
        "what time (is it|have we got|do we have)",
        "(what's|what is) the (current|) time",
        "have you got the time",
        "how late is it",
        "time (check|please)",
    ),
    "weather": (
        "(what's|what is|how's|how is) the weather [(like|going to be|)] [in {location}] [{date}]",
        "what (will the weather be|is the weather going to be) [like] in {location} [{date}]",
        "(will it (rain|snow|be sunny|be cold|be windy|be hot)|is it (raining|snowing|sunny|cold|windy|hot)) [in {location}] [{date}]",
        "is it going to (rain|snow|be sunny|be cold|be hot) [in {location}] [{date}]",
        "(how cold|how warm|how hot) (is it|will it be) [in {location}] [{date}]",
        "do i need (an umbrella|a coat|sunscreen|a jacket) [{date}]",
        "!(give me|tell me) the (weather|forecast) [for {location}] [{date}]",
        "(what's|what is) the forecast [for {location}] [{date}]",
        "weather [in {location}] [{date}]",
        "{date} weather [in {location}]",
        "what's it like outside [in {location}]",
        "(should|do) i (take|bring) an umbrella [{date}]",
    ),
    "lights_on": (
        "!(turn|switch|put) on the lights [in the {room}]",
        "!(turn|switch|put) on the {room} (lights|light)",
        "!(turn|switch) the (lights|light) on [in the {room}]",
        "!(turn|switch) the {room} (lights|light) on",
        "~lights on [in the {room}]",
        "~{room} lights on",
        "(can|could) i (get|have) some light [in the {room}]",
        "it's (too dark|dark) in (here|the {room})",
        "!light up the {room}",
        "!(illuminate|brighten up) the {room}",
        "in the {room} (turn|switch) the lights on",
        "!(turn|switch) on [all] the lights",
    ),
    "lights_off": (
        "!(turn|switch|shut) off the lights [in the {room}]",
        "!(turn|switch|shut) off the {room} (lights|light)",
        "!(turn|switch|shut) the (lights|light) off [in the {room}]",
        "!(turn|switch) the {room} (lights|light) off",
        "~lights off [in the {room}]",
        "~{room} lights off",
        "!kill the lights [in the {room}]",
        "in the {room} (turn|switch) the lights off",
        "!(turn|switch) off [all] the lights",
        "!(make it dark|darkness) in the {room}",
        "we don't need the lights [in the {room}] (anymore|any more)",
    ),
    "lights_dim": (
        "!dim the lights to {level} [in the {room}]",
        "!dim the {room} lights to {level}",
        "!(set|put|turn) the lights to {level} [in the {room}]",
        "!(set|put|turn) the {room} (lights|light) to {level}",
        "~(lights|brightness) (at|to) {level} [in the {room}]",
        "!(change|set) the brightness [in the {room}] to {level}",
        "~{room} lights (at|to) {level}",
        "!(bring|take) the lights down to {level} [in the {room}]",
    ),
    "device_on": (
        "!(turn|switch|power) on the {device} [in the {room}]",
        "!(turn|switch|power) the {device} on [in the {room}]",
        "!(turn|switch) on the {room} {device}",
        "!(start|start up|fire up) the {device} [in the {room}]",
        "~{device} on [in the {room}]",
        "(can|could) you (turn|switch) on the {device} [in the {room}]",
        "i want the {device} on [in the {room}]",
        "in the {room} (turn|switch) on the {device}",
    ),
    "device_off": (
        "!(turn|switch|power|shut) off the {device} [in the {room}]",
        "!(turn|switch|power|shut) the {device} off [in the {room}]",
        "!(turn|switch) off the {room} {device}",
        "!(stop|shut down) the {device} [in the {room}]",
        "~{device} off [in the {room}]",
        "(can|could) you (turn|switch) off the {device} [in the {room}]",
        "i don't need the {device} [in the {room}] (anymore|any more)",
        "in the {room} (turn|switch) off the {device}",
    ),
    "set_temperature": (
        "!(set|change|put) the (temperature|thermostat|heating) to {temperature} [in the {room}]",
        "!(set|change) the {room} (temperature|thermostat) to {temperature}",
        "!make it {temperature} [in the {room}]",
        "!(heat|cool) the {room} to {temperature}",
        "i (want|would like|'d like) it [to be] {temperature} [in the {room}]",
        "!(turn|put) the heat (up|down) to {temperature} [in the {room}]",
        "~thermostat (to|at) {temperature}",
        "!keep the {room} at {temperature}",
    ),
    "play_music": (
        "!play [some] music",
        "!play [some] {genre} [music] [in the {room}]",
        "!put on [some] {genre} [music] [in the {room}]",
        "!play [some] {artist} [in the {room}]",
        "!play (something|a song|some songs|music) by {artist} [in the {room}]",
        "i (want|would like|'d like) to (hear|listen to) [some] {genre} [music]",
        "i (want|would like|'d like) to (hear|listen to) {artist}",
        "!(start|put on) [some] music [in the {room}]",
        "!play {genre} by {artist}",
        "!play [some] music in the {room}",
        "(how about|what about) some {genre}",
        "!(give me|let's have) some {genre} [in the {room}]",
    ),
    "stop_music": (
        "!(stop|pause|end) the music",
        "!(stop|pause) (playing|the song|the playback|playback)",
        "!(turn|switch|shut) off the music",
        "!(stop|pause) [it] (now|)",
        "~music off",
        "(enough|that's enough) music",
        "!(kill|cut) the music",
        "i don't want (any|) music (anymore|any more|right now|)",
    ),
    "next_track": (
        "~(next|skip) (song|track)",
        "~(skip|skip this) [song|track]",
        "!play the next (song|track|one)",
        "!(go to|jump to) the next (song|track)",
        "!skip (ahead|forward) [a track]",
        "i don't like this (song|track) skip it",
        "!(change|switch) the (song|track)",
        "~next one",
    ),
    "volume_up": (
        "!turn (it|the volume|the music|the sound) up",
        "!turn up the (volume|music|sound)",
        "!(increase|raise) the volume",
        "~volume up",
        "~(louder|a bit louder|make it louder)",
        "i can't hear (it|that|the music)",
        "!(pump|crank) (it|the volume) up",
        "!make the (music|sound) louder",
    ),
    "volume_down": (
        "!turn (it|the volume|the music|the sound) down",
        "!turn down the (volume|music|sound)",
        "!(decrease|lower|reduce) the volume",
        "~volume down",
        "~(quieter|a bit quieter|make it quieter)",
        "(it's|that's) too loud",
        "!make the (music|sound) (quieter|softer)",
        "!keep it down",
    ),
    "volume_set": (
        "!(set|change|put|turn) the volume to {volume}",
        "~volume {volume}",
        "~volume (to|at) {volume}",
        "!(make|set) it volume {volume}",
        "!(set|put) the (sound|speaker) (level|) to {volume}",
        "i want the volume at {volume}",
    ),
    "add_to_list": (
        "!(add|put) {items} (to|on) (my|the) {list} list",
        "!(add|put) {items} on my {list} list",
        "(my|the) {list} list (add|needs) {items}",
        "i need {items} on (my|the) {list} list",
        "(we're|we are) out of {items} add (it|them) to the {list} list",
        "!(write down|note down|jot down) {items} on the {list} list",
        "!(include|add) {items} in (my|the) {list} list",
        "!(can you|) add {items} to (my|the) {list} list",
        "on the {list} list (add|put) {items}",
    ),
    "calculate": (
        "(what's|what is) {expression}",
        "what does {expression} (equal|make|come to)",
        "!(calculate|compute|work out) {expression}",
        "how much is {expression}",
        "what's the answer to {expression}",
        "{expression}",
        "(can|could) you (work out|calculate|tell me) {expression}",
        "what do you get (for|from) {expression}",
        "{expression} (equals|is) what",
        "quick (math|maths) {expression}",
    ),
    "lock": (
        "!lock the {door}",
        "!lock up the {door}",
        "!(make sure|check) the {door} is locked",
        "is the {door} locked lock it",
        "!(secure|bolt) the {door}",
        "!lock the {door} (now|for the night|)",
        "the {door} needs (to be locked|locking)",
    ),
    "unlock": (
        "!unlock the {door}",
        "!(open up|unbolt) the {door} lock",
        "!unlock the {door} (now|for me|)",
        "!let me in through the {door}",
        "the {door} (needs to be|should be) unlocked",
        "!(disable|release) the lock on the {door}",
    ),
    "open": (
        "!open the {openable}",
        "!open (up|) the {openable} (now|please|)",
        "!(raise|pull up|lift) the {openable}",
        "(can|could) you open the {openable}",
        "i want the {openable} open",
        "!let some (air|light) in open the {openable}",
        "the {openable} (should be|needs to be) open",
    ),
    "close": (
        "!close the {openable}",
        "!(shut|close) the {openable} (now|please|)",
        "!(lower|pull down|draw) the {openable}",
        "(can|could) you close the {openable}",
        "i want the {openable} (closed|shut)",
        "the {openable} (should be|needs to be) (closed|shut)",
    ),
    "unknown": (
        "!tell me a (joke|story|fun fact|riddle) [about {topic}]",
        "who (is|was) {person}",
        "what's the capital of {country}",
        "how (tall|old|big|far away) is {thing}",
        "!(send|write) a (message|text|email) to {name}",
        "!call {name}",
        "!translate {word} into {language}",
        "what's the meaning of life",
        "!(order|get me) a (pizza|taxi|coffee|sandwich)",
        "!book a (table|flight|hotel room|haircut) for (tomorrow|friday|next week)",
        "how do you say {word} in {language}",
        "what's on (my calendar|tv tonight|the news)",
        "how many (minutes|seconds|hours) are (there|) in a (day|week|year)",
        "!(sing|play) me a (song|lullaby) you wrote",
        "what (should|can) i (cook|make) for dinner",
        "!recommend a (book|movie|restaurant) [about {topic}]",
        "who won the (game|match|election) (last night|yesterday)",
        "what's (your name|your favourite colour|the date of easter)",
        "how do i (fix a flat tyre|make pancakes|tie a tie|change a light bulb)",
        "are you (a robot|awake|listening|happy)",
        "!spell {word}",
        "why is the sky blue",
        "(i'm|i am) (bored|hungry|tired|sad)",
        "what does {word} mean in {language}",
        "!find my (phone|keys|glasses)",
        "!(buy|order) {item} online",
        "how much does {thing} weigh",
        "!turn me into a (frog|pirate)",
        "!open a (bank account|new tab|savings account)",
        "what is (love|time travel|a black hole)",
        "!(look up|search for) {topic}",
        "do you (dream|sleep|like music)",
        "(thanks|thank you|cheers) (that's all|) ",
        "(hello|hi|good morning|good evening) [how are you]",
    ),
}

_POLITE_PREFIX = ("please", "could you", "can you", "would you", "could you please", "can you please",
                  "would you please", "i'd like you to", "i want you to", "go ahead and", "kindly",
                  "hey can you", "okay")
_POLITE_SUFFIX = ("please", "for me", "thanks", "thank you", "now", "right now", "for me please",
                  "if you can", "if you don't mind", "when you get a chance")
_FILLERS = ("um", "uh", "hey", "okay", "so", "hmm", "well", "right", "oh", "alright", "er")


@dataclass
class _Fill:
    words: str
    slot: str | None = None
    value: object = None
    novel: bool = False


@dataclass
class CommandGenerator:
    """Draws labelled commands; `allow_heldout=False` for train/valid."""

    options: CommandOptions = field(default_factory=CommandOptions)

    def __post_init__(self) -> None:
        intents = list(TEMPLATES)
        weights = np.array([self.options.unknown_weight if i == "unknown" else 1.0 for i in intents])
        self._intents = intents
        self._weights = weights / weights.sum()

    # -- held-out bookkeeping
    def heldout(self, kind: str, item: object) -> bool:
        return stable_fraction(self.options.seed, kind, item) < self.options.heldout_fraction

    def _templates(self, intent: str, allow_heldout: bool) -> list[str]:
        ts = list(TEMPLATES[intent])
        kept = [t for t in ts if allow_heldout or not self.heldout("template", t)]
        return kept or ts[:1]

    def _pick(self, kind: str, values, rng, allow_heldout: bool):
        pool = [v for v in values if allow_heldout or not self.heldout(kind, v)]
        pool = pool or list(values)
        v = pool[int(rng.integers(len(pool)))]
        return v, self.heldout(kind, v)

    # -- slot fillers
    def _fill(self, name: str, rng: np.random.Generator, allow: bool) -> _Fill:
        pick = lambda kind, values: self._pick(kind, values, rng, allow)  # noqa: E731
        if name in ("room", "device", "openable", "door", "location", "genre", "artist", "task", "list"):
            vocab = {"room": ROOMS, "device": DEVICES, "openable": OPENABLES, "door": DOORS,
                     "location": CITIES, "genre": GENRES, "artist": ARTISTS, "task": TASKS, "list": LISTS}[name]
            v, novel = pick(name, vocab)
            slot = "device" if name == "openable" else name
            return _Fill(v, slot, v, novel)
        if name == "duration":
            return self._duration(rng, allow)
        if name == "time":
            return self._time(rng, allow)
        if name == "date":
            d = ("today", "tomorrow", *WEEKDAYS)[int(rng.integers(9))]
            forms = date_forms(d)
            return _Fill(forms[int(rng.integers(len(forms)))], "date", d)
        if name in ("level", "volume"):
            return self._level(name, rng, allow)
        if name == "temperature":
            n, novel = pick("temperature", tuple(range(10, 32)))
            forms = number_forms(n, "degrees")
            return _Fill(forms[int(rng.integers(len(forms)))], "temperature", n, novel)
        if name == "items":
            k = int(rng.choice([1, 1, 2, 2, 2, 3]))
            chosen: list[str] = []
            novel = False
            while len(chosen) < k:
                v, nv = pick("item", ITEMS)
                if v not in chosen:
                    chosen.append(v)
                    novel |= nv
            words = chosen[0] if k == 1 else " ".join(chosen[:-1]) + " and " + chosen[-1]
            return _Fill(words, "items", chosen, novel)
        if name == "expression":
            return self._expression(rng, allow)
        # unknown-intent fillers: spoken, never labelled
        vocab = {"topic": TOPICS, "person": PEOPLE, "country": COUNTRIES, "name": NAMES, "word": WORDS,
                 "language": LANGUAGES, "thing": THINGS, "item": ITEMS}[name]
        v, novel = pick(name, vocab)
        return _Fill(v, None, None, novel)

    def _duration(self, rng, allow) -> _Fill:
        # Redraw the value until one of its phrasings is allowed, so train never sees held-out ones.
        for _ in range(100):
            r = rng.random()
            if r < 0.25:
                secs = int(rng.choice([5, 10, 15, 20, 25, 30, 40, 45, 50, 60, 75, 90, 120, 150]))
            elif r < 0.75:
                secs = 60 * int(rng.integers(1, 61))
            elif r < 0.9:
                secs = int(rng.choice([900, 1800, 2700, 3600, 5400, 7200, 9000, 10800, 14400]))
            else:
                secs = 3600 * int(rng.integers(1, 4)) + 60 * int(rng.choice([5, 10, 15, 20, 30, 40, 45]))
            forms = [f for f in duration_forms(secs) if allow or not self.heldout("duration", f)]
            if forms:
                break
        f = forms[int(rng.integers(len(forms)))]
        return _Fill(f, "duration", secs, self.heldout("duration", f))

    def _time(self, rng, allow) -> _Fill:
        for _ in range(100):
            hour = int(rng.integers(1, 13))
            minute = int(rng.choice([0, 0, 0, 15, 30, 30, 45, 5, 10, 20, 25, 35, 40, 50, 55])
                         if rng.random() < 0.85 else rng.integers(0, 60))
            forms = [f for f in time_forms(hour, minute) if allow or not self.heldout("time", f[0])]
            if forms:
                break
        words, label = forms[int(rng.integers(len(forms)))]
        return _Fill(words, "time", label, self.heldout("time", words))

    def _level(self, name, rng, allow) -> _Fill:
        percent = name == "level" or rng.random() < 0.4
        values = tuple(range(0, 101, 5)) + (1, 2, 3, 33, 66, 75, 99) if percent else tuple(range(0, 11))
        n, novel = self._pick(f"{name}{percent}", values, rng, allow)
        words = int_to_words(n) + (" percent" if percent else "")
        return _Fill(words, "level", n, novel)

    def _expression(self, rng, allow) -> _Fill:
        ops = (("plus", "+"), ("minus", "-"), ("times", "*"), ("multiplied by", "*"),
               ("divided by", "/"), ("add", "+"), ("take away", "-"), ("over", "/"))
        (word, sym), novel = self._pick("op", ops, rng, allow)
        hi = 20 if sym in "*/" and rng.random() < 0.7 else (100 if rng.random() < 0.8 else 1000)
        a, b = int(rng.integers(0, hi + 1)), int(rng.integers(1 if sym == "/" else 0, hi + 1))
        if word == "add":
            words = f"{int_to_words(a)} and {int_to_words(b)} added together"
        else:
            words = f"{int_to_words(a)} {word} {int_to_words(b)}"
        return _Fill(words, "expression", f"{a}{sym}{b}", novel)

    # -- assembly
    def _decorate(self, text: str, mark: str, rng) -> str:
        o = self.options
        if mark in "!~" and mark and rng.random() < o.polite_prob:
            if mark == "!" and rng.random() < 0.6:
                text = f"{_POLITE_PREFIX[int(rng.integers(len(_POLITE_PREFIX)))]} {text}"
            else:
                text = f"{text} {_POLITE_SUFFIX[int(rng.integers(len(_POLITE_SUFFIX)))]}"
        if rng.random() < o.filler_prob:
            text = f"{_FILLERS[int(rng.integers(len(_FILLERS)))]} {text}"
        return text

    def sample_intent(self, rng: np.random.Generator) -> str:
        return self._intents[int(rng.choice(len(self._intents), p=self._weights))]

    def sample(self, rng: np.random.Generator, allow_heldout: bool, intent: str | None = None) -> Command:
        if intent is None:
            intent = self.sample_intent(rng)
        templates = self._templates(intent, allow_heldout)
        template = templates[int(rng.integers(len(templates)))]
        text = expand(template.lstrip("!~"), rng)
        slots: dict = {}
        novel = self.heldout("template", template)
        for name in re.findall(r"\{(\w+)\}", text):
            f = self._fill(name, rng, allow_heldout)
            text = text.replace("{" + name + "}", f.words, 1)
            novel |= f.novel
            if f.slot is not None and intent != "unknown":
                slots[f.slot] = f.value
        text = " ".join(self._decorate(text, template[:1], rng).split())
        return Command(text=text, intent=intent, slots=slots, template=template, novel=bool(novel))


def load_intent_schema(path: Path = INTENTS_JSON) -> dict:
    return json.loads(Path(path).read_text())["intents"]


def label_errors(cmd: Command, schema: dict) -> list[str]:
    """Why a command's label disagrees with intents.json (empty when it agrees)."""
    errs = []
    spec = schema.get(cmd.intent)
    if spec is None:
        return [f"unknown intent {cmd.intent}"]
    if not TRANSCRIPT_RE.match(cmd.text):
        errs.append(f"transcript has characters outside [a-z' ]: {cmd.text!r}")
    allowed = {**spec["required"], **spec["optional"]}
    for name in spec["required"]:
        if name not in cmd.slots:
            errs.append(f"missing required slot {name}")
    for name, value in cmd.slots.items():
        kind = allowed.get(name)
        if kind is None:
            errs.append(f"slot {name} not allowed for {cmd.intent}")
        elif kind in ("duration", "number") and not isinstance(value, int):
            errs.append(f"{name}={value!r} is not an int")
        elif kind == "time" and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", str(value)):
            errs.append(f"{name}={value!r} is not HH:MM")
        elif kind == "date" and value not in ("today", "tomorrow", *WEEKDAYS):
            errs.append(f"{name}={value!r} is not a date")
        elif kind == "text" and not (isinstance(value, str) and TRANSCRIPT_RE.match(value)):
            errs.append(f"{name}={value!r} is not lowercase text")
        elif kind == "list" and not (isinstance(value, list) and all(TRANSCRIPT_RE.match(v) for v in value)):
            errs.append(f"{name}={value!r} is not a list of text")
        elif kind == "expression" and not re.fullmatch(r"\d+[-+*/]\d+", str(value)):
            errs.append(f"{name}={value!r} is not an expression")
    return errs
