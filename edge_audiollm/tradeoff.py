"""Bundles side by side on the same audio: the frame-rate tradeoff (`edge-audiollm bench tradeoff`).

For each bundle and each evaluation set: mean tokens/s into the LLM, WER of the LLM path
(CTC greedy beside it), intent accuracy on commands, per-stage latency, real-time factor
and the LLM's prefill FLOPs. Bundles sharing an encoder graph (same sha256) share one
encoder pass per file, so a sweep of many adapters costs one encoder run per file; each
bundle's own stages (adapter, LLM prefill and decode) run for real on every file.

A set is a JSONL manifest, one object per line: "path" (absolute, or relative to the
manifest's folder), "text", and for commands "intent" and "slots".
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import intents, wer
from .audio import load_audio
from .errors import EdgeAudioError

STAGES = ("features", "encoder", "ctc_decode", "adapter", "llm_prefill", "llm_decode")


@dataclass(frozen=True)
class EvalItem:
    path: Path
    text: str
    intent: str | None = None
    slots: tuple = ()  # sorted (name, value) pairs: hashable, frozen

    @property
    def slot_dict(self) -> dict:
        return dict(self.slots)


def read_set(manifest: Path) -> list[EvalItem]:
    manifest = Path(manifest)
    if not manifest.is_file():
        raise EdgeAudioError(f"{manifest}: no such set manifest; give a JSONL file of {{\"path\", \"text\"}} rows")
    items = []
    for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            path = Path(row["path"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EdgeAudioError(f"{manifest}:{n}: not a JSON object with a \"path\" ({exc}); fix that line") from None
        path = path if path.is_absolute() else manifest.parent / path
        items.append(EvalItem(path, row.get("text") or "", row.get("intent"), tuple(sorted((row.get("slots") or {}).items()))))
    if not items:
        raise EdgeAudioError(f"{manifest}: holds no rows")
    return items


def prefill_flops(llm: dict, tokens: int) -> float:
    """Multiply-adds x 2 of one prefill over `tokens` positions: the blocks' matmuls, attention
    scores and mixing (causal, so half the square), and the logits of the last position."""
    d, n_layers, vocab = int(llm["dim"]), int(llm["n_layers"]), len(llm["vocab"])
    ffn = int(llm.get("ffn_dim", round(8 * d / 3)))  # SwiGLU width; older manifests omit it
    per_token = n_layers * (4 * d * d + 3 * d * ffn)
    return 2.0 * tokens * per_token + 2.0 * n_layers * tokens * tokens * d + 2.0 * d * vocab


def _quantization(bundle) -> str:
    q = bundle.manifest["files"].get(bundle.manifest["adapter"]["file"], {}).get("quantization", "fp32")
    return "int8" if q.startswith("int8") else "fp32"


def measure_bundles(bundles: Sequence, sets: dict[str, list[EvalItem]], *, threads: int = 1,
                    log: Callable[[str], None] = lambda m: None) -> list[dict]:
    """One row per bundle: its manifest facts and, per set, quality, rate and latency."""
    from .pipeline import Pipeline

    pipes = [b if isinstance(b, Pipeline) else Pipeline.load(b, threads=threads) for b in bundles]
    by_encoder: dict[str, list] = {}
    for p in pipes:
        by_encoder.setdefault(p.bundle.manifest["files"]["encoder.onnx"]["sha256"], []).append(p)
    rows = {id(p): _facts(p) for p in pipes}
    for group in by_encoder.values():
        for set_name, items in sets.items():
            encoded = []
            for it in items:
                a = load_audio(it.path, target_sample_rate=group[0].sample_rate)
                hidden, log_probs, t = group[0].encode(a.samples)
                encoded.append((it, a.duration_seconds, hidden, log_probs, t))
            for p in group:
                rows[id(p)]["sets"][set_name] = _measure_set(p, encoded)
                log(f"{p.bundle.name} {set_name}: {json.dumps(rows[id(p)]['sets'][set_name]['summary'])}")
    return [rows[id(p)] for p in pipes]


def _facts(p) -> dict:
    m = p.bundle.manifest
    return {"bundle": m.get("name"), "path": str(p.bundle.path), "adapter": m["adapter"],
            "quantization": _quantization(p.bundle),
            "bundle_mb": round(p.bundle.size_bytes / 1e6, 2), "sets": {}}


def _measure_set(p, encoded) -> dict:
    pairs, ctc_pairs, rates, flops, stage_ms = [], [], [], [], {s: [] for s in STAGES}
    compute_ms = audio_s = 0.0
    n_cmd = right = exact = 0
    prompt = p.llm_cfg["prompts"]["transcribe"]
    extra = len(prompt["prefix"]) + len(prompt["suffix"])
    for it, seconds, hidden, log_probs, enc_t in encoded:
        t = dict(enc_t)
        text, ctc_text, _, rate = p.decode_states(hidden, log_probs, seconds, "transcribe", True, t)
        pairs.append((it.text, text))
        ctc_pairs.append((it.text, ctc_text or ""))
        if rate is not None:
            rates.append(rate)
            flops.append(prefill_flops(p.llm_cfg, int(round(rate * seconds)) + extra))
        for s in STAGES:
            if s in t:
                stage_ms[s].append(t[s])
        compute_ms += sum(t.get(s, 0.0) for s in STAGES)
        audio_s += seconds
        if it.intent is not None:
            # the LLM on the adapter's vectors, its own values: what each rate lets it hear
            _, _, raw, _ = p.decode_states(hidden, log_probs, seconds, "understand", True, {}, understand_input="audio")
            intent, slots = intents.parse_model_output(raw)
            gold = it.slot_dict if it.intent != intents.UNKNOWN else {}
            n_cmd += 1
            right += intent == it.intent
            exact += intent == it.intent and {k: str(v).lower() for k, v in slots.items()} == {
                k: str(v).lower() for k, v in gold.items()}
    llm, ctc = wer.score(pairs), wer.score(ctc_pairs)
    summary = {
        "utterances": len(encoded),
        "tokens_per_second": round(float(np.mean(rates)), 3) if rates else None,
        "wer": round(llm.wer, 4), "ctc_wer": round(ctc.wer, 4) if p.ctc_vocab is not None else None,
        "intent_accuracy": round(right / n_cmd, 4) if n_cmd else None,
        "intent_exact": round(exact / n_cmd, 4) if n_cmd else None,
        "rtf": round(compute_ms / 1e3 / max(audio_s, 1e-9), 5),
        "prefill_gflops": round(float(np.mean(flops)) / 1e9, 4) if flops else None,
    }
    latency = {s: round(statistics.median(v), 3) for s, v in stage_ms.items() if v}
    return {"summary": summary, "latency_ms_median": latency,
            "hypotheses": [{"ref": r, "hyp": h} for r, h in pairs]}


def run_cli(args) -> int:
    """`edge-audiollm bench tradeoff --bundle A --bundle B --set NAME=MANIFEST ...`"""
    sets = {}
    for spec in args.set:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise EdgeAudioError(f"--set {spec!r}: write it as NAME=MANIFEST.jsonl, e.g. --set commands=cmds.jsonl")
        sets[name] = read_set(Path(path))
    if args.threads < 1:
        raise EdgeAudioError(f"--threads must be at least 1, got {args.threads}")
    out = Path(args.json_out) if args.json_out else None
    if out is not None and out.exists() and any(Path(s.partition("=")[2]).resolve() == out.resolve() for s in args.set):
        raise EdgeAudioError(f"--json-out {out} is one of the set manifests; choose another file")
    rows = measure_bundles(args.bundle, sets, threads=args.threads)
    print(f"{'bundle':<28} {'set':<12} {'tok/s':>6} {'WER%':>6} {'CTC%':>6} {'intent%':>7} {'RTF':>7} {'MB':>6}")
    for r in rows:
        for name, v in r["sets"].items():
            s = v["summary"]
            pct = lambda x: "-" if x is None else f"{100 * x:.1f}"  # noqa: E731
            tps = "-" if s["tokens_per_second"] is None else f"{s['tokens_per_second']:.1f}"
            print(f"{r['bundle']:<28} {name:<12} {tps:>6} {pct(s['wer']):>6} {pct(s['ctc_wer']):>6} "
                  f"{pct(s['intent_accuracy']):>7} {s['rtf']:>7.4f} {r['bundle_mb']:>6.1f}")
    if out is not None:
        out.write_text(json.dumps({"bundles": rows}, indent=1) + "\n", encoding="utf-8")
    return 0
