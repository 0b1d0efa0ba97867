"""Voice activity detectors. Each is per-stream state (never share one between streams):
call it with 16 kHz float32 chunks of any length; it returns the speech probability of
every frame completed so far (`frame_s` seconds each) and keeps the remainder.

- EnergyVad: log energy against an adaptive noise floor. Free; no model.
- CtcVad: the bundle encoder's own CTC blank posterior (1 - p(blank)), on short blocks
  with left context. Costs an encoder run per block.
- SileroVad: silero-vad's ONNX model through our own onnxruntime session. Optional: it
  needs the model file, which ships (without torch) in the faster-whisper wheel, or in the
  silero-vad wheel; or pass its path.
"""

from __future__ import annotations

import importlib.util
import os
from collections import deque
from pathlib import Path

import numpy as np

from .errors import EdgeAudioError

SAMPLE_RATE = 16000
KINDS = ("energy", "ctc", "silero")


class VadError(EdgeAudioError):
    """A VAD that cannot run (no silero model file, a bundle without a CTC head)."""


class _Framed:
    frame_s: float

    def __init__(self, frame_samples: int):
        self.frame_samples = frame_samples
        self.frame_s = frame_samples / SAMPLE_RATE
        self._rest = np.zeros(0, np.float32)

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self._rest, np.asarray(samples, np.float32)])
        n = buf.size // self.frame_samples
        self._rest = buf[n * self.frame_samples:]
        if n == 0:
            return np.zeros(0, np.float32)
        return self._frames(buf[: n * self.frame_samples].reshape(n, self.frame_samples))

    def reset(self) -> None:
        self._rest = np.zeros(0, np.float32)

    def _frames(self, frames: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class EnergyVad(_Framed):
    """Speech where a 20 ms frame's energy rises `margin_db` above the noise floor (the 10th
    percentile of the last `floor_window_s`) and above `min_dbfs`."""

    def __init__(self, margin_db: float = 6.0, min_dbfs: float = -55.0, floor_window_s: float = 3.0):
        super().__init__(320)
        self.margin_db, self.min_dbfs = margin_db, min_dbfs
        self._history: deque = deque(maxlen=int(floor_window_s / self.frame_s))

    def reset(self) -> None:
        super().reset()
        self._history.clear()

    def _frames(self, frames: np.ndarray) -> np.ndarray:
        energy_db = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)
        out = np.empty(len(frames), np.float32)
        for i, e in enumerate(energy_db):
            self._history.append(e)
            floor = float(np.percentile(self._history, 10)) if len(self._history) >= 10 else min(self._history)
            floor = max(floor, self.min_dbfs - self.margin_db)
            # a soft decision: 0.5 exactly at floor + margin, 3 dB either side ~ 0.1 / 0.9
            x = (e - floor - self.margin_db) / 1.4
            out[i] = 1.0 / (1.0 + np.exp(-x)) if e > self.min_dbfs else 0.0
        return out


class CtcVad(_Framed):
    """1 - p(blank) from the bundle's CTC head, max-pooled over each 20 ms frame's encoder
    frames. Runs the encoder on `block_s` blocks with `context_s` of left context."""

    def __init__(self, pipeline, block_s: float = 0.5, context_s: float = 0.5):
        if pipeline.ctc_vocab is None:
            raise VadError(f"bundle {pipeline.bundle.name!r} has no CTC head; use vad='energy' or 'silero'")
        super().__init__(int(block_s * SAMPLE_RATE))
        self.pipeline = pipeline
        self.vad_frame = 320
        self.context = np.zeros(int(context_s * SAMPLE_RATE), np.float32)
        self.frame_s = self.vad_frame / SAMPLE_RATE

    def reset(self) -> None:
        super().reset()
        self.context[:] = 0.0

    def _frames(self, blocks: np.ndarray) -> np.ndarray:
        out = []
        for block in blocks:
            audio = np.concatenate([self.context, block])
            self.context = audio[-self.context.size:] if self.context.size else self.context
            _, log_probs, _ = self.pipeline.encode(audio)
            if log_probs is None:
                raise VadError("the bundle's encoder has no CTC output; use vad='energy' or 'silero'")
            speech = 1.0 - np.exp(log_probs[:, self.pipeline.ctc_blank])
            n_vad = block.size // self.vad_frame
            # the encoder frames that belong to this block (the tail), pooled onto 20 ms frames
            per_s = log_probs.shape[0] / (audio.size / SAMPLE_RATE)
            tail = speech[-max(1, int(round(block.size / SAMPLE_RATE * per_s))):]
            edges = np.linspace(0, tail.size, n_vad + 1).astype(int)
            out.append(np.array([tail[a:max(b, a + 1)].max() for a, b in zip(edges[:-1], edges[1:])], np.float32))
        return np.concatenate(out) if out else np.zeros(0, np.float32)


