"""Whisper's text decoder from a CTranslate2 model.bin into the bundle's files.

Written into the output directory (what edge_audiollm/whisper_text.py reads):
- ``whisper_cross_kv.onnx``: encoder memory (1, S, D) -> every layer's cross keys/values (2L, 1, S, D)
- ``whisper_step.onnx``: (input embeddings, past self K/V, cross K/V) -> (hidden, present self K/V)
- ``whisper_tokens.onnx``: the kept tokens' embedding table in int8 (a scale per token), once,
  read two ways (tied, as Whisper trained it): hidden -> logits, and token ids -> embeddings
- ``whisper_positions.npy``: the learned position table, float16
- ``whisper_silence.npy``: the encoder's output for 30 s of digital silence, float16; the runtime
  splices its frames after the utterance's own, so the decoder sees the 1500-frame memory it was
  trained on (cut to the utterance's length alone, it loops and hallucinates) while the encoder
  ran only on the speech.
- ``whisper_vocab.json``: the kept token ids, their byte-level BPE strings and the special ids.

The vocabulary is pruned to the 256 byte tokens (any text stays spellable) and the
``keep_tokens`` most frequent others in English prose as Whisper writes it (token_counts), plus
the special tokens the runtime needs; the rest of the 51,864-row embedding never ships. Keeping
the first ids instead loses common words (" clubs" is id 9,000-odd: "10 of Clobes"); 16,384 by
frequency wrote what the full vocabulary writes on the real and held-out sets, 8,192 did not
(docs/default_bundle.md).

    python -m export.whisper_decoder_export --bundle edge_audiollm/bundles/default   # add it to a bundle
    python -m export.whisper_decoder_export --encoder ENCODER.onnx OUT_DIR           # files only
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from edge_audiollm.errors import BundleError
from export.whisper_ct2 import CT2Model, iter_layer_indices, read_ct2_model
from export.whisper_import import WhisperSource, _read_vocabulary, find_packaged_whisper
from models.whisper_decoder import CrossKVGraph, StepGraph, WhisperDecoder, WhisperDecoderConfig

SPECIALS = ("<|endoftext|>", "<|startoftranscript|>", "<|notimestamps|>", "<|nospeech|>", "<|nocaptions|>")
SILENCE_SECONDS = 30


def ct2_decoder_state(ct2: CT2Model) -> tuple[WhisperDecoderConfig, dict[str, np.ndarray]]:
    """CTranslate2 decoder variables -> float32 arrays under models/whisper_decoder.py's names.

    CTranslate2 fuses self-attention q/k/v into ``linear_0`` and cross-attention k/v into
    ``attention/linear_1`` (rows k, v); Whisper's keys have no bias (stored as zeros).
    """
    emb = ct2.dequantized("decoder/embeddings/weight")
    pos = ct2.dequantized("decoder/position_encodings/encodings")
    layers = list(iter_layer_indices(ct2, "decoder/layer_"))
    d = emb.shape[1]
    ffn = ct2.dequantized("decoder/layer_0/ffn/linear_0/weight").shape[0]
    cfg = WhisperDecoderConfig(d_model=d, n_layers=len(layers), n_heads=ct2.scalar("decoder/num_heads"),
                               ffn_dim=ffn, max_positions=pos.shape[0], vocab_size=emb.shape[0])
    out: dict[str, np.ndarray] = {"embed_tokens.weight": emb, "embed_positions.weight": pos,
                                  "layer_norm.weight": ct2.dequantized("decoder/layer_norm/gamma"),
                                  "layer_norm.bias": ct2.dequantized("decoder/layer_norm/beta")}

    def split(name: str, parts: Sequence[str], prefix: str) -> None:
        w, b = ct2.dequantized(f"{name}/weight"), ct2.dequantized(f"{name}/bias")
        if w.shape != (len(parts) * d, d):
            raise BundleError(f"{name}: fused weight has shape {w.shape}, want {(len(parts) * d, d)}")
        for j, part in enumerate(parts):
            out[f"{prefix}.{part}.weight"] = w[j * d:(j + 1) * d]
            if not part.endswith("_k"):
                out[f"{prefix}.{part}.bias"] = b[j * d:(j + 1) * d]

    def put(ours: str, theirs: str) -> None:
        out[f"{ours}.weight"] = ct2.dequantized(f"{theirs}/weight" if "norm" not in theirs else f"{theirs}/gamma")
        out[f"{ours}.bias"] = ct2.dequantized(f"{theirs}/bias" if "norm" not in theirs else f"{theirs}/beta")

    for i in layers:
        c, h = f"decoder/layer_{i}", f"layers.{i}"
        split(f"{c}/self_attention/linear_0", ("self_q", "self_k", "self_v"), h)
        put(f"{h}.self_out", f"{c}/self_attention/linear_1")
        put(f"{h}.self_attn_layer_norm", f"{c}/self_attention/layer_norm")
        put(f"{h}.cross_q", f"{c}/attention/linear_0")
        split(f"{c}/attention/linear_1", ("cross_k", "cross_v"), h)
        put(f"{h}.cross_out", f"{c}/attention/linear_2")
        put(f"{h}.cross_attn_layer_norm", f"{c}/attention/layer_norm")
        put(f"{h}.fc1", f"{c}/ffn/linear_0")
        put(f"{h}.fc2", f"{c}/ffn/linear_1")
        put(f"{h}.final_layer_norm", f"{c}/ffn/layer_norm")
    return cfg, {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def load_whisper_decoder(source: WhisperSource) -> WhisperDecoder:
    cfg, state = ct2_decoder_state(read_ct2_model(source.model_bin_parts))
    model = WhisperDecoder(cfg)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    if missing or unexpected:
        raise BundleError(f"Whisper decoder weights do not fit: missing {missing}, unexpected {unexpected}")
    return model.eval()


@dataclass(frozen=True)
class DecoderExportOptions:
    keep_tokens: int = 16384  # byte tokens + the most frequent others in English prose
    quantize: str | None = "int4"  # the step and cross graphs' weights: "int8" (dynamic), "int4" (MatMulNBits) or None


def token_counts(support_dir: Path, texts: Sequence[str] | None = None) -> dict[int, int]:
    """How often each Whisper token occurs in English prose as Whisper writes it (cased,
    punctuated): by default the Debian text packages the corpus builder reads (fortunes,
    WordNet's glosses and examples, GCIDE's quotations) and the intent domain's commands."""
    import collections

    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(support_dir / "tokenizer.json"))
    if texts is None:
        from models.data import texts_general

        texts = texts_general._fortunes() + texts_general._wordnet() + texts_general._gcide() + _schema_strings()
        if len(texts) < 10000:
            raise BundleError(f"only {len(texts)} English sentences found to rank Whisper's tokens by; "
                              "apt-get install -y fortunes wordnet-base dict-gcide")
    counts: collections.Counter = collections.Counter()
    for enc in tokenizer.encode_batch([" " + t for t in texts], add_special_tokens=False):
        counts.update(enc.ids)
    return dict(counts)


