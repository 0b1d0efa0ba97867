"""The frame-rate tradeoff (issue 8): every trained adapter variant, as an int8 and an fp32
bundle, measured side by side in one run on held-out synthetic speech (clean commands and
sentences; commands at 10 dB) and on real human speech (pocketsphinx-testdata). Writes
docs/tradeoff.json, docs/tradeoff.md and docs/tradeoff.png.

    python -m models.train.tradeoff            # once: train the variants (resumable)
    nice -n 5 python bench/tradeoff.py         # the sweep: builds the bundles, measures, writes docs/

Bundles are built from the committed checkpoints (models/checkpoints/tradeoff/) into
runs/tradeoff/bundles/ and rebuilt only when a checkpoint changed. The "pooled" rows take
the trained 50 Hz `mlp` model and average-pool its output by 4 and 8 at inference only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import machine, pin_one_core, write_results  # noqa: E402

pin_one_core()

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from bench import datasets  # noqa: E402
from edge_audiollm.tradeoff import EvalItem, measure_bundles  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BUILD = ROOT / "runs" / "tradeoff"


def variant_names(ckpt: Path) -> list[str]:
    from models.adapters import variants

    trained = [n for n in variants.VARIANTS if (ckpt / n / "lora.safetensors").is_file()]
    return trained + [row for row, inner, _ in variants.POOLED if inner in trained]


def checkpoint_hash(ckpt: Path, name: str) -> str:
    from models.adapters import variants

    inner, _ = variants.trained_name(name)
    h = hashlib.sha256(name.encode())
    for f in ("adapter.safetensors", "lora.safetensors"):
        h.update((ckpt / inner / f).read_bytes())
    return h.hexdigest()


def build_bundles(names: list[str], quantizations: list[str], log=print) -> dict[tuple[str, str], Path]:
    import torch

    from models.adapters import variants
    from models.train import tradeoff as T
    from models.train.variant_bundle import build_codec_variant_bundle, build_variant_bundle, fp32_encoder

    torch.set_num_threads(1)
    sweep = T.SWEEPS["default"]
    ckpt = Path(sweep.ckpt)
    out = {}
    for name in names:
        digest = checkpoint_hash(ckpt, name)
        for q in quantizations:
            d = BUILD / "bundles" / f"{name}-{q}"
            man = d / "manifest.json"
            if man.is_file() and json.loads(man.read_text())["training"].get("checkpoint_sha256") == digest:
                out[(name, q)] = d
                continue
            tok, head, adapter, lm = T.load_variant(sweep, name)
            inner, pool = variants.trained_name(name)
            info = json.loads((ckpt / inner / "metrics.json").read_text())
            info.update(checkpoint_sha256=digest, trained_at_rate=pool is None,
                        recipe="python -m models.train.tradeoff")
            if adapter.inputs == "codec_tokens":  # the discrete path: the codec's encoder, no CTC head
                out[(name, q)] = build_codec_variant_bundle(
                    d, base=ROOT / "edge_audiollm" / "bundles" / "default", codec_dir=ROOT / sweep.codec_bundle,
                    name=f"{name}-{q}", adapter=adapter, lm=lm, quantize=q == "int8", training=info,
                    overwrite=True, log=log)
                continue
            enc = fp32_encoder(BUILD / "encoder.fp32.onnx", head, log=log) if q == "fp32" else None
            out[(name, q)] = build_variant_bundle(d, base=ROOT / "edge_audiollm" / "bundles" / "default", name=f"{name}-{q}",
                                                  adapter=adapter, lm=lm, quantize=q == "int8", encoder_fp32=enc,
                                                  training=info, overwrite=True, log=log)
    return out


def eval_sets(max_per_set: int, tmp: Path) -> dict[str, list[EvalItem]]:
    sets = {}
    for group, limit in (("synthetic", max_per_set), ("noisy", max_per_set // 2)):
        utts = datasets.synthetic_group(group, max_utterances=limit)
        # intent accuracy is over commands only, as bench/understand.py counts it
        sets[group] = [EvalItem(u.path, u.text, u.meta.get("intent") if u.meta.get("kind") == "command" else None,
                                tuple(sorted((u.meta.get("slots") or {}).items())))
                       for u in utts if u.meta.get("kind") in ("command", "general")]
    real = []
    for g in datasets.REAL_GROUPS:
        for u in datasets.real_group(g):
            path = u.path
            if path.suffix == ".raw":  # headerless Sphinx audio: give the runtime a WAV
                path = tmp / f"{u.id}.wav"
                sf.write(path, u.load(), datasets.SAMPLE_RATE)
            real.append(EvalItem(path, u.text))
    sets["real"] = real
    return sets


def peak_rss(bundle: Path, wav: Path) -> float:
    from bench.footprint import child_peak_rss_mb

    rss, _, _ = child_peak_rss_mb([sys.executable, "-m", "edge_audiollm", "understand", "--threads", "1",
                                   "--bundle", str(bundle), str(wav)])
    return round(rss, 1)


def peer_rows(sets: dict[str, list[EvalItem]], log=print) -> list[dict]:
    """Whisper tiny.en (faster-whisper int8, beam 5) and PocketSphinx on the same files, in the
    same run: the yardsticks every row of the table is read against. Timed and scored by
    bench/vs_peers.py's own loop (one warm-up call, then every utterance)."""
    from bench.vs_peers import Unavailable, load_system, run_system, summarise

    utts = {name: [datasets.Utterance(it.path.as_posix(), name, it.path, it.text) for it in items]
            for name, items in sets.items()}
    audio = {u.path.as_posix(): datasets.load_samples(u.path) for us in utts.values() for u in us}
    key = {"synthetic": "wer", "real": "wer_real", "noisy": "wer_noisy"}
    out = []
    for name in ("whisper", "pocketsphinx"):
        system = load_system(name, "default", {})
        if isinstance(system, Unavailable):
            log(f"{name} unavailable: {system.reason}")
            continue
        results = run_system(system, utts, audio, log)
        row = {"name": system.name}
        for set_name in utts:
            g = summarise(set_name, system.name, [r for r in results if r.group == set_name])
            row[key[set_name]] = g.wer
            if set_name == "synthetic":
                row["rtf"] = g.compute_per_audio_second
        log(f"{system.name}: {row}")
        out.append(row)
    return out


