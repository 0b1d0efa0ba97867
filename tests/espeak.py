"""Speech synthesis for tests through the libespeak-ng inside the `espeakng-loader`
wheel (ctypes), so the suite needs pip packages only. Falls back to the `espeak-ng`
command when the wheel is absent."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_CHARS_AUTO = 0
_RATE = 1
_lock = threading.Lock()  # libespeak-ng keeps global state: one synthesis at a time
_state: dict = {}


def _library():
    if "lib" not in _state:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if rate <= 0:
            raise RuntimeError("libespeak-ng failed to initialise")
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

        def on_audio(wav, n, _events):
            if n > 0:
                _state["chunks"].append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0

        _state["callback"] = callback_type(on_audio)  # keep a reference: ctypes would free it
        lib.espeak_SetSynthCallback(_state["callback"])
        _state.update(lib=lib, rate=rate)
    return _state["lib"], _state["rate"]


def speak(text: str, voice: str = "en-us", speed_wpm: int = 160) -> tuple[np.ndarray, int]:
    """int16 samples and their rate (22050 Hz)."""
    try:
        lib, rate = _library()
    except ImportError:
        return _speak_cli(text, voice, speed_wpm)
    with _lock:
        _state["chunks"] = []
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        lib.espeak_SetParameter(_RATE, speed_wpm, 0)
        data = text.encode("utf-8") + b"\0"
        lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_AUTO, None, None)
        lib.espeak_Synchronize()
        chunks = _state.pop("chunks")
    return (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)), rate


def _speak_cli(text: str, voice: str, speed_wpm: int) -> tuple[np.ndarray, int]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("no speech synthesiser: `pip install espeakng-loader` (in the dev extra) or `apt-get install espeak-ng`")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run([exe, "-v", voice, "-s", str(speed_wpm), "-w", str(out), text], check=True)
        data, rate = sf.read(str(out), dtype="int16")
    return data, rate


def synthesize(text: str, path: Path, voice: str = "en-us", speed_wpm: int = 160) -> Path:
    samples, rate = speak(text, voice, speed_wpm)
    sf.write(str(path), samples, rate, subtype="PCM_16")
    return path
