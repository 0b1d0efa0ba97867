"""Helpers of the live acceptance benches: held-out commands (the corpus's test split, or
synthesised now with a held-out voice) padded with silence, and the private sound server of
tests/audio_server.py as the capture device."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from audio_server import AudioServer, CaptureProcess, missing_tools  # noqa: E402,F401

SR = 16000
HELD_OUT_VOICES = ("festival_ked", "pico_gb", "espeak_us_klatt4")  # data/corpus/plan.json test_voices


def padded_wav(x: np.ndarray, path: Path, lead_s: float = 0.8, tail_s: float = 1.5) -> Path:
    y = np.concatenate([np.zeros(int(lead_s * SR), np.float32), x.astype(np.float32), np.zeros(int(tail_s * SR), np.float32)])
    sf.write(str(path), y, SR, subtype="PCM_16")
    return path


def synth(voice_name: str, text: str) -> np.ndarray:
    from models.data.voices import VOICES, synthesize

    return synthesize(VOICES[voice_name], text)


def corpus_commands(corpus: Path, voices: list[str], per_voice: int) -> list[dict]:
    """Commands (not 'unknown') of the corpus's held-out test split, distinct intents per voice."""
    from edge_audiollm.audio import load_audio

    rows = [json.loads(line) for line in (corpus / "test_synthetic.jsonl").read_text().splitlines() if line.strip()]
    out = []
    for voice in voices:
        seen: set = set()
        for r in rows:
            if r["voice"] == voice and r["intent"] != "unknown" and r["intent"] not in seen and len(seen) < per_voice:
                seen.add(r["intent"])
                out.append({**r, "samples": load_audio(corpus / r["path"]).samples})
    return out


def installed_held_out_voices(n: int) -> list[str]:
    from models.data.voices import VOICES

    return [v for v in HELD_OUT_VOICES if VOICES[v].installed()][:n]
