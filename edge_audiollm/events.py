"""Events a Stream emits, in this order for each utterance:

    SpeechStarted  once, when the VAD first hears speech
    Partial        zero or more, while the person speaks (CTC greedy text of the audio so far)
    Final          once, when an endpoint rule fires (or the stream is finished/reset)

Every SpeechStarted is followed by exactly one Final before the next SpeechStarted.
Times are seconds of stream audio (16 kHz samples accepted so far / 16000), so they do
not depend on how fast the audio was fed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class SpeechStarted:
    start_s: float  # where the utterance starts, including the pre-roll kept before the VAD fired


@dataclass(frozen=True)
class Partial:
    text: str
    start_s: float
    end_s: float  # stream time the partial covers up to
    compute_ms: float  # features + encoder + CTC greedy for this update
    window_s: float = 0.0  # seconds of audio the encoder ran on for this update (bounded: stream.py)


@dataclass(frozen=True)
class Final:
    text: str
    intent: str | None  # None for task "transcribe"
    slots: dict
    start_s: float
    end_s: float
    timings_ms: dict = field(default_factory=dict)  # the pipeline's stages + "endpoint_to_final"
    endpoint: str = ""  # the rule that fired: "silence_after_speech", "silence_no_text", "max_length", "flush"
    ctc_text: str | None = None
    audio: object = field(default=None, repr=False, compare=False)  # the 16 kHz samples the result came from

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "audio"}
        out["slots"] = dict(self.slots)
        out["timings_ms"] = {k: round(float(v), 3) for k, v in self.timings_ms.items()}
        out["start_s"], out["end_s"] = round(self.start_s, 3), round(self.end_s, 3)
        return out


Event = SpeechStarted | Partial | Final
