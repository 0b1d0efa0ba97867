"""Held-out synthetic figures of a bundle: WER by kind (commands, general sentences, commands
at 10 dB), LLM path beside CTC greedy, intent accuracy and slot F1, and the hallucination
guard (10 s of silence, 10 s of noise alone). Writes bench/results/understand[-NAME].json.

    nice -n 5 python bench/understand.py [--bundle default] [--max-per-set 200] [--name int8]

Where the bundle carries Whisper's text decoder its WER is reported too ("whisper"), and
`understand` reads the words of the bundle's default decoder.

Sets: data/corpus/test_synthetic.jsonl (held-out speakers ked, pico_gb, espeak klatt4 and
held-out sentences) and test_noisy.jsonl (the same commands at 10 dB SNR). Evaluation only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import RESULTS_DIR, machine, pin_one_core  # noqa: E402

pin_one_core()

import numpy as np  # noqa: E402

from bench import datasets  # noqa: E402
from edge_audiollm import wer  # noqa: E402

SAMPLE_RATE = 16000


def slot_counts(gold: dict, pred: dict) -> tuple[int, int, int]:
    """(true positives, predicted, gold) over (slot, value) pairs, values compared as text."""
    g = {(k, str(v).lower()) for k, v in gold.items()}
    p = {(k, str(v).lower()) for k, v in pred.items()}
    return len(g & p), len(p), len(g)


def f1(tp: int, n_pred: int, n_gold: int) -> float:
    if n_pred == 0 and n_gold == 0:
        return 1.0
    return 2 * tp / max(n_pred + n_gold, 1)


def read_rows(corpus: Path, split: str, limit: int | None) -> list[dict]:
    path = corpus / f"{split}.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: build the corpus first (python -m models.data.build_corpus)")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("kind") in ("command", "general")]
    return rows[:limit] if limit else rows


def evaluate_rows(pipe, corpus: Path, rows: list[dict], words: str = "auto") -> dict:
    by_kind: dict[str, dict] = {}
    tp = n_pred = n_gold = 0
    intents_ok = n_cmd = exact = 0
    compute = audio_s = 0.0
    # whisper: the bundle's Whisper text decoder, where it carries one
    paths = ("llm", "ctc_greedy", "ctc_beam_lm") + (("whisper",) if pipe.whisper_text is not None else ())
    for r in rows:
        samples = datasets.load_samples(corpus / r["path"])
        t0 = time.perf_counter()
        llm = pipe.transcribe(samples, sample_rate=SAMPLE_RATE, decoder="llm")
        compute += time.perf_counter() - t0
        audio_s += llm.audio_seconds
        ctc_beam = pipe.transcribe(samples, sample_rate=SAMPLE_RATE, decoder="ctc").text
        k = by_kind.setdefault(r["kind"], {name: wer.EditCounts() for name in paths} | {"n": 0})
        if "whisper" in paths:
            k["whisper"] = k["whisper"] + wer.word_counts(
                r["text"], pipe.transcribe(samples, sample_rate=SAMPLE_RATE, decoder="whisper").text)
        k["llm"] = k["llm"] + wer.word_counts(r["text"], llm.text)
        k["ctc_greedy"] = k["ctc_greedy"] + wer.word_counts(r["text"], llm.ctc_text or "")
        k["ctc_beam_lm"] = k["ctc_beam_lm"] + wer.word_counts(r["text"], ctc_beam)
        k["n"] += 1
        if r["kind"] == "command":
            u = pipe.understand(samples, sample_rate=SAMPLE_RATE, words=words)
            n_cmd += 1
            intents_ok += u.intent == r["intent"]
            exact += u.intent == r["intent"] and u.slots == r["slots"]
            a, b, c = slot_counts(r["slots"], u.slots)
            tp, n_pred, n_gold = tp + a, n_pred + b, n_gold + c
    out = {kind: {"utterances": v["n"], **{name: round(v[name].rate, 4) for name in paths}}
           for kind, v in by_kind.items()}
    if n_cmd:
        out["intent_accuracy"] = round(intents_ok / n_cmd, 4)
        out["intent_exact_match"] = round(exact / n_cmd, 4)
        out["slot_f1"] = round(f1(tp, n_pred, n_gold), 4)
        out["commands"] = n_cmd
    out["llm_transcribe_compute_per_audio_s"] = round(compute / max(audio_s, 1e-9), 4)
    return out


def guard(pipe) -> dict:
    """10 s of digital silence, of low hiss and of loud pink-ish noise: nothing should be heard."""
    rng = np.random.default_rng(0)
    n = 10 * SAMPLE_RATE
    white = rng.standard_normal(n).astype(np.float32)
    pink = np.cumsum(white) * 0.02
    pink = (pink - np.convolve(pink, np.ones(400) / 400, mode="same")).astype(np.float32)
    cases = {"silence": np.zeros(n, np.float32), "hiss_-50dBFS": white * 10 ** (-50 / 20),
             "white_-20dBFS": white * 10 ** (-20 / 20), "pinkish_-15dBFS": pink / np.abs(pink).max() * 10 ** (-15 / 20)}
    out = {}
    for name, x in cases.items():
        t = pipe.transcribe(x, sample_rate=SAMPLE_RATE)
        u = pipe.understand(x, sample_rate=SAMPLE_RATE)
        out[name] = {"text": t.text, "intent": u.intent, "ok": t.text == "" and u.intent == "unknown"}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="default")
    p.add_argument("--corpus", type=Path, default=datasets.CORPUS_DIR)
    p.add_argument("--max-per-set", type=int, default=None, help="first N utterances of each set (default: all)")
    p.add_argument("--name", default="", help="suffix of the results file, e.g. fp32")
    p.add_argument("--words", default="auto", choices=("auto", "whisper", "ctc"), help="who hears the words understand reads")
    a = p.parse_args(argv)
    from edge_audiollm import Pipeline

    pipe = Pipeline.load(a.bundle, providers=["cpu"], threads=1)
    result = {"bundle": pipe.bundle.name, "bundle_path": str(pipe.bundle.path),
              "quantization": sorted({f.get("quantization", "?") for f in pipe.bundle.manifest["files"].values()}),
              "understand_words": a.words, "default_decoder": pipe.default_decoder, "sets": {}}
    for split, label in (("test_synthetic", "clean"), ("test_noisy", "noisy_10db")):
        rows = read_rows(a.corpus, split, a.max_per_set)
        result["sets"][label] = evaluate_rows(pipe, a.corpus, rows, a.words)
        print(f"{label}: {json.dumps(result['sets'][label])}", flush=True)
    result["guard"] = guard(pipe)
    print(f"guard: {json.dumps(result['guard'])}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / (f"understand-{a.name}.json" if a.name else "understand.json")
    out.write_text(json.dumps({"machine": machine(), **result}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
