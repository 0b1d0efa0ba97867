"""Measure how quality trades against the LLM's input rate on your own device: run several
bundles (adapter variants sharing an encoder) over your own recordings, side by side.

    python examples/tradeoff_sweep.py --set mine.jsonl runs/tradeoff/bundles/mlp-int8 \
        runs/tradeoff/bundles/strided4-int8 runs/tradeoff/bundles/ctc_mean_g2-int8

mine.jsonl: one JSON object per line, {"path": "clip.wav", "text": "what was said"} and,
for commands, "intent" and "slots". Only numpy and onnxruntime run: no torch on the device.
The same is `edge-audiollm bench tradeoff --bundle A --bundle B --set mine=mine.jsonl`.
"""

import argparse
from pathlib import Path

from edge_audiollm.tradeoff import measure_bundles, read_set


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundles", nargs="+", help="bundle directories (or shipped names)")
    p.add_argument("--set", required=True, type=Path, help="JSONL manifest of your recordings")
    args = p.parse_args()
    rows = measure_bundles(args.bundles, {"mine": read_set(args.set)})
    print(f"{'bundle':<26} {'adapter':<8} {'tokens/s':>8} {'WER %':>6} {'intent %':>8} {'adapter ms':>10} "
          f"{'prefill ms':>10} {'RTF':>7}")
    for r in sorted(rows, key=lambda r: -(r["sets"]["mine"]["summary"]["tokens_per_second"] or 0)):
        s, lat = r["sets"]["mine"]["summary"], r["sets"]["mine"]["latency_ms_median"]
        intent = "-" if s["intent_accuracy"] is None else f"{100 * s['intent_accuracy']:.1f}"
        tps = "-" if s["tokens_per_second"] is None else f"{s['tokens_per_second']:.1f}"
        print(f"{r['bundle']:<26} {r['adapter']['kind']:<8} {tps:>8} {100 * s['wer']:>6.1f} {intent:>8} "
              f"{lat.get('adapter', 0):>10.2f} {lat.get('llm_prefill', 0):>10.1f} {s['rtf']:>7.4f}")


if __name__ == "__main__":
    main()
