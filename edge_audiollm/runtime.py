"""The one place ONNX Runtime sessions are made.

Providers are always explicit; a requested provider that this onnxruntime build lacks
falls back to CPU with a warning (never a crash); the provider that actually runs is
recorded on the returned model so every result can report it.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import ProviderError

# Short names users type -> onnxruntime's provider names, in "auto" preference order.
PROVIDER_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "qnn": "QNNExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_SHORT_NAMES = {v: k for k, v in PROVIDER_NAMES.items()}


class ProviderFallbackWarning(UserWarning):
    """A requested execution provider is not available; CPU runs instead."""


@dataclass(frozen=True)
class SessionOptions:
    providers: tuple[str, ...] = ("cpu",)
    threads: int = 1  # intra-op threads; small devices and fair benchmarks want 1


@dataclass
class OnnxModel:
    """An inference session plus what actually ran. Holds no per-utterance state."""

    path: Path
    session: object
    provider: str  # short name of the provider that actually runs the graph
    requested: tuple[str, ...]
    fell_back: bool
    input_names: tuple[str, ...] = field(default=())
    output_names: tuple[str, ...] = field(default=())

    def run(self, feeds: dict[str, np.ndarray], outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        return self.session.run(list(outputs) if outputs else None, feeds)


def available_providers() -> list[str]:
    import onnxruntime as ort

    return [_SHORT_NAMES.get(p, p) for p in ort.get_available_providers()]


def resolve_providers(requested: Sequence[str]) -> tuple[list[str], bool]:
    """Map short names to onnxruntime's, dropping unavailable ones.

    Returns the provider list to give onnxruntime (always ending in CPU) and whether
    anything requested was missing.
    """
    if isinstance(requested, str):
        requested = [requested]
    available = set(available_providers())
    chosen: list[str] = []
    missing: list[str] = []
    for name in requested:
        key = str(name).lower()
        if key.endswith("executionprovider"):
            key = _SHORT_NAMES.get(name, key)
        if key == "auto":
            chosen += [p for p in PROVIDER_NAMES if p in available and p not in chosen]
            continue
        if key not in PROVIDER_NAMES:
            raise ProviderError(
                f"unknown provider {name!r}; choose from {', '.join(list(PROVIDER_NAMES) + ['auto'])}"
            )
        if key in available:
            if key not in chosen:
                chosen.append(key)
        else:
            missing.append(key)
    if "cpu" not in chosen:
        chosen.append("cpu")
    if missing:
        warnings.warn(
            f"provider(s) {', '.join(missing)} not available in this onnxruntime build "
            f"(available: {', '.join(sorted(available))}); running on {chosen[0]}",
            ProviderFallbackWarning,
            stacklevel=2,  # attributed to make_session: shown once per process, not once per graph
        )
    return [PROVIDER_NAMES[p] for p in chosen], bool(missing)


def make_session(path: str | os.PathLike, providers: Sequence[str] = ("cpu",), threads: int = 1) -> OnnxModel:
    """Create an onnxruntime session with explicit providers and thread counts."""
    import onnxruntime as ort

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ProviderError(f"threads must be a positive integer, got {threads!r}")
    ort_providers, fell_back = resolve_providers(providers)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No growing arena: memory returns to the OS between utterances of different lengths,
    # which keeps a long-running listener's RSS flat on a small board.
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=opts, providers=ort_providers)
    actual = session.get_providers()[0]
    return OnnxModel(
        path=Path(path),
        session=session,
        provider=_SHORT_NAMES.get(actual, actual),
        requested=tuple(str(p) for p in ([providers] if isinstance(providers, str) else providers)),
        # onnxruntime itself may also drop a provider whose libraries fail to load.
        fell_back=fell_back or actual != ort_providers[0],
        input_names=tuple(i.name for i in session.get_inputs()),
        output_names=tuple(o.name for o in session.get_outputs()),
    )
