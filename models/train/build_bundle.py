"""Export trained modules to a bundle: encoder (+ CTC head), adapter, LLM prefill/decode,
embeddings, int8 where it pays, manifest with hashes, provenance and licence notice."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from export.bundle_writer import write_bundle
from export.export_whisper_encoder import QuantizeOptions, quantize_encoder_int8
from export.graphs import export_adapter, export_encoder, export_llm
from export.onnx_export import OPSET
from models.ctc_head import CHAR_VOCAB
from models.tokenizer import SPECIAL_TOKENS, Tokenizer

LICENSE_DIR = Path(__file__).resolve().parents[2] / "export" / "licenses"


def finish_graphs(t: Path, graphs, quantize: bool) -> tuple[dict, dict]:
    """<graph>.fp32.onnx in t -> <graph>.onnx, int8 or float: (bundle files, quantization)."""
    files, quant = {}, {}
    for graph in graphs:
        src = t / f"{graph}.fp32.onnx"
        if quantize:
            # MatMul/Gemm weights to int8; convolutions stay float (Moonshine does the same:
            # int8 convs were slower here and no more accurate).
            quantize_encoder_int8(src, t / f"{graph}.onnx", QuantizeOptions(keep_conv_float=True))
            quant[f"{graph}.onnx"] = "int8-dynamic-matmul"
        else:
            src.rename(t / f"{graph}.onnx")
            quant[f"{graph}.onnx"] = "fp32"
        files[f"{graph}.onnx"] = t / f"{graph}.onnx"
    return files, quant


def export_llm_side(t: Path, adapter, lm, quantize: bool) -> tuple[dict, dict]:
    """adapter.onnx, llm_prefill.onnx, llm_decode.onnx and llm_embeddings.npy into t."""
    export_adapter(adapter, adapter.cfg.in_dim, t / "adapter.fp32.onnx")
    export_llm(lm, t / "llm_prefill.fp32.onnx", t / "llm_decode.fp32.onnx")
    files, quant = finish_graphs(t, ("adapter", "llm_prefill", "llm_decode"), quantize)
    emb = lm.embed.weight.detach().numpy().astype(np.float16)  # half: 0.5 MB, exact enough for inputs
    np.save(t / "llm_embeddings.npy", emb)
    files["llm_embeddings.npy"] = t / "llm_embeddings.npy"
    quant["llm_embeddings.npy"] = "fp16"
    return files, quant


def build_default_bundle(
    out_dir: Path, *, encoder, encoder_info: dict, frontend: dict, ctc_head, adapter, lm, tok: Tokenizer,
    training: dict, metrics: dict, quantize: bool = True, sources: list[dict] | None = None,
    name: str = "default", overwrite: bool = False, log=print, ctc_lm: dict | None = None,
    default_decoder: str = "llm", understand_input: str = "audio",
) -> Path:
    cfg = lm.cfg
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        n_features = int(frontend.get("n_mels", 80))
        export_encoder(encoder, ctc_head, n_features, t / "encoder.fp32.onnx", lengths=(160, 503))
        files, quant = export_llm_side(t, adapter, lm, quantize)
        f, q = finish_graphs(t, ("encoder",), quantize)
        files.update(f)
        quant.update(q)
        if ctc_lm is not None:
            files["ctc_lm.arpa.gz"] = Path(ctc_lm["file"])
        for lic in sorted(LICENSE_DIR.glob("*")):
            files[f"licenses/{lic.name}"] = lic
        ids = tok.ids
        manifest = {
            "name": name,
            "description": "Whisper tiny.en encoder (frozen) + CTC head + strided adapter + small LLM, "
                           "trained on synthetic speech",
            "sample_rate": 16000,
            "frontend": frontend,
            "encoder": {**encoder_info, "file": "encoder.onnx", "ctc_vocab": list(CHAR_VOCAB), "ctc_blank": 0},
            "adapter": {"file": "adapter.onnx", **adapter.spec()},
            "llm": {
                "prefill": "llm_prefill.onnx", "decode": "llm_decode.onnx", "embeddings": "llm_embeddings.npy",
                "vocab": tok.pieces, "merges": tok.merges(), "bos_id": ids["<bos>"], "eos_id": ids["<eos>"], "pad_id": ids["<pad>"],
                "special_tokens": list(SPECIAL_TOKENS),
                "n_layers": cfg.n_layers, "n_heads": cfg.n_heads, "head_dim": cfg.head_dim, "dim": cfg.dim,
                "max_new_tokens_per_second": 6.5, "min_new_tokens": 8, "understand_extra_tokens": 48,
                "prompts": {
                    task: {"prefix": [ids["<bos>"], ids[f"<{task}>"], ids["<audio>"]], "suffix": [ids["</audio>"]]}
                    for task in ("transcribe", "understand")
                },
            },
            "skip_llm_without_ctc_text": True,
            "default_decoder": default_decoder,
            "understand_input": understand_input,
            # measured on valid (train voices, 2026-12-01): intent / exact 93.2 / 81.1% with the
            # fallback against 90.4 / 79.8% without; held-out at 10 dB intent 68.4 -> 74.8% (bench/understand.py)
            **({"understand_fallback": "audio"} if understand_input == "ctc_text" else {}),
            **({"ctc_lm": {**ctc_lm, "file": "ctc_lm.arpa.gz"}} if ctc_lm is not None else {}),
            "opset": OPSET,
            "sources": sources or [],
            "training": training,
            "metrics": metrics,
        }
        out = write_bundle(out_dir, manifest, files, quant, overwrite=overwrite)
    log(f"bundle written to {out}")
    return out
