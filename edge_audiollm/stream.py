"""Live audio: a Stream holds all per-utterance state; the Pipeline it uses holds sessions only.

    stream = pipe.create_stream(task="understand")           # options: StreamOptions / EndpointOptions fields
    for event in stream.accept_waveform(chunk, sample_rate=48000):
        ...                                                  # SpeechStarted, Partial, Final (events.py)
    events = stream.finish()                                 # end of input: closes an open utterance

Or pass `on_event=callable`: every event is also handed to it, in the same order, from
inside accept_waveform. Chunks may have any length and any rate (resampled to 16 kHz
with state kept between chunks). One Stream is fed by one thread at a time; many streams
may share one Pipeline across threads.

Cost bound of partials: each partial runs the encoder on a window of at most
`partial_window_s` (+ one interval). When the window grows past that, the CTC text of its
older half is committed at a blank frame and the window moves on, so a partial update
costs the same at 2 s and at 15 s into an utterance. The Final runs the full pipeline
once on the whole utterance (bounded by `max_utterance_s`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Callable

import numpy as np

from .audio import validate_audio
from .decoders import ctc
from .endpoint import EndpointOptions, endpoint_rule
from .errors import EdgeAudioError
from .pipeline import DECODERS
from .events import Final, Partial, SpeechStarted
from .resampler import StreamResampler
from .vad import KINDS as VAD_KINDS
from .vad import make_vad

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class StreamOptions:
    task: str = "transcribe"  # "transcribe" or "understand" (the Final's content)
    decoder: str = "auto"  # for task "transcribe": "auto", "llm", "ctc" or "whisper"
    vad: str = "energy"  # "energy", "silero" or "ctc" (vad.py)
    vad_threshold: float = 0.5
    partials: bool = True
    partial_interval_s: float = 0.18  # under 200 ms between partials with 20 ms chunks, with room for jitter
    partial_window_s: float = 4.0
    pre_roll_s: float = 0.3  # audio kept before the VAD fired
    post_roll_s: float = 0.25  # audio kept after the last speech frame
    endpoint: EndpointOptions = field(default_factory=EndpointOptions)

    def __post_init__(self):
        if self.task not in ("transcribe", "understand"):
            raise EdgeAudioError(f"task must be 'transcribe' or 'understand', got {self.task!r}")
        if self.decoder not in DECODERS:
            raise EdgeAudioError(f"decoder must be one of {', '.join(map(repr, DECODERS))}, got {self.decoder!r}")
        if self.vad not in VAD_KINDS:
            raise EdgeAudioError(f"vad must be one of {', '.join(VAD_KINDS)}, got {self.vad!r}")
        for name in ("partial_interval_s", "partial_window_s", "pre_roll_s", "post_roll_s"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v < 0:
                raise EdgeAudioError(f"stream option {name} must be a non-negative number of seconds, got {v!r}")
        if not 0.0 < self.vad_threshold < 1.0:
            raise EdgeAudioError(f"vad_threshold must lie in (0, 1), got {self.vad_threshold!r}")

    @classmethod
    def from_kwargs(cls, **kwargs) -> "StreamOptions":
        """StreamOptions fields, with EndpointOptions fields accepted at the top level too."""
        own = {f.name for f in fields(cls)}
        ep = {f.name for f in fields(EndpointOptions)}
        unknown = set(kwargs) - own - ep
        if unknown:
            raise EdgeAudioError(
                f"unknown stream option(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(own | ep))}")
        ep_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in ep}
        if ep_kwargs:
            base = kwargs.pop("endpoint", EndpointOptions())
            kwargs["endpoint"] = EndpointOptions(**{**{f.name: getattr(base, f.name) for f in fields(base)}, **ep_kwargs})
        return cls(**kwargs)


class _AudioBuffer:
    """Samples addressed by absolute stream index; amortised O(1) append, cheap drop of the head."""

    def __init__(self):
        self._data = np.zeros(SAMPLE_RATE * 4, np.float32)
        self.start = 0  # absolute index of _data[0]
        self._len = 0

    @property
    def end(self) -> int:
        return self.start + self._len

    def append(self, x: np.ndarray) -> None:
        need = self._len + x.size
        if need > self._data.size:
            grown = np.zeros(max(need, 2 * self._data.size), np.float32)
            grown[: self._len] = self._data[: self._len]
            self._data = grown
        self._data[self._len:need] = x
        self._len = need

    def slice(self, a: int, b: int) -> np.ndarray:
        a, b = max(a, self.start), min(b, self.end)
        return self._data[a - self.start: max(a, b) - self.start].copy()

    def drop_before(self, index: int) -> None:
        k = min(max(0, index - self.start), self._len)
        if k:
            self._data[: self._len - k] = self._data[k: self._len]
            self._len -= k
            self.start += k
        # give memory back after a long utterance
        if self._data.size > 4 * SAMPLE_RATE * 4 and self._len < self._data.size // 8:
            self._data = self._data[: max(self._len * 2, SAMPLE_RATE * 4)].copy()


class Stream:
    def __init__(self, pipeline, options: StreamOptions | None = None, *,
                 on_event: Callable | None = None, silero_model=None, **kwargs):
        if options is not None and kwargs:
            raise EdgeAudioError("pass either options=StreamOptions(...) or keyword options, not both")
        self.pipeline = pipeline
        self.options = options or StreamOptions.from_kwargs(**kwargs)
        if self.options.task == "understand" and not pipeline.bundle.has_llm:
            raise EdgeAudioError(f"bundle {pipeline.bundle.name!r} has no LLM; task 'understand' needs one")
        self.on_event = on_event
        self.vad = make_vad(self.options.vad, pipeline, silero_model=silero_model)
        self._can_partial = self.options.partials and pipeline.ctc_vocab is not None
        self._resampler: StreamResampler | None = None
        self.utterances = 0
        self.partial_updates = 0
        self.reset()

    # ------------------------------------------------------------------ public
    def reset(self) -> None:
        """Forget everything heard (an open utterance is dropped without a Final)."""
        self._buf = _AudioBuffer()
        self._vad_samples = 0  # stream samples the VAD has decided
        self._speech_run = 0  # consecutive speech frames while idle
        self._in_utt = False
        self._utt_start = 0
        self._last_speech_end = 0
        self._win_start = 0
        self._committed: list[int] = []
        self._last_partial_at = 0
        self._text = ""
        self.vad.reset()
        if self._resampler is not None:
            self._resampler = StreamResampler(self._resampler.from_rate, SAMPLE_RATE)

    @property
    def time_s(self) -> float:
        """Seconds of 16 kHz audio accepted so far."""
        return self._buf.end / SAMPLE_RATE

    @property
    def in_utterance(self) -> bool:
        return self._in_utt

    def accept_waveform(self, samples: np.ndarray, sample_rate: int) -> list:
        """Feed a chunk (any length, any rate, int16/int32/float; (frames,) or (frames, channels)).
        Returns the events it completed, in order (also passed to on_event)."""
        if np.asarray(samples).size == 0:
            return []
        x = validate_audio(np.asarray(samples), sample_rate, name="stream chunk")
        if self._resampler is None or self._resampler.from_rate != int(sample_rate):
            self._resampler = StreamResampler(int(sample_rate), SAMPLE_RATE)
        x = self._resampler(x)
        if x.size == 0:
            return []
        events: list = []
        self._buf.append(x)
        probs = self.vad(x)
        frame = int(round(self.vad.frame_s * SAMPLE_RATE))
        for p in probs:
            self._step(float(p) >= self.options.vad_threshold, frame, events)
        if self._in_utt and self._can_partial and \
                self._buf.end - self._last_partial_at >= self.options.partial_interval_s * SAMPLE_RATE:
            events.append(self._partial(self._buf.end))
        if not self._in_utt:
            keep = int((self.options.pre_roll_s + 0.1) * SAMPLE_RATE) + frame
            self._buf.drop_before(min(self._vad_samples, self._buf.end) - keep)
        return self._emit(events)

    def finish(self) -> list:
        """End of input: an open utterance gets its Final (endpoint "flush")."""
        events: list = []
        if self._in_utt:
            events.append(self._final(self._buf.end, "flush"))
        return self._emit(events)

    # ------------------------------------------------------------------ state machine
    def _step(self, is_speech: bool, frame: int, events: list) -> None:
        o = self.options
        self._vad_samples += frame
        now = self._vad_samples
        if not self._in_utt:
            self._speech_run = self._speech_run + 1 if is_speech else 0
            if self._speech_run * frame >= max(o.endpoint.min_speech_s * SAMPLE_RATE, frame):
                first = now - self._speech_run * frame
                self._begin(max(first - int(o.pre_roll_s * SAMPLE_RATE), self._buf.start, 0), now, events)
            return
        if is_speech:
            self._last_speech_end = now
        if not self._text and self._can_partial and now - self._last_partial_at >= o.partial_interval_s * SAMPLE_RATE \
                and now - self._last_speech_end >= o.endpoint.silence_after_speech_s * SAMPLE_RATE:
            # about to apply a "nothing decoded" rule: make sure of it (partials may be batched)
            events.append(self._partial(now))
        rule = endpoint_rule(
            o.endpoint,
            trailing_silence_s=(now - self._last_speech_end) / SAMPLE_RATE,
            utterance_s=(now - self._utt_start) / SAMPLE_RATE,
            has_text=bool(self._text) or not self._can_partial,
        )
        if rule is not None:
            end = now if rule == "max_length" else min(now, self._last_speech_end + int(o.post_roll_s * SAMPLE_RATE))
            events.append(self._final(end, rule))

    def _begin(self, start: int, now: int, events: list) -> None:
        self._in_utt = True
        self._utt_start = self._win_start = start
        self._last_speech_end = now
        self._last_partial_at = start
        self._committed = []
        self._text = ""
        self._speech_run = 0
        events.append(SpeechStarted(start_s=start / SAMPLE_RATE))

    def _partial(self, now: int) -> Partial:
        t0 = time.perf_counter()
        o = self.options
        audio = self._buf.slice(self._win_start, now)
        if audio.size >= self.pipeline.frontend.options.win_length:
            _, log_probs, _ = self.pipeline.encode(audio)
            if log_probs is not None:
                cut = 0
                if audio.size > o.partial_window_s * SAMPLE_RATE:
                    cut = self._commit(log_probs, audio.size)  # moves the window on for the next update
                tail = ctc.greedy(log_probs[cut:], blank=self.pipeline.ctc_blank)
                self._text = self._ids_text(self._committed + tail)
        self._last_partial_at = now
        self.partial_updates += 1
        return Partial(text=self._text, start_s=self._utt_start / SAMPLE_RATE, end_s=now / SAMPLE_RATE,
                       compute_ms=(time.perf_counter() - t0) * 1e3, window_s=audio.size / SAMPLE_RATE)

    def _commit(self, log_probs: np.ndarray, n_samples: int) -> int:
        """Commit the CTC ids of the window's older part, cutting at a blank frame (after a
        word boundary when there is one) so no token is split or merged across the cut."""
        best = log_probs.argmax(axis=1)
        blank = self.pipeline.ctc_blank
        keep_frames = int(log_probs.shape[0] * (self.options.partial_window_s / 2) / (n_samples / SAMPLE_RATE))
        limit = max(1, log_probs.shape[0] - keep_frames)
        space = self._space_id()
        cut, cut_any, prev = 0, 0, -1
        for f in range(limit):
            if best[f] == blank:
                cut_any = f
                if prev == space or prev == -1:
                    cut = f
            else:
                prev = best[f]
        cut = cut or cut_any or limit
        self._committed += ctc.greedy(log_probs[:cut], blank=blank)
        self._win_start += int(round(cut * n_samples / log_probs.shape[0]))
        return cut

    def _space_id(self) -> int:
        vocab = self.pipeline.ctc_vocab
        for i, t in enumerate(vocab):
            if t in (" ", "\u2581", "|"):
                return i
        return -2

    def _ids_text(self, ids: list[int]) -> str:
        vocab = self.pipeline.ctc_vocab
        return " ".join("".join(vocab[i] for i in ids).replace("\u2581", " ").replace("|", " ").split())

    def _final(self, end: int, rule: str) -> Final:
        t0 = time.perf_counter()
        start = self._utt_start
        audio = self._buf.slice(start, end)
        o = self.options
        if o.task == "understand":
            r = self.pipeline.understand(audio, sample_rate=SAMPLE_RATE)
            intent, slots = r.intent, dict(r.slots)
        else:
            r = self.pipeline.transcribe(audio, sample_rate=SAMPLE_RATE, decoder=o.decoder)
            intent, slots = None, {}
        timings = dict(r.timings_ms)
        timings["endpoint_to_final"] = (time.perf_counter() - t0) * 1e3
        self._in_utt = False
        self._speech_run = 0
        self.utterances += 1
        # the next utterance may start right after this one's end (max_length cuts mid-speech)
        self._buf.drop_before(min(end, self._vad_samples) - int(o.pre_roll_s * SAMPLE_RATE))
        return Final(text=r.text, intent=intent, slots=slots, start_s=start / SAMPLE_RATE, end_s=end / SAMPLE_RATE,
                     timings_ms=timings, endpoint=rule, ctc_text=r.ctc_text, audio=audio)

    def _emit(self, events: list) -> list:
        if self.on_event is not None:
            for e in events:
                self.on_event(e)
        return events
