"""docs/tradeoff.md and docs/tradeoff.png from the sweep's result (bench/tradeoff.py)."""

from __future__ import annotations

from pathlib import Path

ORDER = ("mlp", "strided", "conv", "qformer", "ctc", "codec_tokens")
NOTES = "## What it shows"


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _num(x, fmt="{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def table(rows: list[dict]) -> str:
    head = ("| variant | family | quant | trained at rate | tokens/s | WER synth % | WER real % | WER 10 dB % | "
            "CTC WER synth % | intent % | intent 10 dB % | adapter ms | prefill ms | decode ms | RTF | "
            "prefill GFLOPs | peak RSS MB | bundle MB |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for r in sorted(rows, key=lambda r: (r["quantization"], ORDER.index(r["adapter"]) if r["adapter"] in ORDER else 9,
                                         -(r["tokens_per_second"] or 0))):
        lat = r["latency_ms_median"]
        lines.append("| " + " | ".join([
            r["name"], r["adapter"], r["quantization"], "yes" if r["trained_at_rate"] else "**no (pooled)**",
            _num(r["tokens_per_second"]), _pct(r["wer"]), _pct(r["wer_real"]), _pct(r["wer_noisy"]), _pct(r["ctc_wer"]),
            _pct(r["intent_accuracy"]), _pct(r["intent_accuracy_noisy"]), _num(lat.get("adapter"), "{:.2f}"),
            _num(lat.get("llm_prefill"), "{:.1f}"), _num(lat.get("llm_decode"), "{:.1f}"), _num(r["rtf"], "{:.4f}"),
            _num(r["prefill_gflops"], "{:.3f}"), _num(r["peak_rss_mb"], "{:.0f}"), _num(r["bundle_mb"], "{:.1f}"),
        ]) + " |")
    return "\n".join(lines)


def ctc_check(rows: list[dict], quant: str = "int8") -> list[str]:
    """The issue's question in numbers: CTC-guided at <= 8 tokens/s against mlp at 50 Hz and
    against strided at the nearest rate, on synthetic and real speech."""
    rs = [r for r in rows if r["quantization"] == quant and r["trained_at_rate"]]
    mlp = next((r for r in rs if r["adapter"] == "mlp"), None)
    out = []
    for c in (r for r in rs if r["adapter"] == "ctc" and (r["tokens_per_second"] or 99) <= 8):
        strided = [r for r in rs if r["adapter"] == "strided"]
        near = min(strided, key=lambda r: abs(r["tokens_per_second"] - c["tokens_per_second"]), default=None)
        for key, label in (("wer", "synthetic"), ("wer_real", "real")):
            parts = [f"{c['name']} ({c['tokens_per_second']:.1f} tokens/s) {label} WER {_pct(c[key])}%"]
            if mlp:
                rel = (c[key] - mlp[key]) / max(mlp[key], 1e-9)
                parts.append(f"vs mlp 50 Hz {_pct(mlp[key])}% ({100 * rel:+.0f}% relative; target within +10%: "
                             f"{'met' if rel <= 0.10 else 'not met'})")
            if near:
                parts.append(f"vs {near['name']} ({near['tokens_per_second']:.1f} tokens/s) {_pct(near[key])}% "
                             f"({'beats it' if c[key] < near[key] else 'does not beat it'})")
            out.append("- " + "; ".join(parts))
    return out


def _line(r: dict) -> str:
    """One line per family; the CTC family's two merges and each codebook count of the codec-token
    family are separate lines (same rate)."""
    if r["adapter"] == "ctc":
        return f"ctc {r['params'].get('merge')}"
    if r["adapter"] == "codec_tokens":
        return f"codec_tokens {r['params'].get('codebooks')} codebook(s)"
    return r["adapter"]


def discrete_check(rows: list[dict], quant: str = "int8") -> list[str]:
    """Issue 9's discrete path against the continuous adapter at the same 12.5 Hz."""
    rs = [r for r in rows if r["quantization"] == quant and r["trained_at_rate"]]
    ref = next((r for r in rs if r["name"] == "strided4"), None)
    out = []
    for c in (r for r in rs if r["adapter"] == "codec_tokens"):
        parts = [f"{c['name']} ({c['params'].get('codebooks')} codebook(s), {c['tokens_per_second']:.1f} tokens/s): "
                 f"WER synthetic {_pct(c['wer'])}%, real {_pct(c['wer_real'])}%, 10 dB {_pct(c['wer_noisy'])}%, "
                 f"intent {_pct(c['intent_accuracy'])}%"]
        if ref:
            parts.append(f"strided4 (Whisper states, {ref['tokens_per_second']:.1f} tokens/s): {_pct(ref['wer'])}%, "
                         f"{_pct(ref['wer_real'])}%, {_pct(ref['wer_noisy'])}%, intent {_pct(ref['intent_accuracy'])}%")
        out.append("- " + "; ".join(parts))
    return out


