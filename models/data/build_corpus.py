"""Build the synthetic speech corpus for the default bundle.

    python -m models.data.build_corpus --out data/corpus --hours 10 --seed 0 [--jobs 2] [--voices ...]

Steps: pick voices (shippable only, installed only, audited), plan every utterance from the seed
(plan.py), synthesise clean speech into <out>/_clean (parallel, resumable), render augmented
16 kHz int16 WAVs into <out>/<split>/<voice>/, write <split>.jsonl manifests and summary.json.
A rerun with the same options skips every file already written.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from . import augment
from .audit import AuditOptions, load_audit, run_audit
from .plan import SPLITS, Item, Plan, PlanOptions, make_plan
from .texts_general import load_sentences
from .voices import SAMPLE_RATE, VOICES, Prosody, Voice, VoiceError

PLAN_FILE = "plan.json"


class BuildError(RuntimeError):
    """A user-facing problem with the requested build (printed as one line)."""


@dataclass(frozen=True)
class BuildOptions:
    out: Path
    plan: PlanOptions
    jobs: int = 2
    voices: tuple | None = None  # names; None = every installed shippable voice
    audit: bool = True  # audit voices missing from <out>/voice_audit.json, then weight/drop
    progress_every_s: float = 10.0


# ---------------------------------------------------------------------------------------------
# voices


def select_voices(names: tuple | None, log=print) -> list[Voice]:
    """Shippable + installed voices. Naming a non-shippable voice is an error, not a skip."""
    if names:
        unknown = [n for n in names if n not in VOICES]
        if unknown:
            raise BuildError(f"unknown voice(s) {', '.join(unknown)}; known: {', '.join(sorted(VOICES))}")
        refused = [VOICES[n] for n in names if not VOICES[n].shippable]
        if refused:
            raise BuildError("refusing non-shippable voice(s): " + "; ".join(
                f"{v.name} ({v.licence})" for v in refused))
        candidates = [VOICES[n] for n in names]
    else:
        candidates = [v for v in VOICES.values() if v.shippable]
    chosen = []
    for v in candidates:
        if v.installed():
            chosen.append(v)
        else:
            log(f"skip {v.name}: not installed (scripts/install_voices.sh)")
    if not chosen:
        raise BuildError("no usable voice installed: run scripts/install_voices.sh (espeak-ng at least)")
    return chosen


def apply_audit(voices: list[Voice], options: BuildOptions, log=print) -> tuple[list[Voice], dict]:
    if not options.audit:
        return voices, {}
    results = load_audit(options.out)
    missing = [v for v in voices if v.name not in results]
    if missing:
        log(f"auditing {len(missing)} voice(s) with Whisper tiny.en ...")
        results = run_audit(missing, options.out, AuditOptions(), log=log)
    kept, weights = [], {}
    for v in voices:
        r = results.get(v.name)
        if r is None:  # audit could not synthesise it
            log(f"drop {v.name}: audit failed")
        elif r.dropped:
            log(f"drop {v.name}: Whisper WER {100 * r.wer:.0f}%")
        else:
            kept.append(v)
            weights[v.name] = r.weight
    if not kept:
        raise BuildError("every voice failed the audit; see voice_audit.tsv")
    return kept, weights


# ---------------------------------------------------------------------------------------------
# files


def clean_path(out: Path, it: Item) -> Path:
    return out / "_clean" / it.voice / f"{it.clean_id}.wav"


def final_path(out: Path, it: Item) -> Path:
    return out / it.split / (it.voice or "_guard") / f"{it.id}.wav"


def write_wav(path: Path, audio: np.ndarray) -> None:
    """int16 16 kHz mono, written to a temp name first so an interrupted run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    sf.write(str(tmp), np.clip(audio, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)


def _synth_job(voice_name: str, text: str, rate: float, pitch: float, path: str) -> tuple[str, float, str]:
    """Worker: synthesise one clean utterance. Returns (path, seconds of audio, error)."""
    try:
        audio = VOICES[voice_name].synthesize(text, Prosody(rate, pitch))
    except VoiceError as e:
        return path, 0.0, str(e)
    write_wav(Path(path), audio)
    return path, len(audio) / SAMPLE_RATE, ""


# ---------------------------------------------------------------------------------------------
# steps


def plan_digest(plan: Plan) -> str:
    blob = json.dumps([it.to_json() for it in plan.items], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def check_resume(out: Path, plan: Plan, options: BuildOptions) -> None:
    """Refuse to mix two different plans in one directory."""
    path = out / PLAN_FILE
    digest = plan_digest(plan)
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("digest") != digest:
            raise BuildError(f"{out} holds a corpus planned with other options or voices "
                             f"({old.get('options')}); use another --out or delete it")
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "digest": digest,
        "options": {**dataclasses.asdict(options.plan), "voices": options.voices},
        "train_voices": plan.train_voices, "test_voices": plan.test_voices,
    }, indent=1, default=str))


