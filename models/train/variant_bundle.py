"""A bundle for one tradeoff variant: the base bundle's encoder (+ CTC head), word LM and
licences, with this variant's adapter and LoRA-merged LLM exported beside them. Every
variant bundle loads and runs like the default one (Pipeline.load(path), the CLI)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from edge_audiollm.bundle import MANIFEST_NAME
from export.bundle_writer import write_bundle

from .build_bundle import export_llm_side


def fp32_encoder(path: Path, head, whisper: str = "tiny.en", log=print) -> Path:
    """The float32 encoder + CTC head graph the fp32 variants share (exported once, ~30 s)."""
    if not path.is_file():
        from export.graphs import export_encoder
        from export.whisper_import import load_whisper_encoder

        log(f"exporting the float32 Whisper {whisper} encoder to {path}")
        export_encoder(load_whisper_encoder(whisper), head, 80, path, lengths=(160, 503))
    return path


def build_variant_bundle(out_dir: Path, *, base: Path, name: str, adapter, lm, quantize: bool,
                         encoder_fp32: Path | None, training: dict, overwrite: bool = False, log=print) -> Path:
    manifest = json.loads((base / MANIFEST_NAME).read_text())
    base_files = manifest.pop("files")
    manifest.pop("format_version", None)
    with tempfile.TemporaryDirectory() as tmp:
        files, quant = export_llm_side(Path(tmp), adapter, lm, quantize)
        if quantize:
            files["encoder.onnx"], quant["encoder.onnx"] = base / "encoder.onnx", base_files["encoder.onnx"].get("quantization", "")
        else:
            if encoder_fp32 is None:
                raise ValueError("an fp32 variant needs the float32 encoder graph (fp32_encoder())")
            files["encoder.onnx"], quant["encoder.onnx"] = encoder_fp32, "fp32"
        for rel in base_files:
            if rel.startswith("licenses/") or rel == manifest.get("ctc_lm", {}).get("file"):
                files[rel] = base / rel
        spec = adapter.spec()
        manifest.update(
            name=name,
            description=f"tradeoff variant {name}: Whisper tiny.en encoder (frozen) + CTC head + {spec['kind']} "
                        f"adapter + small LLM (LoRA), trained on synthetic speech",
            adapter={"file": "adapter.onnx", **spec},
            default_decoder="llm",
            understand_input="audio",  # a variant is measured by what its adapter lets the LLM hear
            training=training,
            metrics={"valid": training.get("valid", {})},
        )
        out = write_bundle(out_dir, manifest, files, quant, overwrite=overwrite)
    log(f"bundle {name} written to {out}")
    return out


def build_codec_variant_bundle(out_dir: Path, *, base: Path, codec_dir: Path, name: str, adapter, lm, quantize: bool,
                               training: dict, overwrite: bool = False, log=print) -> Path:
    """The discrete path's bundle: the codec's encoder graph (waveform -> codes) in the encoder's
    place, this variant's token adapter and LLM; no CTC head (so no CTC decoder, no word LM)."""
    manifest = json.loads((base / MANIFEST_NAME).read_text())
    codec = json.loads((codec_dir / MANIFEST_NAME).read_text())
    codec_sha = codec["files"][codec["encoder"]["file"]]["sha256"]
    learned = training.get("codec_encoder_sha256")
    if learned is not None and learned != codec_sha:
        # a retrained codec emits other codes for the same audio: this adapter would read noise
        raise ValueError(f"{name}: its adapter learned the codes of another codec encoder (sha256 {learned[:12]}) "
                         f"than {codec_dir}'s ({codec_sha[:12]}); retrain it on that codec's tokens "
                         f"(encode_cache --encoder {codec_dir}, then models.train.tradeoff --only ... --retrain)")
    for key in ("files", "format_version", "ctc_lm"):
        manifest.pop(key, None)
    with tempfile.TemporaryDirectory() as tmp:
        files, quant = export_llm_side(Path(tmp), adapter, lm, quantize)
        files["encoder.onnx"] = codec_dir / codec["encoder"]["file"]
        quant["encoder.onnx"] = codec["files"][codec["encoder"]["file"]].get("quantization", "fp16")
        spec = adapter.spec()
        manifest.update(
            name=name,
            description=f"tradeoff variant {name}: the {codec['name']} codec's tokens ({spec['codebooks']} of its "
                        f"{codec['n_codebooks']} codebooks) -> embeddings -> small LLM (LoRA), trained on synthetic speech",
            encoder={"file": "encoder.onnx", "input": "waveform", "kind": "codec_tokens", "codec": codec["name"],
                     "frame_rate_hz": codec["frame_rate_hz"], "hop_samples": codec["hop_samples"],
                     "n_codebooks": codec["n_codebooks"], "codebook_size": codec["codebook_size"]},
            adapter={"file": "adapter.onnx", **spec},
            default_decoder="llm",
            understand_input="audio",
            slot_values_from_transcript=False,  # no CTC words to read them from
            training=training,
            metrics={"valid": training.get("valid", {})},
        )
        out = write_bundle(out_dir, manifest, files, quant, overwrite=overwrite)
    log(f"bundle {name} written to {out}")
    return out
