"""The bundle's front-end, built from its manifest: samples -> (T, F) features.

Kinds: "logmel" and "mfcc" (features.py) and "whisper_logmel" (features_whisper.py,
Whisper's exact variant for the pretrained encoders).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import features
from .errors import BundleError

KINDS = ("logmel", "mfcc", "whisper_logmel")


@dataclass(frozen=True)
class Frontend:
    kind: str
    options: features.FrontendOptions
    n_ceps: int = 13
    cmn: bool = False  # subtract the utterance mean per channel (channel/gain robustness)

    @classmethod
    def from_manifest(cls, spec: dict) -> "Frontend":
        kind = spec.get("kind")
        if kind not in KINDS:
            raise BundleError(f"unknown front-end kind {kind!r} in the bundle manifest; known: {', '.join(KINDS)}")
        names = {f.name for f in fields(features.FrontendOptions)}
        options = features.FrontendOptions(**{k: v for k, v in spec.items() if k in names})
        return cls(kind=kind, options=options, n_ceps=int(spec.get("n_ceps", 13)), cmn=bool(spec.get("cmn", False)))

    def to_manifest(self) -> dict:
        spec = {"kind": self.kind, "cmn": self.cmn, "n_ceps": self.n_ceps}
        spec.update({f.name: getattr(self.options, f.name) for f in fields(features.FrontendOptions)})
        return spec

    @property
    def dim(self) -> int:
        return 3 * self.n_ceps if self.kind == "mfcc" else self.options.n_mels

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        if self.kind == "logmel":
            out = features.log_mel(samples, self.options)
        elif self.kind == "mfcc":
            out = features.mfcc(samples, features.MfccOptions(frontend=self.options, n_ceps=self.n_ceps))
        else:
            from .features_whisper import whisper_log_mel

            out = whisper_log_mel(samples, n_mels=self.options.n_mels)
        if self.cmn:
            out = out - out.mean(axis=0, keepdims=True)
        return np.ascontiguousarray(out, dtype=np.float32)