def synthesise(plan: Plan, options: BuildOptions, log=print) -> dict:
    """Clean speech for every planned item that lacks it. Returns timing figures."""
    todo, seen = [], set()
    for it in plan.items:
        if it.voice is None or it.clean_id in seen:
            continue
        seen.add(it.clean_id)
        p = clean_path(options.out, it)
        if not p.exists():
            todo.append((it.voice, it.text, it.rate, it.pitch_semitones, str(p)))
    log(f"synthesis: {len(seen) - len(todo)} of {len(seen)} clean utterances already done, {len(todo)} to go")
    t0 = last = time.time()
    audio_s, done, failed = 0.0, 0, []
    if todo:
        with ProcessPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            futures = [pool.submit(_synth_job, *job) for job in todo]
            for f in as_completed(futures):
                path, secs, err = f.result()
                done += 1
                audio_s += secs
                if err:
                    failed.append((path, err))
                now = time.time()
                if now - last >= options.progress_every_s or done == len(todo):
                    last = now
                    el = now - t0
                    log(f"synthesis: {done}/{len(todo)}  {audio_s / 3600:.2f} h audio in {el:.0f} s  "
                        f"({el / max(audio_s / 3600, 1e-9) / 60:.1f} min per audio hour)  failed {len(failed)}",
                        flush=True)
    for path, err in failed[:10]:
        log(f"synthesis failed: {path}: {err}")
    wall = time.time() - t0
    return {"synthesised_utterances": done - len(failed), "failed": len(failed), "audio_hours": audio_s / 3600,
            "wall_s": wall, "wall_s_per_audio_hour": wall / (audio_s / 3600) if audio_s else None,
            "jobs": options.jobs}


def _babble_pool(plan: Plan, out: Path, split: str, rng: np.random.Generator, n: int = 40) -> list:
    """Clean speech from the same split (so test voices never leak into train noise)."""
    src = {"test_noisy": "test_synthetic"}.get(split, split)
    ids = [it for it in plan.items if it.split == src and it.voice and clean_path(out, it).exists()]
    pick = rng.permutation(len(ids))[:n]
    return [sf.read(str(clean_path(out, ids[i])), dtype="float32")[0] for i in pick]


def render(plan: Plan, options: BuildOptions, log=print) -> None:
    """Augmented final files from clean speech (fast: one process)."""
    out = options.out
    t0 = last = time.time()
    for split in SPLITS:
        items = [it for it in plan.items if it.split == split]
        todo = [it for it in items if not final_path(out, it).exists()]
        if not todo:
            continue
        pool = _babble_pool(plan, out, split, np.random.default_rng(plan_seed(options) + len(split)))
        for k, it in enumerate(todo, 1):
            if it.voice is None:
                audio = _guard_audio(it)
            else:
                cp = clean_path(out, it)
                if not cp.exists():
                    continue  # synthesis failed; reported above, left out of the manifest
                speech = sf.read(str(cp), dtype="float32")[0]
                others = [b for b in pool if len(b) != len(speech)]  # crude: not itself
                audio = augment.apply(speech, it.aug, others)
            write_wav(final_path(out, it), audio)
            if time.time() - last >= options.progress_every_s:
                last = time.time()
                log(f"render {split}: {k}/{len(todo)}  ({time.time() - t0:.0f} s)", flush=True)
    log(f"render: done in {time.time() - t0:.0f} s")


def plan_seed(options: BuildOptions) -> int:
    return int(options.plan.seed)


def _guard_audio(it: Item) -> np.ndarray:
    n = int(it.duration_s * SAMPLE_RATE)
    rng = np.random.default_rng(it.aug.seed)
    x = augment.make_noise(it.aug.noise, n, rng)
    if it.aug.rt60_s is not None:
        x = augment.reverberate(x, augment.synthetic_rir(it.aug.rt60_s, 0.0, rng))
    if it.aug.band is not None:
        x = augment.band_limit(x, *it.aug.band)
    return augment.set_level(x, it.aug.peak_dbfs)


