"""Quantization of the default bundle, measured: float32 against onnxruntime's dynamic int8
(what ships), optimum's ORTQuantizer with the AutoQuantizationConfig of a target CPU
(avx512_vnni here, arm64 for boards) and 4-bit MatMulNBits for the LLM, on the same files
in one run: WER, intent accuracy, per-stage latency on one thread, size.
Writes bench/results/quantization.json.

    python -m models.train.recipe --fp32 --out runs/default-fp32     # once: the float32 reference
    nice -n 5 python bench/quantization.py [--max-per-set 150]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import pin_one_core, write_results  # noqa: E402

pin_one_core()

from bench.tradeoff import eval_sets  # noqa: E402
from edge_audiollm.tradeoff import measure_bundles  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GRAPHS = ("encoder.onnx", "adapter.onnx", "llm_prefill.onnx", "llm_decode.onnx")
SCHEMES = {
    "optimum-avx512_vnni": {g: "optimum-avx512_vnni" for g in GRAPHS},
    "optimum-arm64": {g: "optimum-arm64" for g in GRAPHS},
    "int8 + int4 LLM": {"encoder.onnx": "int8", "adapter.onnx": "int8", "llm_prefill.onnx": "int4",
                        "llm_decode.onnx": "int4"},
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fp32", type=Path, default=ROOT / "runs" / "default-fp32")
    p.add_argument("--max-per-set", type=int, default=150)
    a = p.parse_args(argv)
    if not (a.fp32 / "manifest.json").is_file():
        raise SystemExit(f"{a.fp32}: no float32 bundle; build it: python -m models.train.recipe --fp32 --out {a.fp32}")
    from export.quantize import requantize_bundle

    t0 = time.time()
    out = ROOT / "runs" / "quantization"
    bundles = {"fp32": a.fp32, "int8 (shipped)": ROOT / "edge_audiollm" / "bundles" / "default"}
    for label, methods in SCHEMES.items():
        d = out / label.replace(" ", "").replace("+", "_")
        bundles[label] = requantize_bundle(a.fp32, d, methods, name=f"default-{label}", overwrite=True)
    with tempfile.TemporaryDirectory() as tmp:
        sets = eval_sets(a.max_per_set, Path(tmp))
        rows = measure_bundles(list(bundles.values()), sets, log=lambda m: print(m, flush=True))
    result = {"command": "python bench/quantization.py", "seconds": round(time.time() - t0, 1),
              "sets": {k: len(v) for k, v in sets.items()}, "schemes": {}}
    fp32 = rows[0]["sets"]
    for label, r in zip(bundles, rows):
        s = {k: v["summary"] for k, v in r["sets"].items()}
        lat = r["sets"]["synthetic"]["latency_ms_median"]
        result["schemes"][label] = {
            "bundle_mb": r["bundle_mb"], "quantization": r.get("quantization"),
            "wer_synthetic": s["synthetic"]["wer"], "wer_noisy": s["noisy"]["wer"], "wer_real": s["real"]["wer"],
            "intent_accuracy": s["synthetic"]["intent_accuracy"],
            "wer_synthetic_relative_to_fp32": round(s["synthetic"]["wer"] / max(fp32["synthetic"]["summary"]["wer"], 1e-9) - 1, 4),
            "rtf": s["synthetic"]["rtf"], "latency_ms_median": lat,
        }
        print(f"{label:<22} {r['bundle_mb']:6.1f} MB  WER synth {100 * s['synthetic']['wer']:5.1f}%  "
              f"10 dB {100 * s['noisy']['wer']:5.1f}%  real {100 * s['real']['wer']:5.1f}%  "
              f"intent {100 * s['synthetic']['intent_accuracy']:5.1f}%  RTF {s['synthetic']['rtf']:.4f}  "
              f"encoder {lat.get('encoder', 0):.1f} ms  prefill {lat.get('llm_prefill', 0):.1f} ms  "
              f"decode {lat.get('llm_decode', 0):.1f} ms", flush=True)
    path = write_results("quantization", result)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
