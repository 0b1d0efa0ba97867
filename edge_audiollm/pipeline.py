"""The shared model object: audio -> features -> encoder -> adapter -> LLM -> text / intent.

A Pipeline holds sessions and read-only tables only; everything about one utterance
lives in the call (or in a Stream), so one Pipeline serves many threads and streams.
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from . import intents
from .audio import AudioSource, load_audio
from .bundle import Bundle, load_bundle
from .decoders import ctc
from .errors import AudioError, BundleError, EdgeAudioError
from .frontend import Frontend
from .generate import greedy_generate
from .results import TranscriptionResult, UnderstandingResult
from .runtime import OnnxModel, make_session
from .segments import ctc_segments
from .tokens import Vocabulary
from .whisper_text import WhisperTextDecoder, spoken_words

TASKS = ("transcribe", "understand")
# Below this the encoder sees too few frames to say anything; treat as no speech.
_MIN_AUDIO_SECONDS = 0.05
_MIN_CTC_LETTERS = 2  # fewer letters heard by the CTC head: no speech, no LLM
_JSON_CHARS = '{}":'  # never in a transcript
DECODERS = ("auto", "llm", "ctc", "whisper")
WORD_SOURCES = ("auto", "ctc", "whisper")  # who hears the words `understand` reads
WHISPER_WINDOW_SECONDS = 30.0
_CUT_SEARCH_SECONDS = 5.0  # a long file's window ends at the quietest 20 ms of its last 5 s


class Pipeline:
    def __init__(self, bundle: Bundle, providers: Sequence[str] = ("cpu",), threads: int = 1):
        m = bundle.manifest
        self.bundle = bundle
        self.frontend = Frontend.from_manifest(m["frontend"])
        self.sample_rate = int(m["sample_rate"])
        enc = m["encoder"]
        self.encoder = make_session(bundle.file(enc["file"]), providers, threads)
        self.ctc_vocab: list[str] | None = enc.get("ctc_vocab")
        self.ctc_blank = int(enc.get("ctc_blank", 0))
        self.encoder_rate_hz = float(enc.get("frame_rate_hz", 50.0))
        # "waveform": the encoder is a codec's (samples -> RVQ codes), and the adapter reads its
        # codes: the discrete path of the tradeoff table. Otherwise features -> states.
        self.encoder_input = enc.get("input", "features")
        # Whisper's encoder has 1500 positions: 30 s at most per run; longer audio is transcribed
        # in windows cut at quiet moments
        self.max_window_seconds = WHISPER_WINDOW_SECONDS if str(enc.get("kind", "")).startswith("whisper-") else None
        if self.encoder_input not in ("features", "waveform"):
            raise BundleError(f"bundle {bundle.name!r}: encoder input must be 'features' or 'waveform', "
                              f"not {self.encoder_input!r}; upgrade edge_audiollm or rebuild the bundle")
        self.encoder_hop_samples = int(enc.get("hop_samples", 1))
        self.adapter: OnnxModel | None = None
        self.llm_prefill: OnnxModel | None = None
        self.llm_decode: OnnxModel | None = None
        if bundle.has_llm:
            llm = m["llm"]
            self.adapter = make_session(bundle.file(m["adapter"]["file"]), providers, threads)
            if "segments" in self.adapter.input_names and "ctc_log_probs" not in self.encoder.output_names:
                raise BundleError(f"bundle {bundle.name!r}: its CTC-guided adapter needs the encoder's "
                                  "ctc_log_probs output, which encoder.onnx lacks; rebuild the bundle")
            self.llm_prefill = make_session(bundle.file(llm["prefill"]), providers, threads)
            self.llm_decode = make_session(bundle.file(llm["decode"]), providers, threads)
            self.embeddings = _load_embeddings(bundle.file(llm["embeddings"]))
            self.vocab = Vocabulary.from_manifest(llm)
            self.llm_cfg = llm
            # A transcript is words: a small LM that drifts into the intent JSON of its other
            # task (seen on digital silence) must not be able to write it as "the transcript".
            self._banned = {"transcribe": self.vocab.ids_containing(_JSON_CHARS), "understand": ()}
        # What `understand` feeds the LLM: the adapter's audio vectors, or the words the CTC path
        # read (a cascade: on voices unlike the training ones, CTC + word LM reads far better
        # than the LLM hears, and the LLM learned the task from text first).
        self.understand_input = m.get("understand_input", "audio")
        # Value slots (times, durations, numbers, sums, dates) read from the transcript's words
        # rather than the LLM's arithmetic; a bundle may turn it off to measure the LLM alone.
        self.read_values = bool(m.get("slot_values_from_transcript", True))
        # When the LLM reading the words answers "unknown", ask it again with the audio: at 10 dB
        # the CTC words fail where the adapter's vectors still carry the command.
        self.audio_fallback = m.get("understand_fallback") == "audio"
        if self.understand_input not in ("audio", "ctc_text"):
            raise BundleError(f"bundle {bundle.name!r}: understand_input must be 'audio' or 'ctc_text', "
                              f"not {self.understand_input!r}")
        if self.understand_input == "ctc_text" and (not bundle.has_llm or not self.vocab.merge_ranks
                                                    or self.ctc_vocab is None):
            raise BundleError(f"bundle {bundle.name!r}: understand_input 'ctc_text' needs a CTC head, an LLM "
                              "and llm.merges in the manifest; rebuild the bundle")
        # Whisper's own text decoder over the encoder's states (bundles built on a Whisper
        # encoder may carry it): the words on real voices, where the CTC head trained on
        # synthetic voices mishears.
        self.whisper_text = None
        if "whisper_text" in m:
            self.whisper_text = WhisperTextDecoder(bundle, providers, threads)
        self.provider = self.encoder.provider
        self.default_decoder = m.get("default_decoder", "llm" if bundle.has_llm else "ctc")
        if self.default_decoder not in DECODERS[1:] or (self.default_decoder == "whisper" and self.whisper_text is None):
            raise BundleError(f"bundle {bundle.name!r}: default_decoder {self.default_decoder!r} is not one this "
                              "bundle can run; rebuild the bundle")
        self._lm = None  # the CTC word LM: read-only once loaded, shared by all calls
        self._lm_lock = threading.Lock()
        # scipy.signal takes ~0.4 s to import; pay it here, not inside the first
        # utterance's timings (it resamples any input that is not at the bundle's rate).
        import scipy.signal  # noqa: F401

    @classmethod
    def load(
        cls,
        bundle: str | os.PathLike = "default",
        providers: Sequence[str] = ("cpu",),
        threads: int = 1,
        *,
        verify: bool = True,
    ) -> "Pipeline":
        """Load a shipped bundle by name or a bundle directory; every file's hash is checked."""
        return cls(load_bundle(bundle, verify=verify), providers=providers, threads=threads)

    # ------------------------------------------------------------------ public calls
    def transcribe(self, audio: AudioSource, sample_rate: int | None = None, *, decoder: str = "auto") -> TranscriptionResult:
        """Text of one utterance. decoder: "llm", "ctc" (CTC beam search with the bundle's word LM:
        the fast path), "whisper" (Whisper's own text decoder, in bundles that carry it) or "auto"
        (the bundle's default_decoder)."""
        return self._run(audio, sample_rate, task="transcribe", decoder=decoder)

    def understand(self, audio: AudioSource, sample_rate: int | None = None, *, words: str = "auto") -> UnderstandingResult:
        """Intent and slots (canonical forms of intents.json) of one spoken command. The LLM reads
        them from the command's words; words: who hears them, "whisper" (Whisper's text decoder,
        in bundles that carry it), "ctc" (the CTC beam: the fast path) or "auto" (the bundle's
        default decoder's words)."""
        if not self.bundle.has_llm:
            raise BundleError(f"bundle {self.bundle.name!r} has no LLM; `understand` needs a bundle with one")
        if words not in WORD_SOURCES:
            raise EdgeAudioError(f"words must be one of {', '.join(map(repr, WORD_SOURCES))}, got {words!r}")
        if words == "whisper" and self.whisper_text is None:
            raise BundleError(f"bundle {self.bundle.name!r} has no Whisper text decoder; use words='ctc'")
        return self._run(audio, sample_rate, task="understand", decoder="llm", words=words)

    def create_stream(self, **options):
        """A stream object holding all per-utterance state for live audio."""
        from .stream import Stream

        return Stream(self, **options)

    # ------------------------------------------------------------------ stages
    def encode(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, dict]:
        """Features and encoder on 16 kHz float32 mono: (hidden (T, D), ctc_log_probs (T, V) or None, timings).
        A codec encoder's hidden is its codes, (T, n_codebooks) as float32, and has no CTC output."""
        if self.encoder_input == "waveform":
            return self._encode_codes(samples)
        t0 = time.perf_counter()
        feats = self.frontend(samples)
        t1 = time.perf_counter()
        outs = self.encoder.run({"features": feats[None]})
        t2 = time.perf_counter()
        names = self.encoder.output_names
        hidden = outs[names.index("hidden")][0]
        log_probs = outs[names.index("ctc_log_probs")][0] if "ctc_log_probs" in names else None
        return hidden, log_probs, {"features": (t1 - t0) * 1e3, "encoder": (t2 - t1) * 1e3}

    def _encode_codes(self, samples: np.ndarray) -> tuple[np.ndarray, None, dict]:
        t0 = time.perf_counter()
        hop = self.encoder_hop_samples
        frames = max(1, -(-len(samples) // hop))  # zero-padded to whole codec frames, as Codec.encode does
        padded = np.zeros((1, frames * hop), np.float32)
        padded[0, : len(samples)] = samples
        codes = self.encoder.run({"waveform": padded}, ["codes"])[0]
        hidden = np.ascontiguousarray(codes.T, dtype=np.float32)
        return hidden, None, {"features": 0.0, "encoder": (time.perf_counter() - t0) * 1e3}

    def ctc_text(self, log_probs: np.ndarray) -> str:
        """Greedy CTC transcript: cheap, used for partials and as the silence guard."""
        if self.ctc_vocab is None:
            raise BundleError(f"bundle {self.bundle.name!r} has no CTC vocabulary")
        ids = ctc.greedy(log_probs, blank=self.ctc_blank)
        return " ".join("".join(self.ctc_vocab[i] for i in ids).split())

    def ctc_beam_text(self, log_probs: np.ndarray) -> str:
        """CTC prefix beam search with the bundle's word n-gram LM (greedy when it has none)."""
        spec = self.bundle.manifest.get("ctc_lm")
        if spec is None:
            return self.ctc_text(log_probs)
        from .decoders.beam import BeamOptions

        hyps = ctc.prefix_beam_search(
            log_probs, beam_width=int(spec.get("beam_width", 8)), vocab=self.ctc_vocab, lm=self._ctc_lm(),
            options=BeamOptions(blank=self.ctc_blank, lm_weight=float(spec.get("weight", 0.5)),
                                word_bonus=float(spec.get("word_bonus", 1.0)),
                                unk_offset=float(spec.get("unk_offset", 0.0)),
                                token_min_logp=_optional_float(spec.get("token_min_logp")),
                                beam_prune_logp=_optional_float(spec.get("beam_prune_logp")),
                                blank_run_logp=_optional_float(spec.get("blank_run_logp"))),
        )
        return " ".join(hyps[0].text.split()) if hyps else ""

    def preload(self) -> None:
        """Read now what a call may otherwise read on first use (the CTC beam's word LM: about
        0.7 s and 25 MB), so the first requests of a long-running process are not slower than
        the rest. One-shot callers skip it and pay only if a call needs it."""
        if "ctc_lm" in self.bundle.manifest and self.ctc_vocab is not None:
            self._ctc_lm()

    def _ctc_lm(self):
        # Parsed on first use, not at load: a CLI run that never beam-searches pays nothing.
        with self._lm_lock:
            if self._lm is None:
                from .decoders.arpa import ArpaLM

                self._lm = ArpaLM.from_file(self.bundle.file(self.bundle.manifest["ctc_lm"]["file"]))
        return self._lm

    def adapt(self, hidden: np.ndarray, log_probs: np.ndarray | None) -> np.ndarray:
        """Encoder states (T, D) -> LLM input embeddings (T', D_llm) at the adapter's rate."""
        feeds = {"hidden": hidden[None]}
        if "ctc_log_probs" in self.adapter.input_names:
            feeds["ctc_log_probs"] = log_probs[None]
        if "segments" in self.adapter.input_names:
            # CTC-guided adapters merge the frames of each segment the CTC head heard
            spec = self.bundle.manifest["adapter"]
            segs = ctc_segments(log_probs, blank=int(spec.get("blank", self.ctc_blank)), group=int(spec.get("group", 1)))
            if segs.shape[0] == 0:
                return np.zeros((0, self.embeddings.shape[1]), dtype=np.float32)
            feeds["segments"] = segs[None]
        return self.adapter.run(feeds)[0][0]

    def generate_text(self, audio_embeds: np.ndarray, task: str, audio_seconds: float) -> tuple[str, dict]:
        prompt = self.llm_cfg["prompts"][task]
        e = self.embeddings
        inputs = np.concatenate([e[prompt["prefix"]], audio_embeds, e[prompt["suffix"]]], axis=0)
        per_second = float(self.llm_cfg.get("max_new_tokens_per_second", 6.5))
        budget = max(int(self.llm_cfg.get("min_new_tokens", 8)), math.ceil(per_second * audio_seconds))
        if task == "understand":
            budget += int(self.llm_cfg.get("understand_extra_tokens", 48))
        gen = greedy_generate(
            self.llm_prefill, self.llm_decode, e, inputs,
            eos_id=int(self.llm_cfg["eos_id"]), max_new_tokens=budget, banned_ids=self._banned.get(task, ()),
        )
        return self.vocab.decode(gen.token_ids), gen.timings_ms

    def decode_states(self, hidden: np.ndarray, log_probs: np.ndarray | None, audio_seconds: float, task: str,
                      use_llm: bool, timings: dict, *, understand_input: str | None = None, words_from: str = "ctc"
                      ) -> tuple[str, str | None, str, float | None]:
        """Everything after the encoder: (text, CTC greedy text, raw LLM output, LLM tokens/s);
        text is the transcript, or for `understand` the CTC path's words (when the LLM reads them
        or slot values are read from them). Stage times (ms) are added to `timings`. Benchmarks
        that compare bundles sharing one encoder (bench/tradeoff.py) run the encoder once and
        call this per bundle, with understand_input="audio": what the LLM hears through each adapter."""
        source = understand_input or self.understand_input
        text, ctc_text, raw, rate = "", None, "", None
        if log_probs is not None and self.ctc_vocab is not None:
            t0 = time.perf_counter()
            ctc_text = self.ctc_text(log_probs)
            timings["ctc_decode"] = (time.perf_counter() - t0) * 1e3
        # The CTC head hearing nothing is the cheapest guard against an LLM that
        # "transcribes" silence or noise: skip generation entirely.
        # A stray letter or two over seconds of audio is not speech either (digital silence
        # gave "e" for 10 s); no command or sentence is that short.
        heard_nothing = (ctc_text is not None and self.bundle.manifest.get("skip_llm_without_ctc_text", True)
                         and sum(c.isalpha() for c in ctc_text) < _MIN_CTC_LETTERS)
        if use_llm and not heard_nothing:
            # understand: the CTC path's words are what the LLM reads (ctc_text) and where slot
            # values are read from; benches measuring the adapter (understand_input given) skip them
            words_needed = task == "understand" and (
                source == "ctc_text" or (self.read_values and understand_input is None))
            if words_needed and log_probs is not None:
                text = self._words(hidden, log_probs, timings, words_from, task)
            if words_needed and words_from == "whisper":
                # the LLM and the slot-value reader learned lowercase spoken words; Whisper writes "10 meters."
                text = spoken_words(text)
            if task == "understand" and source == "ctc_text":
                embeds = self.embeddings[self.vocab.encode(text)] if text else None
            else:
                t0 = time.perf_counter()
                embeds = self.adapt(hidden, log_probs)
                timings["adapter"] = (time.perf_counter() - t0) * 1e3
            if embeds is not None:
                rate = embeds.shape[0] / audio_seconds
                raw, t = self.generate_text(embeds, task, audio_seconds)
                timings.update(t)
            if (task == "understand" and source == "ctc_text" and understand_input is None and words_from == "whisper"
                    and log_probs is not None and self._unknown(raw, text)):
                # Whisper's words did not parse as a command: read the CTC beam's instead (on
                # synthetic voices Whisper mishears what the CTC head, trained on them, does not)
                beam = self._timed_beam_text(log_probs, timings)
                if beam and beam != text:
                    beam_raw, t = self.generate_text(self.embeddings[self.vocab.encode(beam)], task, audio_seconds)
                    timings.update({f"ctc_words_{k}": v for k, v in t.items()})
                    if not self._unknown(beam_raw, beam):
                        text, raw = beam, beam_raw
            if (task == "understand" and source == "ctc_text" and understand_input is None
                    and self.audio_fallback and self._unknown(raw, text)):
                # the words did not parse as a command: listen to the adapter's vectors instead
                t0 = time.perf_counter()
                embeds = self.adapt(hidden, log_probs)
                timings["adapter"] = (time.perf_counter() - t0) * 1e3
                rate = embeds.shape[0] / audio_seconds
                raw, t = self.generate_text(embeds, task, audio_seconds)
                timings.update({f"fallback_{k}": v for k, v in t.items()})
            if task == "transcribe":
                text = raw
        elif not use_llm and log_probs is not None and not heard_nothing:
            text = self._words(hidden, log_probs, timings, words_from, task)
        return text, ctc_text, raw, rate

    def _unknown(self, raw: str, words: str) -> bool:
        return intents.parse_model_output(raw, words if self.read_values else None)[0] == intents.UNKNOWN

    def _timed_beam_text(self, log_probs: np.ndarray, timings: dict) -> str:
        t0 = time.perf_counter()
        text = self.ctc_beam_text(log_probs)
        timings["ctc_beam"] = (time.perf_counter() - t0) * 1e3
        return text

    def _words(self, hidden: np.ndarray, log_probs: np.ndarray | None, timings: dict, words_from: str, task: str) -> str:
        """The transcript's words from the CTC beam ("ctc") or Whisper's decoder ("whisper")."""
        if words_from == "whisper" and self.whisper_text is not None:
            t0 = time.perf_counter()
            text = self.whisper_text.decode(hidden, self.whisper_text.options[task]).text
            timings["whisper_decode"] = (time.perf_counter() - t0) * 1e3
            return text
        return self._timed_beam_text(log_probs, timings) if log_probs is not None else ""

    # ------------------------------------------------------------------ the path
    def _run(self, audio: AudioSource, sample_rate: int | None, *, task: str, decoder: str, words: str = "auto"):
        if decoder not in DECODERS:
            raise EdgeAudioError(f"decoder must be one of {', '.join(map(repr, DECODERS))}, got {decoder!r}")
        if decoder == "llm" and not self.bundle.has_llm:
            raise BundleError(f"bundle {self.bundle.name!r} has no LLM; use decoder='ctc'")
        if decoder == "whisper" and self.whisper_text is None:
            raise BundleError(f"bundle {self.bundle.name!r} has no Whisper text decoder; use decoder='ctc'")
        chosen = self.default_decoder if decoder == "auto" else decoder
        use_llm = self.bundle.has_llm and chosen == "llm"
        # understand always ends in the LLM; its words come from Whisper's decoder when asked, or
        # by default when the bundle answers with it, else from the CTC beam
        if task == "understand":
            words_from = words if words != "auto" else ("whisper" if self.default_decoder == "whisper" else "ctc")
        else:
            words_from = "whisper" if chosen == "whisper" else "ctc"
        start = time.perf_counter()
        a = load_audio(audio, sample_rate, target_sample_rate=self.sample_rate)
        timings = {"audio": (time.perf_counter() - start) * 1e3}
        windows = self._windows(a.samples)
        if task == "understand" and len(windows) > 1:
            raise AudioError(f"{a.source}: understand reads one request of at most {self.max_window_seconds:.0f} s; "
                             f"this audio is {a.duration_seconds:.1f} s: trim it to the request, or use transcribe")
        texts, ctc_texts, raw, rate = [], [], "", None
        for samples in windows:
            if len(samples) / self.sample_rate < _MIN_AUDIO_SECONDS or len(samples) < self.frontend.options.win_length:
                continue
            hidden, log_probs, t = self.encode(samples)
            _add_timings(timings, t)
            step: dict = {}
            text, ctc_text, raw, rate = self.decode_states(hidden, log_probs, len(samples) / self.sample_rate, task,
                                                           use_llm, step, words_from=words_from)
            _add_timings(timings, step)
            texts.append(text)
            ctc_texts.append(ctc_text)
        text = " ".join(t for t in texts if t)
        ctc_text = None if not ctc_texts or all(c is None for c in ctc_texts) else " ".join(c for c in ctc_texts if c)
        compute = time.perf_counter() - start
        common = dict(
            audio_seconds=round(a.duration_seconds, 4), compute_seconds=round(compute, 5), timings_ms=timings,
            provider=self.provider, bundle=self.bundle.name, path=a.source if a.source != "<array>" else None,
            decoder="llm" if use_llm else words_from, ctc_text=ctc_text, llm_tokens_per_second=rate,
        )
        if task == "transcribe":
            return TranscriptionResult(text=text, **common)
        t0 = time.perf_counter()
        # text: the CTC path's words, when understand read them (its input, or its slot values)
        spoken = text or (raw[: raw.find("{")].strip() if "{" in raw else raw.strip())
        intent, slots = intents.parse_model_output(raw, transcript=text if self.read_values else None)
        timings["intent_parse"] = (time.perf_counter() - t0) * 1e3
        return UnderstandingResult(
            text=spoken or (ctc_text or ""), intent=intent, slots=slots, raw_output=raw, **common
        )


    def _windows(self, samples: np.ndarray) -> list[np.ndarray]:
        """The audio as windows the encoder can take whole: one, unless it runs past the encoder's
        limit; then each window ends at the quietest 20 ms of its last seconds, so a cut rarely
        splits a word."""
        if self.max_window_seconds is None:
            return [samples]
        limit = int(self.max_window_seconds * self.sample_rate)
        search, hop = int(_CUT_SEARCH_SECONDS * self.sample_rate), self.sample_rate // 50
        out, start = [], 0
        while len(samples) - start > limit:
            tail = samples[start + limit - search:start + limit]
            energy = (tail[: len(tail) // hop * hop].reshape(-1, hop) ** 2).sum(axis=1)
            cut = start + limit - search + int(np.argmin(energy)) * hop + hop // 2
            out.append(samples[start:cut])
            start = cut
        out.append(samples[start:])
        return out


def _add_timings(total: dict, part: dict) -> None:
    for k, v in part.items():
        total[k] = total.get(k, 0.0) + v


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def _load_embeddings(path: Path) -> np.ndarray:
    # allow_pickle=False: a bundle is data, never code.
    try:
        table = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise BundleError(f"{path}: not a plain numpy array ({exc}); rebuild the bundle") from None
    if table.ndim != 2:
        raise BundleError(f"{path}: LLM embeddings must be 2-D (vocab, dim), got {table.shape}")
    return table.astype(np.float32)
