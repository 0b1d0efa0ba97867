"""Results as dataclasses; `to_json()` gives the CLI's JSON-lines contract."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class TranscriptionResult:
    text: str
    audio_seconds: float
    compute_seconds: float
    timings_ms: dict[str, float]
    provider: str
    bundle: str
    path: str | None = None
    decoder: str = "llm"  # "llm" or "ctc"
    ctc_text: str | None = None  # the CTC head's greedy transcript, when the bundle has one
    llm_tokens_per_second: float | None = None  # rate of the audio embeddings fed to the LLM

    @property
    def real_time_factor(self) -> float:
        return self.compute_seconds / self.audio_seconds if self.audio_seconds else 0.0

    def to_json(self) -> dict:
        out = asdict(self)
        out["timings_ms"] = {k: round(v, 3) for k, v in self.timings_ms.items()}
        out["real_time_factor"] = round(self.real_time_factor, 5)
        return out


@dataclass
class UnderstandingResult(TranscriptionResult):
    intent: str = "unknown"
    slots: dict = field(default_factory=dict)
    raw_output: str = ""  # what the LLM wrote before validation, for debugging