def _schema_strings() -> list[str]:
    """Every string in the intent schema (intent names, slot descriptions, example values)."""
    from edge_audiollm.intents import SCHEMA_PATH

    out: list[str] = []

    def walk(x) -> None:
        if isinstance(x, str):
            out.append(x.replace("_", " "))
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(json.loads(SCHEMA_PATH.read_text()))
    return out


def kept_vocabulary(vocab: list[str], keep_tokens: int, counts: dict[int, int]) -> tuple[list[int], dict[str, int]]:
    """Ids kept in the shipped embedding (the 256 byte tokens, so any text stays spellable, and
    the most frequent others), and the special tokens' ids in the full vocabulary."""
    ids = {tok: i for i, tok in enumerate(vocab)}
    missing = [s for s in SPECIALS[:3] if s not in ids]
    if missing:
        raise BundleError(f"Whisper vocabulary lacks {missing}: not an English Whisper tokenizer")
    specials = {s: ids[s] for s in SPECIALS if s in ids}
    first_special = ids["<|endoftext|>"]
    frequent = sorted((i for i in counts if 256 <= i < first_special), key=lambda i: (-counts[i], i))
    kept = set(range(256)) | set(frequent[: max(0, keep_tokens - 256)]) | set(specials.values())
    return sorted(kept), specials