def row_for(name: str, q: str, r: dict, rss: float) -> dict:
    syn, noisy, real = r["sets"]["synthetic"]["summary"], r["sets"]["noisy"]["summary"], r["sets"]["real"]["summary"]
    spec = r["adapter"]
    return {
        "name": name, "adapter": spec["kind"], "params": {k: v for k, v in spec.items() if k != "file"},
        "tokens_per_second": syn["tokens_per_second"], "tokens_per_second_real": real["tokens_per_second"],
        "wer": syn["wer"], "wer_real": real["wer"], "wer_noisy": noisy["wer"], "ctc_wer": syn["ctc_wer"],
        "intent_accuracy": syn["intent_accuracy"], "intent_accuracy_noisy": noisy["intent_accuracy"],
        "intent_exact": syn["intent_exact"], "rtf": syn["rtf"], "prefill_gflops": syn["prefill_gflops"],
        "latency_ms_median": r["sets"]["synthetic"]["latency_ms_median"],
        "peak_rss_mb": rss, "bundle_mb": r["bundle_mb"], "quantization": q,
        "trained_at_rate": "pool_at_inference" not in spec,
        "training": "full fine-tune, 3,000 steps of 32 (the shipped default bundle)" if name == "default"
                    else "LoRA r32 + adapter, 1,000 steps of 24",
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", help="comma-separated names (default: every trained one)")
    p.add_argument("--quantizations", default="int8,fp32")
    p.add_argument("--max-per-set", type=int, default=150, help="held-out synthetic utterances (noisy gets half)")
    p.add_argument("--out", type=Path, default=DOCS / "tradeoff.json")
    p.add_argument("--doc", type=Path, default=DOCS / "tradeoff.md", help="markdown (the figure beside it, .png)")
    a = p.parse_args(argv)
    t_start = time.time()
    from models.train.tradeoff import SWEEPS

    names = a.variants.split(",") if a.variants else variant_names(Path(SWEEPS["default"].ckpt))
    if not names:
        raise SystemExit("no trained variants: run python -m models.train.tradeoff first")
    quants = a.quantizations.split(",")
    log = lambda m: print(m, flush=True)  # noqa: E731
    bundles = build_bundles(names, quants, log)
    if "int8" in quants:  # the shipped bundle (strided k=4, full fine-tune, 3,000 steps) as a reference row
        bundles[("default", "int8")] = ROOT / "edge_audiollm" / "bundles" / "default"
    t_built = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        sets = eval_sets(a.max_per_set, Path(tmp))
        log("sets: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))
        keys = list(bundles)
        rows = measure_bundles([bundles[k] for k in keys], sets, log=log)
        five = Path(tmp) / "five_s.wav"
        cmd = [it for it in sets["synthetic"] if it.intent][0]
        x = datasets.load_samples(cmd.path)
        sf.write(five, np.pad(x, (0, max(0, 5 * 16000 - len(x))))[: 5 * 16000], 16000)
        variants_out = [row_for(n, q, r, peak_rss(bundles[(n, q)], five)) for (n, q), r in zip(keys, rows)]
        peers = peer_rows(sets, log)
    result = {
        "machine": machine(), "command": "python bench/tradeoff.py", "seconds": round(time.time() - t_start, 1),
        "build_seconds": round(t_built - t_start, 1),
        "sets": {k: len(v) for k, v in sets.items()},
        "notes": {
            "tokens_per_second": "mean over the held-out synthetic files of LLM input vectors per second of audio",
            "wer": "held-out synthetic (clean commands and sentences), LLM path, greedy",
            "wer_real": "pocketsphinx-testdata real human speech (librivox, cards, goforward), LLM path",
            "rtf": "features + encoder + adapter + LLM compute / audio seconds, one thread",
            "peak_rss_mb": "edge-audiollm understand on a 5 s file, fresh process",
        },
        "variants": variants_out,
        "peers": peers,
    }
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    hyps = {f"{n}-{q}": {s: v["hypotheses"] for s, v in r["sets"].items()} for (n, q), r in zip(keys, rows)}
    write_results("tradeoff_hypotheses", {"command": result["command"], "hypotheses": hyps})
    from bench.tradeoff_report import write_report

    write_report(result, a.doc, a.doc.with_suffix(".png"))
    log(f"wrote {a.out}, {a.doc}, {a.doc.with_suffix('.png')} in {time.time() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
