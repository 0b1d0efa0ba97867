"""Export our WhisperEncoder to ONNX with a dynamic time axis.

Graph convention for encoder graphs:
    input  ``features``       float32 (1, T, n_mels), 100 frames/s
    output ``hidden``         float32 (1, ceil(T/2), D), 50 frames/s
    output ``hidden_states``  float32 (L+1, 1, ceil(T/2), D)   (only with all_layers=True)

The graph runs on the utterance's own length: the position table is sliced to the
frames present instead of padding every input to 30 s. T may go up to 3000 (30 s).

Uses the dynamo exporter (torch.export + onnxscript): the TorchScript exporter bakes
the traced length into attention reshapes (see shared/environment-notes.md).

    python -m export.export_whisper_encoder --source tiny.en --out build/whisper_tiny_en
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence, Union

from edge_audiollm.errors import BundleError

PathLike = Union[str, "os.PathLike[str]"]

INPUT_FRAME_RATE_HZ = 100
OUTPUT_FRAME_RATE_HZ = 50


@dataclass(frozen=True)
class WhisperExportOptions:
    opset: int = 18
    all_layers: bool = False  # also output every layer's hidden state, stacked
    min_frames: int = 2  # torch.export treats sizes 0/1 as special; 2 frames is 20 ms
    max_frames: int | None = None  # default: the model's 30 s (2 * max_positions)
    example_frames: int = 512


@dataclass(frozen=True)
class WhisperExportResult:
    path: Path
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    opset: int
    d_model: int
    num_hidden_states: int  # L + 1
    input_frame_rate_hz: int = INPUT_FRAME_RATE_HZ
    output_frame_rate_hz: int = OUTPUT_FRAME_RATE_HZ
    max_input_frames: int = 3000


def _graph_module(model, all_layers: bool):
    import torch

    class _Encoder(torch.nn.Module):
        # A wrapper so the exported signature has no Python flags.
        def __init__(self):
            super().__init__()
            self.encoder = model

        def forward(self, features):
            return self.encoder(features, output_hidden_states=all_layers)

    return _Encoder().eval()


def export_whisper_encoder(
    model, out_path: PathLike, options: WhisperExportOptions = WhisperExportOptions()
) -> WhisperExportResult:
    """Write ``model`` (a models.whisper_encoder.WhisperEncoder) as one ONNX file."""
    import torch

    cfg = model.cfg
    max_frames = options.max_frames or cfg.max_input_frames
    if max_frames > cfg.max_input_frames:
        raise BundleError(
            f"max_frames {max_frames} exceeds the position table ({cfg.max_input_frames} frames)"
        )
    if not options.min_frames <= options.example_frames <= max_frames:
        raise BundleError("example_frames must lie within [min_frames, max_frames]")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(1, options.example_frames, cfg.n_mels)
    frames = torch.export.Dim("frames", min=options.min_frames, max=max_frames)
    outputs = ("hidden", "hidden_states") if options.all_layers else ("hidden",)
    with torch.no_grad():
        program = torch.onnx.export(
            _graph_module(model, options.all_layers),
            (example,),
            dynamo=True,
            dynamic_shapes={"features": {1: frames}},
            input_names=["features"],
            output_names=list(outputs),
            opset_version=options.opset,
            external_data=False,
            verbose=False,
        )
    program.save(str(out))
    return WhisperExportResult(
        path=out,
        input_names=("features",),
        output_names=outputs,
        opset=options.opset,
        d_model=cfg.d_model,
        num_hidden_states=cfg.n_layers + 1,
        max_input_frames=max_frames,
    )


@dataclass(frozen=True)
class QuantizeOptions:
    # Quantising conv1/conv2 costs far more accuracy than it saves time (they are
    # ~5% of the MACs but see raw log-mel), so by default only MatMuls go to int8.
    keep_conv_float: bool = True
    per_channel: bool = True
    reduce_range: bool = False  # True only for CPUs without VNNI (avoids u8*s8 overflow)


def quantize_encoder_int8(
    src: PathLike, dst: PathLike, options: QuantizeOptions = QuantizeOptions()
) -> Path:
    """Dynamic int8 weight quantisation (activations quantised at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    op_types = ["MatMul", "Gemm"] if options.keep_conv_float else ["MatMul", "Gemm", "Conv"]
    quantize_dynamic(
        str(src),
        str(dst),
        op_types_to_quantize=op_types,
        per_channel=options.per_channel,
        reduce_range=options.reduce_range,
        weight_type=QuantType.QInt8,
    )
    return Path(dst)


def _main(argv: Sequence[str] | None = None) -> int:
    from export.whisper_import import find_packaged_whisper, load_whisper_encoder, whisper_provenance

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default="tiny.en", help="tiny.en | base | CT2 dir | HF checkpoint dir")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--all-layers", action="store_true", help="also output hidden_states")
    ap.add_argument("--int8", action="store_true", help="also write encoder.int8.onnx")
    args = ap.parse_args(argv)

    model = load_whisper_encoder(args.source)
    out = Path(args.out)
    res = export_whisper_encoder(model, out / "encoder.onnx", WhisperExportOptions(all_layers=args.all_layers))
    info = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(res).items()}
    if args.int8:
        info["int8_path"] = str(quantize_encoder_int8(res.path, out / "encoder.int8.onnx"))
    if args.source in ("tiny.en", "base"):
        prov = whisper_provenance(find_packaged_whisper(args.source)).to_manifest()
        (out / "WHISPER_LICENSE").write_text(prov.pop("license_text"), encoding="utf-8")
        info["weights"] = prov
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
