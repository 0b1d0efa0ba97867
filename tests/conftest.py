"""Shared fixtures: real synthesised speech (libespeak-ng, tests/espeak.py) and the tiny test bundle,
exported through the real torch -> ONNX path once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espeak import synthesize


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def speech_wav(speech_dir) -> Path:
    return synthesize("set a timer for five minutes please", speech_dir / "timer.wav")


@pytest.fixture(scope="session")
def speech_wav2(speech_dir) -> Path:
    return synthesize("turn on the lights in the kitchen", speech_dir / "lights.wav", voice="en")


@pytest.fixture(scope="session")
def speech_16k(speech_wav) -> np.ndarray:
    from edge_audiollm.audio import load_audio

    return load_audio(speech_wav).samples


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    from export.tiny_bundle import build_tiny_bundle

    return build_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny")


@pytest.fixture
def tiny_bundle_copy(tiny_bundle, tmp_path) -> Path:
    """A private copy a test may damage."""
    dst = tmp_path / "tiny"
    shutil.copytree(tiny_bundle, dst)
    return dst


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000, subtype: str | None = None) -> Path:
    sf.write(str(path), samples, rate, subtype=subtype)
    return path
