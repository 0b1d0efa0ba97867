"""Whisper's own text decoder over our encoder's states, without the 30 s pad.

Whisper's decoder was trained on 1500-frame memories (30 s windows). Given only an
utterance's own frames it loops and hallucinates; given the 30 s pad it is right, but then
the encoder does 30 s of work for a 3 s command. So the bundle carries the encoder's output
for 30 s of digital silence, and the decoder reads the utterance's own frames followed by that
output's frames from the utterance's end on: the memory it expects, for the price of encoding
the speech alone. (The speech frames differ slightly from those of a padded run, because the
encoder's attention saw no silence; on real speech this reads like the padded run.)

The silence frames' cross-attention keys and values are computed once, when the model loads;
per utterance only the speech frames' are. Silence frames are alike, so the tail is pooled:
after the frames up to the next whole second, each second of silence (50 frames) is one frame,
their mean, whose attention logit gets log(50), the weight of the 50 it stands for. The decoder
then attends over about T + 80 frames instead of 1500 and writes the same words (measured on
the real and held-out sets: docs/default_bundle.md). Beam search (the beam is the step graph's
batch; a beam of 1 is greedy), with a cap on tokens per audio second (runaway loops end there)
and a confidence (mean log-probability per token) beside the text. The model holds no
per-utterance state.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from edge_audiollm import wer
from edge_audiollm.bundle import Bundle
from edge_audiollm.errors import BundleError, DecoderError, FeatureError
from edge_audiollm.runtime import make_session

_SECTION_KEYS = ("cross_kv", "step", "tokens", "positions", "silence", "vocab")
ENCODER_FRAMES_PER_SECOND = 50
SILENCE_BLOCK_FRAMES = 50


@dataclass(frozen=True)
class WhisperText:
    text: str  # as Whisper writes it: cased, punctuated, digits
    token_ids: tuple[int, ...]  # ids in the full Whisper vocabulary
    mean_logprob: float  # per token, the end token included; 0 when nothing was decoded
    capped: bool  # stopped by the tokens-per-second cap, not by the end token


@dataclass(frozen=True)
class WhisperTextOptions:
    max_tokens_per_second: float = 6.5  # Moonshine's cap; speech runs at about 3-4 Whisper tokens/s
    min_tokens: int = 8
    max_repeats: int = 2  # a capped run ending in a unit repeated more often keeps this many
    pool_silence: bool = True  # False: attend over every one of the 1500 frames (slower, same words)
    beam_size: int = 2  # valid WER: greedy 40.3%, 2: 36.8% at 1.16x greedy's time, 3: 35.4% (docs/default_bundle.md)


# The manifest's whisper_text.beam_size may set each task's beam; understand's default is greedy:
# the intent read from greedy words was as right on valid (exact 69.2 against 69.9% at beam 2,
# one command in 156) for 25% less of its compute.
DEFAULT_BEAMS = {"transcribe": 2, "understand": 1}


def trim_loop(ids: Sequence[int], max_repeats: int, max_period: int = 8) -> list[int]:
    """Cut the decoder's runaway loop from a run that hit the token cap: a tail repeating one
    token more than max_repeats times ("5 5 5 5 ...") keeps max_repeats copies ("five five" is
    real speech); a tail repeating a longer unit ("10 of clubs. 10 of clubs.") keeps one. Cut
    again until no tail repeats: a loop can hide another one just before it."""
    ids = list(ids)
    while True:
        cut = _loop_tail(ids, max_repeats, max_period)
        if cut == 0:
            return ids
        ids = ids[:len(ids) - cut]


def _loop_tail(ids: list[int], max_repeats: int, max_period: int) -> int:
    """How many tokens to drop from the end: the surplus copies of the shortest repeating tail."""
    for period in range(1, max_period + 1):
        unit = ids[-period:]
        copies = 0
        while len(ids) >= (copies + 1) * period and ids[len(ids) - (copies + 1) * period:len(ids) - copies * period] == unit:
            copies += 1
        keep = max_repeats if period == 1 else 1
        if copies > keep:
            return (copies - keep) * period
    return 0


# Whisper writes clock times as "7.30", "730 p.m." or "at 755"; said, they are "seven thirty".
_AMPM = r"(?=\s*[ap]\.?\s?m\b)"
_UNITS = r"(?!\s*(?:seconds?|minutes?|hours?|days?|weeks?|percent|%|degrees?|people|times|dollars?|meters?|miles?)\b)"
_CLOCK_TIMES = (
    re.compile(r"\b([1-9]|1[0-2])[.:]?([0-5]\d)" + _AMPM, re.I),  # 7.30 pm, 730 pm, 10:55 p.m.
    re.compile(r"(?<=\bat )([1-9]|1\d|2[0-3])[.:]?([0-5]\d)\b(?![.:]\d)", re.I),  # at 7.30, at 755
    re.compile(r"(?<=\bfor )([1-9]|1[0-2])[.:]?([0-5]\d)\b(?![.:]\d)" + _UNITS, re.I),  # alarm for 730
)


def spoken_words(text: str) -> str:
    """Whisper's written text as the spoken lowercase words the intent reader learned from:
    clock times back to "H:MM" (which wer.normalize says as words), then wer.normalize."""
    for pattern in _CLOCK_TIMES:
        text = pattern.sub(lambda m: f"{int(m.group(1))}:{m.group(2)}", text)
    return wer.normalize(text)


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet: each byte is one printable character."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


class WhisperTextDecoder:
    """Loaded once per bundle; ``decode`` is safe to call from any number of streams."""

    def __init__(self, bundle: Bundle, providers: Sequence[str] = ("cpu",), threads: int = 1):
        section = bundle.manifest["whisper_text"]
        missing = [k for k in _SECTION_KEYS if k not in section]
        if missing:
            raise BundleError(f"bundle {bundle.path}: whisper_text lacks {missing}; rebuild it with "
                              "python -m export.whisper_decoder_export --bundle BUNDLE")

        def file(key: str) -> Path:
            return bundle.file(section[key])  # only files the manifest lists with their sha256

        self.cross = make_session(file("cross_kv"), providers, threads)
        self.step = make_session(file("step"), providers, threads)
        # the kept tokens' embedding table, read as logits (hidden in) or as embeddings (ids in)
        self.tokens_graph = make_session(file("tokens"), providers, threads)
        beams = {**DEFAULT_BEAMS, **section.get("beam_size", {})}
        if any(not isinstance(v, int) or v < 1 for v in beams.values()):
            raise BundleError(f"bundle {bundle.path}: whisper_text.beam_size must map tasks to beams >= 1, got {beams}")
        self.options = {task: WhisperTextOptions(beam_size=v) for task, v in beams.items()}  # per task
        self.positions = np.load(file("positions"), allow_pickle=False).astype(np.float32)
        silence = np.load(file("silence"), allow_pickle=False).astype(np.float32)
        vocab = json.loads(file("vocab").read_text(encoding="utf-8"))
        self.full_ids = np.asarray(vocab["ids"], dtype=np.int64)
        self.tokens = vocab["tokens"]
        self.d_model = self.positions.shape[1]
        self._no_ids = np.zeros(1, np.int64)
        self._no_hidden = np.zeros((1, self.d_model), np.float32)
        (probe,) = self.tokens_graph.run({"hidden": self._no_hidden, "ids": self._no_ids}, ["logits"])
        if not (len(self.full_ids) == len(self.tokens) == probe.shape[1]):
            raise BundleError(f"{bundle.path}: Whisper vocabulary ({len(self.tokens)}) and token table "
                              f"({probe.shape[1]}) disagree; rebuild the bundle")
        index = {int(t): i for i, t in enumerate(self.full_ids)}
        specials = vocab["specials"]
        self.eot = index[specials["<|endoftext|>"]]
        self.prompt = [index[specials["<|startoftranscript|>"]], index[specials["<|notimestamps|>"]]]
        # Special tokens other than the end are never written; a space or the end is not a first token.
        never = [i for s, i in specials.items() if s != "<|endoftext|>"] + list(vocab.get("suppress", []))
        self.never = np.array(sorted({index[i] for i in never if i in index}), dtype=np.int64)
        space = [i for i, t in enumerate(self.tokens) if t == "Ġ"]
        self.not_first = np.array([self.eot, *space], dtype=np.int64)
        (silence_kv,) = self.cross.run({"memory": silence[None]})
        self.silence_kv = silence_kv  # (2L, 1, 1500, D)
        self.n_kv = silence_kv.shape[0]
        b = SILENCE_BLOCK_FRAMES
        blocks = silence_kv.shape[2] // b
        # keys and values are linear in the memory, so a block's mean K/V is its mean frame's
        self.silence_blocks = silence_kv[:, :, :blocks * b].reshape(self.n_kv, 1, blocks, b, self.d_model).mean(axis=3)

    @property
    def max_frames(self) -> int:
        return self.silence_kv.shape[2]

    def _rows(self, kept_ids: Sequence[int]) -> np.ndarray:
        (x,) = self.tokens_graph.run({"hidden": self._no_hidden, "ids": np.asarray(kept_ids, dtype=np.int64)},
                                     ["embeddings"])
        return x

    def embed(self, kept_ids: Sequence[int], start: int) -> np.ndarray:
        """A sequence's input embeddings (n, D): tokens at positions start, start + 1, ..."""
        return self._rows(kept_ids) + self.positions[start:start + len(kept_ids)]

    def memory_kv(self, hidden: np.ndarray, pool: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Cross K/V (2L, 1, S, D) for the utterance's frames (T, D) spliced before the silence's
        frames T.., pooled by whole blocks (unless pool is False), and the attention bias (S,)
        that weighs each pool."""
        hidden = np.asarray(hidden, dtype=np.float32)
        if hidden.ndim != 2 or hidden.shape[1] != self.d_model:
            raise FeatureError(f"Whisper decoder wants encoder states (T, {self.d_model}), got {hidden.shape}")
        t = hidden.shape[0]
        if t > self.max_frames:
            raise FeatureError(f"{t} encoder frames is over Whisper's 30 s window ({self.max_frames}); split the audio")
        (speech_kv,) = self.cross.run({"memory": hidden[None]})
        if not pool:
            kv = np.concatenate([speech_kv, self.silence_kv[:, :, t:]], axis=2)
            return np.ascontiguousarray(kv), np.zeros(kv.shape[2], np.float32)
        b = SILENCE_BLOCK_FRAMES
        edge = -(-t // b) * b  # exact silence frames up to the next whole block
        first_block = edge // b
        kv = np.concatenate([speech_kv, self.silence_kv[:, :, t:edge], self.silence_blocks[:, :, first_block:]], axis=2)
        n_blocks = self.silence_blocks.shape[2] - first_block
        bias = np.concatenate([np.zeros(edge, np.float32), np.full(n_blocks, np.log(b), np.float32)])
        return np.ascontiguousarray(kv), bias

    def log_probs(self, hidden_last: np.ndarray, first: bool) -> np.ndarray:
        """Log-probabilities (B, V) of the next token after each hypothesis's last hidden state
        (B, D): special tokens but the end and Whisper's suppressed tokens never; neither a space
        nor the end as the first token."""
        z = np.concatenate([self.tokens_graph.run({"hidden": row[None], "ids": self._no_ids}, ["logits"])[0]
                            for row in np.atleast_2d(hidden_last)])
        z[:, self.never] = -np.inf
        if first:
            z[:, self.not_first] = -np.inf
        top = z.max(axis=1, keepdims=True)
        return z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))

    def decode(self, hidden: np.ndarray, options: WhisperTextOptions = WhisperTextOptions()) -> WhisperText:
        """Beam search (options.beam_size hypotheses in one batched step; 1 is greedy) as Whisper
        runs it: each step keeps the best beam_size continuations, a continuation that ends is
        set aside, and the search stops when beam_size have ended or at the token cap (where the
        live ones are set aside as capped); the one with the best log-probability per token wins."""
        if options.beam_size < 1:
            raise DecoderError(f"beam_size must be at least 1, got {options.beam_size}")
        cross, bias = self.memory_kv(hidden, options.pool_silence)
        seconds = hidden.shape[0] / ENCODER_FRAMES_PER_SECOND
        limit = min(max(options.min_tokens, int(np.ceil(options.max_tokens_per_second * seconds))),
                    len(self.positions) - len(self.prompt))
        beam = options.beam_size
        past = np.zeros((self.n_kv, 1, 0, self.d_model), np.float32)
        x = self.embed(self.prompt, 0)[None]  # (1, prompt, D): one hypothesis to start
        seqs: list[list[int]] = [[]]
        scores = [0.0]
        ended: list[tuple[list[int], float, bool]] = []  # (tokens, log-probability, stopped by the cap)
        while True:
            out, past = self.step.run({"inputs_embeds": x, "past_kv": past, "cross_kv": cross, "cross_bias": bias})
            lp = self.log_probs(out[:, -1], first=not seqs[0])  # every live hypothesis is as long
            best = np.argpartition(-lp, beam, axis=1)[:, :beam + 1]
            candidates = [(scores[row] + float(lp[row, tok]), row, int(tok))
                          for row in range(len(seqs)) for tok in best[row]]
            candidates.sort(key=lambda c: -c[0])
            alive, taken = [], 0
            for score, row, tok in candidates:
                if tok == self.eot:
                    ended.append((seqs[row], score, False))
                    continue
                if not np.isfinite(score):
                    break
                taken += 1
                if len(seqs[row]) < limit:
                    alive.append((score, row, tok))
                elif all(e[0] is not seqs[row] for e in ended):
                    ended.append((seqs[row], scores[row], True))  # the cap stops it here
                if taken == beam:
                    break
            # done when beam_size have ended, or when ending is the best continuation of all
            if sum(not e[2] for e in ended) >= beam or not alive or candidates[0][2] == self.eot:
                break
            rows = [row for _, row, _ in alive]
            seqs = [seqs[row] + [tok] for _, row, tok in alive]
            scores = [score for score, _, _ in alive]
            past = np.ascontiguousarray(past[:, rows])
            position = len(self.prompt) + len(seqs[0]) - 1  # every live hypothesis is as long
            x = (self._rows([tok for _, _, tok in alive]) + self.positions[position])[:, None]
        # the best log-probability per token (the end counted); one that ended beats any the cap
        # stopped (those are mostly runaway loops)
        seq, score, capped = max(ended, key=lambda e: (not e[2], e[1] / max(1, len(e[0]) + (0 if e[2] else 1))))
        if capped:
            seq = trim_loop(seq, options.max_repeats)  # cut a runaway loop
        return WhisperText(self.detokenize(seq), tuple(int(self.full_ids[i]) for i in seq),
                           float(score / max(1, len(seq) + (0 if capped else 1))), capped)

    def detokenize(self, kept_ids: Sequence[int]) -> str:
        table = _byte_decoder()
        raw = bytes(table[c] for i in kept_ids for c in self.tokens[i] if c in table)
        return raw.decode("utf-8", errors="replace").strip()