def write_manifests(plan: Plan, options: BuildOptions) -> dict:
    out = options.out
    stats: dict = {}
    for split in SPLITS:
        rows = []
        for it in plan.items:
            if it.split != split or not final_path(out, it).exists():
                continue
            p = final_path(out, it)
            info = sf.info(str(p))
            rows.append({
                "path": str(p.relative_to(out)), "text": it.text, "intent": it.intent, "slots": it.slots,
                "voice": it.voice, "speaker": it.speaker, "duration_s": round(info.frames / info.samplerate, 3),
                "augmentation": it.kind if it.voice is None else it.aug.describe(),
                "snr_db": it.aug.snr_db if it.voice is not None and it.aug.noise else None,
                "id": it.id, "kind": it.kind, "novel": it.novel, "rate": it.rate,
                "pitch_semitones": it.pitch_semitones, "text_source": it.text_source,
            })
        with open(out / f"{split}.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        stats[split] = {
            "utterances": len(rows),
            "hours": round(sum(r["duration_s"] for r in rows) / 3600, 3),
            "kinds": dict(Counter(r["kind"] for r in rows)),
            "per_voice": dict(sorted(Counter(r["voice"] or "_guard" for r in rows).items())),
            "intents": dict(sorted(Counter(r["intent"] for r in rows if r["kind"] == "command").items())),
            "novel_commands": sum(1 for r in rows if r["novel"]),
        }
    return stats


def format_summary(stats: dict, timing: dict) -> str:
    lines = ["", f"{'split':<16}{'utts':>7}{'hours':>8}  kinds"]
    for split, s in stats.items():
        lines.append(f"{split:<16}{s['utterances']:>7}{s['hours']:>8.2f}  {s['kinds']}")
    lines.append("\nutterances per voice:")
    voices = sorted({v for s in stats.values() for v in s["per_voice"]})
    lines.append(f"{'voice':<22}" + "".join(f"{k[:14]:>16}" for k in stats))
    for v in voices:
        lines.append(f"{v:<22}" + "".join(f"{stats[k]['per_voice'].get(v, 0):>16}" for k in stats))
    lines.append("\ncommand intents:")
    intents = sorted({i for s in stats.values() for i in s["intents"]})
    lines.append(f"{'intent':<22}" + "".join(f"{k[:14]:>16}" for k in stats))
    for i in intents:
        lines.append(f"{i:<22}" + "".join(f"{stats[k]['intents'].get(i, 0):>16}" for k in stats))
    if timing.get("wall_s_per_audio_hour"):
        lines.append(f"\nsynthesis this run: {timing['audio_hours']:.2f} h clean audio in {timing['wall_s']:.0f} s "
                     f"with {timing['jobs']} job(s): {timing['wall_s_per_audio_hour'] / 60:.1f} min per audio hour")
    return "\n".join(lines)


def build(options: BuildOptions, log=print) -> dict:
    t_start = time.time()
    voices = select_voices(options.voices, log)
    voices, weights = apply_audit(voices, options, log)
    log(f"voices: {', '.join(v.name for v in voices)}")
    general = load_sentences()
    log(f"general sentences available: {len(general)}")
    plan = make_plan(options.plan, voices, general, weights)
    for w in plan.warnings:
        log(f"warning: {w}")
    log(f"train voices: {', '.join(plan.train_voices)}")
    log(f"test voices (held-out speakers): {', '.join(plan.test_voices)}")
    check_resume(options.out, plan, options)
    timing = synthesise(plan, options, log)
    render(plan, options, log)
    stats = write_manifests(plan, options)
    # Keep the timing of every run that synthesised something: a resumed run alone says little.
    old = options.out / "summary.json"
    runs = json.loads(old.read_text()).get("synthesis_runs", []) if old.exists() else []
    if timing["synthesised_utterances"]:
        runs.append({**timing, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    summary = {"stats": stats, "timing": timing, "synthesis_runs": runs,
               "total_wall_s": round(time.time() - t_start, 1),
               "voice_weights": weights, "train_voices": plan.train_voices, "test_voices": plan.test_voices,
               "options": {**dataclasses.asdict(options.plan), "voices": options.voices}}
    (options.out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    log(format_summary(stats, timing))
    return summary


def parse_args(argv: list[str] | None) -> BuildOptions:
    ap = argparse.ArgumentParser(prog="python -m models.data.build_corpus", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--hours", type=float, default=3.0, help="synthesised speech, all splits (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--voices", nargs="+", help="voice names (default: all installed shippable voices)")
    ap.add_argument("--max-utterances", type=int, help="cap on synthesised utterances (quick runs)")
    ap.add_argument("--test-speakers", nargs="+", help="persons to hold out for test_synthetic")
    ap.add_argument("--no-audit", action="store_true", help="skip the Whisper audit (no weighting/dropping)")
    args = ap.parse_args(argv)
    if args.hours <= 0 or args.jobs < 1 or (args.max_utterances is not None and args.max_utterances < 1):
        ap.error("--hours, --jobs and --max-utterances must be positive")
    plan = PlanOptions(hours=args.hours, seed=args.seed, max_utterances=args.max_utterances)
    if args.test_speakers:
        plan = dataclasses.replace(plan, test_speakers=tuple(args.test_speakers))
    return BuildOptions(out=args.out, plan=plan, jobs=args.jobs,
                        voices=tuple(args.voices) if args.voices else None, audit=not args.no_audit)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        build(options)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