def _line_order(label: str) -> int:
    return ORDER.index(label.split()[0]) if label.split()[0] in ORDER else 9


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=False)
    for ax, key, title in ((axes[0], "wer", "held-out synthetic"), (axes[1], "wer_real", "real speech (pocketsphinx-testdata)")):
        int8 = [r for r in rows if r["quantization"] == "int8" and r["trained_at_rate"]]
        for label in sorted({_line(r) for r in int8 if r["name"] != "default"}, key=_line_order):
            pts = sorted((r["tokens_per_second"], 100 * r[key]) for r in int8 if r["name"] != "default" and _line(r) == label)
            ax.plot(*zip(*pts), marker="o", label=label)
        pooled = [(r["tokens_per_second"], 100 * r[key]) for r in rows
                  if not r["trained_at_rate"] and r["quantization"] == "int8"]
        if pooled:
            ax.scatter(*zip(*pooled), marker="x", s=60, color="black", label="mlp pooled after training (untrained rate)")
        shipped = [(r["tokens_per_second"], 100 * r[key]) for r in int8 if r["name"] == "default"]
        if shipped:
            ax.scatter(*zip(*shipped), marker="*", s=120, color="gray", label="shipped default (3x budget, full fine-tune)")
        ax.set_xscale("log")
        ax.set_xticks([3, 6.25, 12.5, 25, 50], ["3", "6.25", "12.5", "25", "50"])
        ax.minorticks_off()
        ax.set_xlabel("tokens per second into the LLM")
        ax.set_ylabel("WER % (LLM path)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("WER against the LLM's input rate, int8 bundles, same encoder, LLM, data and budget")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(result: dict, md: Path, png: Path) -> None:
    rows = result["variants"]
    figure(rows, png)
    text = [
        "# The frame-rate tradeoff: adapter families from 50 to 6 tokens/s",
        "",
        "Every row but the `codec_tokens` ones (the discrete path, below) uses the same frozen Whisper tiny.en "
        "encoder (int8 or fp32, as the row says), the same CTC head, "
        "the same text-trained LLM (4 layers, dim 256) adapted with LoRA rank 32, the same training data "
        "(the corpus's train split, 3.46 h, 17 synthetic voices), budget (1,000 steps of 24 examples) and seed. "
        "Only the adapter and its LoRA differ. Each is trained at the rate it is deployed at, except the `pooled` "
        "rows: the 50 Hz `mlp` model with its output average-pooled by 4 or 8 at inference only.",
        "",
        f"Sets: held-out synthetic voices and sentences ({result['sets'].get('synthetic')} files, clean commands and "
        f"general sentences), the same commands at 10 dB SNR ({result['sets'].get('noisy')}), and real human speech "
        f"from Debian pocketsphinx-testdata ({result['sets'].get('real')} files, never trained on). "
        "Tokens/s is measured per file (silence included), WER after edge_audiollm/wer.py's normaliser, "
        "latency is the median per stage on one thread, RTF covers features to the last LLM token.",
        "",
        f"Rerun: `nice -n 5 python bench/tradeoff.py` ({result['seconds'] / 60:.0f} min here, of which "
        f"{result['build_seconds'] / 60:.0f} min building bundles); "
        "train the variants first with `python -m models.train.tradeoff`.",
        "",
        table(rows),
        "",
        "Peers on the same files in the same run (transcription; compute per audio second on one thread):",
        "",
        "| system | WER synth % | WER real % | WER 10 dB % | RTF |",
        "|---|---|---|---|---|",
        *(f"| {p['name']} | {_pct(p.get('wer'))} | {_pct(p.get('wer_real'))} | {_pct(p.get('wer_noisy'))} | "
          f"{_num(p.get('rtf'), '{:.4f}')} |" for p in result.get("peers", [])),
        "",
        "## The discrete path: codec tokens into the LLM against Whisper's states at the same rate",
        "",
        "The `codec_tokens` rows replace the Whisper encoder by the codec's (edge_audiollm/bundles/codec, 12.5 Hz, "
        "12 x 1024 RVQ): the LLM reads learned embeddings of its first codebook alone (125 bit/s) or of all 12 "
        "summed (1.5 kbit/s), trained at that rate with the same LLM, LoRA, data, budget and seed. They have no "
        "CTC head (CTC WER `-`), so no silence guard and no CTC words for slot values either.",
        "",
        "int8:", "", *discrete_check(rows, "int8"), "", "fp32:", "", *discrete_check(rows, "fp32"),
        "",
        "## The CTC-guided adapter against the 50 Hz adapter and against strided at its rate",
        "",
        "int8:", "", *ctc_check(rows, "int8"), "", "fp32:", "", *ctc_check(rows, "fp32"),
        "",
        "![WER against tokens/s](tradeoff.png)",
        "",
    ]
    # The reading of the figures is written by hand under NOTES and kept across reruns.
    old = md.read_text() if md.is_file() else ""
    if NOTES in old:
        text += [old[old.index(NOTES):].rstrip(), ""]
    md.write_text("\n".join(text))