def find_silero_model() -> Path | None:
    """The silero-vad ONNX file from $EDGE_AUDIOLLM_SILERO_VAD, the faster-whisper wheel or the
    silero-vad wheel (found without importing either: no torch)."""
    env = os.environ.get("EDGE_AUDIOLLM_SILERO_VAD")
    if env:
        return Path(env)
    for pkg, names in (("faster_whisper", ("assets/silero_vad_v6.onnx", "assets/silero_vad.onnx")),
                       ("silero_vad", ("data/silero_vad.onnx",))):
        try:
            spec = importlib.util.find_spec(pkg)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        for root in spec.submodule_search_locations:
            for name in names:
                p = Path(root) / name
                if p.exists():
                    return p
    return None


class SileroModel:
    """The shared part: one onnxruntime session (read-only; many SileroVad states may use it)."""

    def __init__(self, path: str | os.PathLike | None = None, threads: int = 1):
        from .runtime import make_session

        path = Path(path) if path else find_silero_model()
        if path is None or not path.exists():
            raise VadError(
                "silero-vad's ONNX model was not found; `pip install faster-whisper` (ships it without torch) "
                "or set EDGE_AUDIOLLM_SILERO_VAD=/path/to/silero_vad.onnx"
            )
        self.path = path
        self.session = make_session(path, ["cpu"], threads)
        names = self.session.input_names
        self.v5 = "state" in names  # silero-vad wheel: input (B, 576), state (2, B, 128), sr
        if not self.v5 and not {"h", "c"} <= set(names):
            raise VadError(f"{path}: not a silero-vad model this package knows (inputs {names})")


class SileroVad(_Framed):
    """32 ms frames (512 samples, with 64 samples of context) through the silero LSTM."""

    CONTEXT = 64

    def __init__(self, model: SileroModel | None = None):
        super().__init__(512)
        self.model = model or SileroModel()
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._ctx = np.zeros(self.CONTEXT, np.float32)
        if self.model.v5:
            self._state = {"state": np.zeros((2, 1, 128), np.float32)}
        else:
            self._state = {"h": np.zeros((1, 1, 128), np.float32), "c": np.zeros((1, 1, 128), np.float32)}

    def _frames(self, frames: np.ndarray) -> np.ndarray:
        ctx = np.concatenate([self._ctx[None], frames[:-1, -self.CONTEXT:]], axis=0)
        batch = np.concatenate([ctx, frames], axis=1).astype(np.float32)
        self._ctx = frames[-1, -self.CONTEXT:].copy()
        if self.model.v5:
            # the silero-vad wheel's model is batch = streams: step frame by frame
            out = []
            for row in batch:
                p, self._state["state"] = self.model.session.run(
                    {"input": row[None], "state": self._state["state"], "sr": np.array(SAMPLE_RATE, np.int64)})
                out.append(float(np.ravel(p)[0]))
            return np.array(out, np.float32)
        p, h, c = self.model.session.run({"input": batch, **self._state})
        self._state = {"h": h, "c": c}
        return np.ravel(p).astype(np.float32)


def make_vad(kind: str, pipeline=None, *, silero_model: SileroModel | None = None):
    if kind == "energy":
        return EnergyVad()
    if kind == "ctc":
        if pipeline is None:
            raise VadError("vad='ctc' needs a pipeline")
        return CtcVad(pipeline)
    if kind == "silero":
        return SileroVad(silero_model)
    raise VadError(f"unknown VAD {kind!r}; choose from {', '.join(KINDS)}")
