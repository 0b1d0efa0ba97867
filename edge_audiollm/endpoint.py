"""Endpoint rules (as Kaldi and sherpa-onnx have them), evaluated per VAD frame.

Rule 1, silence_no_text: trailing silence of `silence_no_text_s` while nothing has been
        decoded (a VAD false start: noise, a cough) ends the utterance.
Rule 2, silence_after_speech: trailing silence of `silence_after_speech_s` once something
        has been decoded ends the utterance (about 0.6 s suits commands; dictation wants more).
Rule 3, max_length: an utterance reaching `max_utterance_s` ends there.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import EdgeAudioError


@dataclass(frozen=True)
class EndpointOptions:
    silence_after_speech_s: float = 0.6
    silence_no_text_s: float = 1.2
    max_utterance_s: float = 20.0
    min_speech_s: float = 0.1  # speech needed before an utterance starts (debounce)

    def __post_init__(self):
        for name in ("silence_after_speech_s", "silence_no_text_s", "max_utterance_s", "min_speech_s"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v < 0:
                raise EdgeAudioError(f"endpoint option {name} must be a non-negative number of seconds, got {v!r}")
        if self.max_utterance_s <= 0:
            raise EdgeAudioError(f"max_utterance_s must be positive, got {self.max_utterance_s!r}")


def endpoint_rule(options: EndpointOptions, *, trailing_silence_s: float, utterance_s: float,
                  has_text: bool) -> str | None:
    """The name of the rule that fires, or None."""
    if utterance_s >= options.max_utterance_s:
        return "max_length"
    if has_text and trailing_silence_s >= options.silence_after_speech_s:
        return "silence_after_speech"
    if not has_text and trailing_silence_s >= options.silence_no_text_s:
        return "silence_no_text"
    return None
