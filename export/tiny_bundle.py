"""A tiny randomly initialised bundle that drives the whole runtime path in tests.

It is a test fixture: its manifest says "fixture": true, it is never shipped and it is
not a model (its outputs are noise). Build: python -m export.tiny_bundle OUT_DIR
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from edge_audiollm.frontend import Frontend
from edge_audiollm.features import FrontendOptions
from models.adapters.strided import StridedAdapter, StridedAdapterConfig
from models.ctc_head import CHAR_VOCAB, CtcHead, CtcHeadConfig
from models.encoder_scratch import ScratchEncoder, ScratchEncoderConfig
from models.llm import LLMConfig, TinyLM

from .bundle_writer import write_bundle
from .graphs import export_adapter, export_encoder, export_llm
from .onnx_export import OPSET


def build_tiny_bundle(out_dir: Path, *, seed: int = 0, overwrite: bool = False) -> Path:
    torch.manual_seed(seed)
    frontend = Frontend(kind="logmel", options=FrontendOptions(n_mels=40), cmn=True)
    enc_cfg = ScratchEncoderConfig(n_input=frontend.dim, dim=32, n_layers=1, n_heads=2, ffn_dim=64, dropout=0.0)
    encoder = ScratchEncoder(enc_cfg)
    head = CtcHead(CtcHeadConfig(in_dim=32, dim=32, n_heads=2, vocab_size=len(CHAR_VOCAB), dropout=0.0))
    # Bias the blank down so that even random weights emit some CTC text: the pipeline
    # skips the LLM when the CTC head hears nothing, and the fixture must reach the LLM.
    with torch.no_grad():
        head.out.bias[0] = -20.0
    vocab = ["<pad>", "<bos>", "<eos>", "<transcribe>", "<understand>", "<audio>", "</audio>"]
    vocab += ["\u2581" + w for w in ("set", "a", "timer", "for", "five", "minutes", "turn", "on", "the", "lights")]
    vocab += list("abcdefghijklmnopqrstuvwxyz{}\":,_ ")
    llm_cfg = LLMConfig(vocab_size=len(vocab), dim=32, n_layers=2, n_heads=2, ffn_dim=64)
    lm = TinyLM(llm_cfg)
    adapter = StridedAdapter(StridedAdapterConfig(in_dim=32, llm_dim=32, stride=4, hidden_dim=64))

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        export_encoder(encoder, head, frontend.dim, t / "encoder.onnx")
        export_adapter(adapter, 32, t / "adapter.onnx")
        export_llm(lm, t / "llm_prefill.onnx", t / "llm_decode.onnx")
        np.save(t / "llm_embeddings.npy", lm.embed.weight.detach().numpy().astype(np.float32))
        ids = {p: i for i, p in enumerate(vocab)}
        manifest = {
            "name": "tiny-test-fixture",
            "fixture": True,
            "description": "randomly initialised; drives the runtime in tests; not a model",
            "sample_rate": 16000,
            "frontend": frontend.to_manifest(),
            "encoder": {"file": "encoder.onnx", "kind": "scratch", "frame_rate_hz": 50.0, "dim": 32,
                        "ctc_vocab": list(CHAR_VOCAB), "ctc_blank": 0},
            "adapter": {"file": "adapter.onnx", "kind": "strided", "stride": 4, "llm_rate_hz": 12.5},
            "llm": {
                "prefill": "llm_prefill.onnx", "decode": "llm_decode.onnx", "embeddings": "llm_embeddings.npy",
                "vocab": vocab, "bos_id": ids["<bos>"], "eos_id": ids["<eos>"], "pad_id": ids["<pad>"],
                "n_layers": llm_cfg.n_layers, "n_heads": llm_cfg.n_heads, "head_dim": llm_cfg.head_dim,
                "dim": llm_cfg.dim, "max_new_tokens_per_second": 6.5, "min_new_tokens": 8,
                "prompts": {
                    task: {"prefix": [ids["<bos>"], ids[f"<{task}>"], ids["<audio>"]], "suffix": [ids["</audio>"]]}
                    for task in ("transcribe", "understand")
                },
            },
            "opset": OPSET,
            "training": {"data": "none (random initialisation)"},
            "metrics": {},
        }
        files = {n: t / n for n in ("encoder.onnx", "adapter.onnx", "llm_prefill.onnx", "llm_decode.onnx", "llm_embeddings.npy")}
        return write_bundle(out_dir, manifest, files, {n: "fp32" for n in files}, overwrite=overwrite)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    a = p.parse_args()
    print(build_tiny_bundle(a.out_dir, seed=a.seed, overwrite=a.overwrite))


if __name__ == "__main__":
    main()