def quantize_rows_int8(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V, D) float -> the int8 table stored (D, V), as MatMulInteger reads it, and one scale
    per token. (8-bit blocks of 32 through MatMulNBits read valid worse: 41.7 against 40.3% WER,
    and 4-bit blocks lost 3 points on held-out sentences.)"""
    scales = (np.maximum(np.abs(emb).max(axis=1), 1e-8) / 127.0).astype(np.float32)
    table = np.round(emb / scales[:, None]).astype(np.int8)
    return np.ascontiguousarray(table.T), scales


def tokens_graph(path: Path, table: np.ndarray, scales: np.ndarray, opset: int = 17) -> Path:
    """The kept tokens' int8 embedding table (D, V), once, read two ways (Whisper ties them):
    ``logits`` (1, V) = hidden (1, D) times the table (MatMulInteger on the hidden quantized on
    the fly), and ``embeddings`` (n, D) = the columns of ``ids`` (n,), dequantized. A run asks
    for one output and feeds a dummy for the other input. The table is an initializer:
    onnxruntime prepacks it (0.09 ms a step here; fed as an input, 0.4-0.7 ms)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    d, v = table.shape
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["hidden"], ["h_q", "h_scale", "h_zero"]),
        helper.make_node("MatMulInteger", ["h_q", "table", "h_zero"], ["acc"]),
        helper.make_node("Cast", ["acc"], ["acc_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["acc_f", "h_scale"], ["unscaled"]),
        helper.make_node("Mul", ["unscaled", "scales"], ["logits"]),
        helper.make_node("Gather", ["table", "ids"], ["columns"], axis=1),
        helper.make_node("Transpose", ["columns"], ["rows"], perm=[1, 0]),
        helper.make_node("Cast", ["rows"], ["rows_f"], to=TensorProto.FLOAT),
        helper.make_node("Gather", ["scales", "ids"], ["picked"], axis=0),
        helper.make_node("Unsqueeze", ["picked", "last_axis"], ["picked_2d"]),
        helper.make_node("Mul", ["rows_f", "picked_2d"], ["embeddings"]),
    ]
    inits = [numpy_helper.from_array(table, "table"), numpy_helper.from_array(scales, "scales"),
             numpy_helper.from_array(np.array([1], np.int64), "last_axis")]
    graph = helper.make_graph(
        nodes, "whisper_tokens",
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, d]),
         helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, v]),
         helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["n", d])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def _suppressed_ids(support_dir: Path, kept: set[int]) -> list[int]:
    """Whisper's own list of tokens never to write (quotes, brackets, music notes...), as kept ids."""
    path = support_dir / "config.json"
    ids = json.loads(path.read_text()).get("suppress_ids", []) if path.is_file() else []
    return sorted(i for i in ids if i in kept)


def _silence_memory(encoder_onnx: Path) -> np.ndarray:
    from edge_audiollm.features_whisper import whisper_log_mel
    from edge_audiollm.runtime import make_session

    session = make_session(encoder_onnx, ["cpu"], threads=1)
    feats = whisper_log_mel(np.zeros(SILENCE_SECONDS * 16000, np.float32))[None]
    (hidden,) = session.run({session.input_names[0]: feats}, ["hidden"])
    return hidden[0]


FILES = {"cross_kv": "whisper_cross_kv.onnx", "step": "whisper_step.onnx", "tokens": "whisper_tokens.onnx",
         "positions": "whisper_positions.npy", "silence": "whisper_silence.npy", "vocab": "whisper_vocab.json"}


