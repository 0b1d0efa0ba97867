"""Deterministic corpus plan: which text, voice, prosody and augmentation each utterance gets.

Everything random is decided here from the seed, before any audio is made, so a build can be
interrupted and resumed (or run with any number of jobs) and give the same corpus.

Splits:
  train           train speakers, train texts (held-out templates and slot values never used)
  valid           train speakers, its own texts (never in train)
  test_synthetic  held-out speakers (whole persons), its own texts, which may use held-out
                  templates and values (`novel`); clean apart from level and padding
  test_noisy      the test_synthetic commands again, mixed with noise at a fixed SNR
Each of train, valid and test_synthetic also gets a few silence-only and noise-only clips
labelled text "" intent unknown, as hallucination guards.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from . import augment
from .grammar import stable_fraction
from .texts_general import Sentence, balanced_sample
from .texts_intents import CommandGenerator, CommandOptions
from .voices import Voice

SPLITS = ("train", "valid", "test_synthetic", "test_noisy")


@dataclass(frozen=True)
class PlanOptions:
    hours: float = 3.0  # speech to synthesise (train + valid + test_synthetic); test_noisy is derived
    seed: int = 0
    max_utterances: int | None = None  # cap on synthesised utterances, for quick runs
    command_fraction: float = 0.6  # of train/valid utterances; the rest are general sentences
    test_command_fraction: float = 2 / 3
    valid_fraction: float = 0.05  # of hours
    test_fraction: float = 0.12  # of hours
    test_speakers: tuple = ("ked", "pico_gb", "espeak_us_klatt4")
    test_noisy_snr_db: float = 10.0
    guard_fraction: float = 0.01  # silence/noise-only clips per split, at least guard_min
    guard_min: int = 2
    rate: tuple = (0.85, 1.2)
    pitch_semitones: tuple = (-2.0, 2.0)
    heldout_fraction: float = 0.15
    general_pool_fraction: float = 0.03  # share of sentences reserved for each of valid and test


@dataclass
class Item:
    id: str
    split: str
    kind: str  # command | general | silence | noise
    text: str
    intent: str
    slots: dict
    voice: str | None
    speaker: str | None
    rate: float
    pitch_semitones: float
    aug: augment.AugmentSpec
    clean_id: str | None  # the synthesised source (test_noisy reuses test_synthetic's)
    novel: bool = False
    text_source: str = ""
    duration_s: float = 0.0  # guard clips only: planned length

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["aug"] = dataclasses.asdict(self.aug)
        return d


@dataclass
class Plan:
    items: list[Item] = field(default_factory=list)
    train_voices: list[str] = field(default_factory=list)
    test_voices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def estimate_seconds(text: str) -> float:
    # About 3.5 words/s for these voices, 0.4 s padding from synthesis and ~0.4 s from augment.
    return 0.8 + 0.28 * len(text.split())


def choose_test_speakers(speakers: list[str], preferred: tuple) -> list[str]:
    """Held-out persons: the preferred ones that are present, else one of what is there,
    always leaving at least one speaker for training."""
    present = sorted(set(speakers))
    chosen = [s for s in preferred if s in present]
    if not chosen and len(present) >= 2:
        chosen = [present[-1]]
    while chosen and len(chosen) >= len(present):
        chosen.pop()
    return chosen


def _voice_picker(voices: list[Voice], weights: dict, rng: np.random.Generator):
    w = np.array([weights.get(v.name, 1.0) for v in voices], dtype=float)
    p = w / w.sum()
    return lambda: voices[int(rng.choice(len(voices), p=p))]


def make_plan(options: PlanOptions, voices: list[Voice], general: list[Sentence],
              voice_weights: dict | None = None) -> Plan:
    rng = np.random.default_rng(options.seed)
    weights = voice_weights or {}
    plan = Plan()

    test_speakers = choose_test_speakers([v.speaker for v in voices], options.test_speakers)
    test_v = [v for v in voices if v.speaker in test_speakers]
    train_v = [v for v in voices if v.speaker not in test_speakers]
    if not test_v:
        test_v = train_v
        plan.warnings.append("only one speaker available: test voices are not held out")
    plan.train_voices = [v.name for v in train_v]
    plan.test_voices = [v.name for v in test_v]

    # General sentences: disjoint pools by a stable hash of the text.
    pools: dict[str, list[Sentence]] = {"train": [], "valid": [], "test_synthetic": []}
    f = options.general_pool_fraction
    for s in general:
        u = stable_fraction(options.seed, "sentence", s.text)
        pools["test_synthetic" if u < f else "valid" if u < 2 * f else "train"].append(s)
    # Tiny sentence lists (the built-in fallback) may leave a pool empty: share round-robin.
    if general and not all(pools.values()):
        pools = {k: general[i::3] for i, k in enumerate(pools)}

    gen = CommandGenerator(CommandOptions(seed=options.seed, heldout_fraction=options.heldout_fraction))
    total_s = options.hours * 3600
    budgets = {"test_synthetic": options.test_fraction * total_s, "valid": options.valid_fraction * total_s}
    budgets["train"] = total_s - budgets["test_synthetic"] - budgets["valid"]
    caps = {k: None for k in budgets}
    if options.max_utterances is not None:
        m = options.max_utterances
        caps = {"test_synthetic": max(2, m // 5), "valid": max(2, m // 10)}
        caps["train"] = max(2, m - caps["test_synthetic"] - caps["valid"])

    used_texts: set[str] = set()
    for split in ("test_synthetic", "valid", "train"):
        is_test = split == "test_synthetic"
        pick_voice = _voice_picker(test_v if is_test else train_v, weights, rng)
        cmd_frac = options.test_command_fraction if is_test else options.command_fraction
        general_pool = balanced_sample(pools[split], len(pools[split]), rng)
        seconds, n, split_texts = 0.0, 0, set()
        profile = augment.CLEAN if is_test else augment.TRAIN
        while seconds < budgets[split] and (caps[split] is None or n < caps[split]):
            if rng.random() < cmd_frac or not general_pool:
                intent = gen.sample_intent(rng)
                cmd = None
                for attempt in range(50):  # prefer texts not yet used anywhere
                    cmd = gen.sample(rng, allow_heldout=is_test, intent=intent)
                    if cmd.text not in used_texts and cmd.text not in split_texts:
                        break
                    if split == "train" and cmd.text not in used_texts and attempt > 10:
                        break  # small intents ("volume up") repeat in train, with other voices
                if cmd.text in used_texts:
                    continue
                text, intent, slots, kind, novel, src = cmd.text, cmd.intent, cmd.slots, "command", cmd.novel, cmd.template
            else:
                s = general_pool.pop()
                text, intent, slots, kind, novel, src = s.text, "unknown", {}, "general", False, s.source
            v = pick_voice()
            uid = f"{split}_{n:06d}"
            plan.items.append(Item(
                id=uid, split=split, kind=kind, text=text, intent=intent, slots=slots, voice=v.name,
                speaker=v.speaker, rate=round(float(rng.uniform(*options.rate)), 3),
                pitch_semitones=round(float(rng.uniform(*options.pitch_semitones)), 2),
                aug=augment.sample_spec(profile, rng), clean_id=uid, novel=novel, text_source=src))
            split_texts.add(text)
            seconds += estimate_seconds(text)
            n += 1
        used_texts |= split_texts
        _add_guards(plan, split, n, options, rng)

    noisy = augment.noisy_at(options.test_noisy_snr_db)
    for it in [i for i in plan.items if i.split == "test_synthetic" and i.kind == "command"]:
        plan.items.append(dataclasses.replace(
            it, id=it.id.replace("test_synthetic", "test_noisy"), split="test_noisy",
            aug=augment.sample_spec(noisy, rng)))
    return plan


def _add_guards(plan: Plan, split: str, n_speech: int, options: PlanOptions, rng) -> None:
    k = max(options.guard_min, int(round(options.guard_fraction * n_speech)))
    for j in range(k):
        silence = j % 2 == 0
        if silence:
            # near-digital silence with a faint dither, as a muted mic gives
            spec = augment.AugmentSpec(noise="white", snr_db=None, peak_dbfs=float(rng.uniform(-75, -55)),
                                       seed=int(rng.integers(2**31)))
        else:
            kinds = [k_ for k_ in augment.NOISE_KINDS if k_ != "babble"]  # babble holds words
            spec = augment.AugmentSpec(
                noise=kinds[int(rng.integers(len(kinds)))], snr_db=None, peak_dbfs=float(rng.uniform(-40, -6)),
                rt60_s=float(rng.uniform(0.2, 0.8)) if rng.random() < 0.3 else None, drr_db=0.0,
                band=augment.BANDS[int(rng.integers(len(augment.BANDS)))] if rng.random() < 0.3 else None,
                seed=int(rng.integers(2**31)))
        plan.items.append(Item(
            id=f"{split}_guard_{j:04d}", split=split, kind="silence" if silence else "noise", text="",
            intent="unknown", slots={}, voice=None, speaker=None, rate=1.0, pitch_semitones=0.0, aug=spec,
            clean_id=None, duration_s=round(float(rng.uniform(1.0, 4.0)), 2)))