def export_whisper_decoder(out_dir: Path, encoder_onnx: Path, source: WhisperSource | None = None,
                           options: DecoderExportOptions = DecoderExportOptions(),
                           counts: dict[int, int] | None = None) -> dict:
    """Write the decoder's files into out_dir; returns the manifest section describing them.
    counts: token frequencies to rank the kept vocabulary by (default: token_counts over the
    Debian text packages)."""
    from export.onnx_export import check_parity, export_onnx
    from export.quantize import quantize_graph

    source = source or find_packaged_whisper("tiny.en")
    # ranked first: a machine without the Debian texts fails here, not after the export
    counts = counts if counts is not None else token_counts(source.support_dir)
    model = load_whisper_decoder(source)
    cfg = model.cfg
    out_dir.mkdir(parents=True, exist_ok=True)
    d, two_l = cfg.d_model, 2 * cfg.n_layers
    S = torch.export.Dim("frames", min=2, max=4096)
    N = torch.export.Dim("tokens", min=1, max=cfg.max_positions)
    B = torch.export.Dim("beam", min=1, max=16)
    P = torch.export.Dim("past", min=0, max=cfg.max_positions)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        cross_graph, step_graph = CrossKVGraph(model), StepGraph(model)
        cross_f32 = export_onnx(cross_graph, (torch.randn(1, 37, d),), tmp_dir / "cross.onnx",
                                input_names=["memory"], output_names=["cross_kv"], dynamic_shapes=({1: S},))
        check_parity(cross_graph, cross_f32, lambda n: (torch.randn(1, n, d),), [5, 1500])
        example = (torch.randn(2, 3, d), torch.randn(two_l, 2, 5, d), torch.randn(two_l, 1, 37, d), torch.rand(37))
        step_f32 = export_onnx(step_graph, example, tmp_dir / "step.onnx",
                               input_names=["inputs_embeds", "past_kv", "cross_kv", "cross_bias"],
                               output_names=["hidden", "present_kv"],
                               dynamic_shapes=({0: B, 1: N}, {1: B, 2: P}, {2: S}, {0: S}))
        # lengths n: memory frames; a beam of 1 + n % 3 hypotheses with n // 2 past tokens
        check_parity(step_graph, step_f32, lambda n: (torch.randn(1 + n % 3, 1 if n % 2 else 3, d),
                                                      torch.randn(two_l, 1 + n % 3, n // 2, d),
                                                      torch.randn(two_l, 1, n, d), torch.rand(n) * 4),
                     [1, 8, 1500], atol=2e-4)
        quant = {}
        for src, name in ((cross_f32, FILES["cross_kv"]), (step_f32, FILES["step"])):
            if options.quantize:
                quant[name] = quantize_graph(src, out_dir / name, options.quantize)
            else:
                (out_dir / name).write_bytes(src.read_bytes())
    vocab = _read_vocabulary(source.support_dir)
    kept, specials = kept_vocabulary(vocab, options.keep_tokens, counts)
    emb = model.embed_tokens.weight.detach().numpy()[kept]
    tokens_graph(out_dir / FILES["tokens"], *quantize_rows_int8(emb))
    quant[FILES["tokens"]] = "int8-per-token"
    np.save(out_dir / FILES["positions"], model.embed_positions.weight.detach().numpy().astype(np.float16),
            allow_pickle=False)
    np.save(out_dir / FILES["silence"], _silence_memory(encoder_onnx).astype(np.float16), allow_pickle=False)
    (out_dir / FILES["vocab"]).write_text(json.dumps(
        {"ids": kept, "tokens": [vocab[i] for i in kept], "specials": specials,
         "suppress": _suppressed_ids(source.support_dir, set(kept))}, ensure_ascii=False))
    return {"d_model": d, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads, "max_positions": cfg.max_positions,
            "kept_tokens": len(kept), "full_vocab": cfg.vocab_size, "silence_seconds": SILENCE_SECONDS,
            "quantization": quant}


def add_whisper_text(bundle_dir: Path, source: WhisperSource | None = None,
                     options: DecoderExportOptions = DecoderExportOptions(), *, default_decoder: str | None = "whisper",
                     counts: dict[int, int] | None = None) -> dict:
    """Export Whisper's text decoder into an existing Whisper-encoder bundle and list it in its
    manifest (files with sha256, the ``whisper_text`` section, the source's provenance). The
    export runs in a temporary directory, so a failed export leaves the bundle as it was; only
    then are the decoder's files copied in and the manifest replaced. The bundle's other files
    are not touched."""
    from edge_audiollm.bundle import MANIFEST_NAME, read_manifest, sha256_file
    from export.whisper_import import whisper_provenance

    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    kind = manifest["encoder"].get("kind", "")
    if not kind.startswith("whisper-"):
        raise BundleError(f"{bundle_dir}: encoder {kind!r} is not a Whisper encoder; Whisper's decoder reads only its states")
    model_name = kind[len("whisper-"):]
    source = source or find_packaged_whisper(model_name)
    with tempfile.TemporaryDirectory() as tmp:
        info = export_whisper_decoder(Path(tmp), bundle_dir / manifest["encoder"]["file"], source, options, counts)
        for name in FILES.values():
            (bundle_dir / name).write_bytes((Path(tmp) / name).read_bytes())
    # files of an earlier layout of the decoder leave the bundle with their manifest entries
    stale = {v for v in manifest.get("whisper_text", {}).values() if isinstance(v, str)} - set(FILES.values())
    for name in sorted(stale & set(manifest["files"])):
        del manifest["files"][name]
        (bundle_dir / name).unlink(missing_ok=True)
    for name in FILES.values():
        entry = {"sha256": sha256_file(bundle_dir / name), "bytes": (bundle_dir / name).stat().st_size}
        if name in info["quantization"]:
            entry["quantization"] = info["quantization"][name]
        manifest["files"][name] = entry
    from edge_audiollm.whisper_text import DEFAULT_BEAMS

    manifest["whisper_text"] = {**FILES, **{k: v for k, v in info.items() if k != "quantization"},
                                "beam_size": dict(DEFAULT_BEAMS)}
    prov = whisper_provenance(source).to_manifest()
    sources = [s for s in manifest.get("sources", []) if s.get("model_bin_sha256") != prov.get("model_bin_sha256")]
    manifest["sources"] = sources + [{**prov, "used_for": ["encoder", "text decoder"]}]
    if default_decoder is not None:
        manifest["default_decoder"] = default_decoder
    tmp_manifest = bundle_dir / (MANIFEST_NAME + ".tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    tmp_manifest.replace(bundle_dir / MANIFEST_NAME)
    return manifest["whisper_text"]


def _main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, nargs="?", help="directory for the files alone (with --encoder)")
    ap.add_argument("--bundle", type=Path, help="a Whisper-encoder bundle to add the decoder to (its default decoder becomes it)")
    ap.add_argument("--encoder", type=Path, help="an encoder.onnx (for the silence memory), with OUT")
    ap.add_argument("--keep-tokens", type=int, default=DecoderExportOptions.keep_tokens)
    ap.add_argument("--quantize", choices=("int8", "int4", "fp32"), default="int4", help="step and cross graphs' weights")
    args = ap.parse_args(argv)
    options = DecoderExportOptions(args.keep_tokens, None if args.quantize == "fp32" else args.quantize)
    if args.bundle is not None:
        info = add_whisper_text(args.bundle, None, options)
    elif args.out is not None and args.encoder is not None:
        info = export_whisper_decoder(args.out, args.encoder, None, options)
    else:
        ap.error("give --bundle BUNDLE, or --encoder ENCODER.onnx OUT")
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
