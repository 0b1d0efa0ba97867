"""Weight quantization of exported graphs, three ways, one call:

  int8          onnxruntime's quantize_dynamic: MatMul/Gemm weights int8 per channel,
                activations quantised at run time, convolutions left float (the shipped default)
  optimum-<cpu> the same dynamic int8 through optimum's ORTQuantizer with its
                AutoQuantizationConfig for a target CPU: avx512_vnni (this machine), avx2, arm64
                (Raspberry Pi 4/5, Jetson), so a board gets the settings made for it
  int4          onnxruntime's MatMulNBits: 4-bit block-wise weights (block 32, symmetric) for
                the MatMuls of the LLM graphs; a quarter of int8's weight bytes, the usual
                choice for LLM weights on small boards
  fp16-weights  float weights stored as float16 and cast back to float32 where they enter the
                graph (ONNX Runtime folds the casts at load), so the file halves and the compute
                stays float32: for convolutional graphs such as the codec's, which int8 hurts
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .export_whisper_encoder import QuantizeOptions, quantize_encoder_int8

OPTIMUM_TARGETS = ("avx512_vnni", "avx512", "avx2", "arm64")
METHODS = ("int8", "int4", "fp16-weights", *(f"optimum-{t}" for t in OPTIMUM_TARGETS))


def quantize_graph(src: Path, dst: Path, method: str, *, keep_conv_float: bool = True) -> str:
    """Quantize src into dst; returns the label the bundle manifest records."""
    if method == "int8":
        quantize_encoder_int8(src, dst, QuantizeOptions(keep_conv_float=keep_conv_float))
        return "int8-dynamic-matmul"
    if method.startswith("optimum-"):
        return _optimum(src, dst, method.removeprefix("optimum-"), keep_conv_float)
    if method == "int4":
        return _matmul_nbits(src, dst)
    if method == "fp16-weights":
        return _fp16_weights(src, dst)
    raise ValueError(f"unknown quantization {method!r}; choose one of {', '.join(METHODS)}")


def _optimum(src: Path, dst: Path, target: str, keep_conv_float: bool) -> str:
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    if target not in OPTIMUM_TARGETS:
        raise ValueError(f"unknown optimum target {target!r}; choose one of {', '.join(OPTIMUM_TARGETS)}")
    ops = ["MatMul", "Gemm"] if keep_conv_float else ["MatMul", "Gemm", "Conv"]
    config = getattr(AutoQuantizationConfig, target)(is_static=False, per_channel=True, operators_to_quantize=ops)
    with tempfile.TemporaryDirectory() as tmp:
        # ORTQuantizer reads a model directory and writes <stem>_quantized.onnx into save_dir
        work = Path(tmp) / "in"
        work.mkdir()
        shutil.copyfile(src, work / "model.onnx")
        out = ORTQuantizer.from_pretrained(work, file_name="model.onnx").quantize(config, Path(tmp) / "out")
        shutil.copyfile(Path(out) / "model_quantized.onnx", dst)
    return f"int8-dynamic-optimum-{target}"


def _fp16_weights(src: Path, dst: Path, min_elements: int = 256) -> str:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    casts, keep = [], []
    for init in graph.initializer:
        value = numpy_helper.to_array(init) if init.data_type == onnx.TensorProto.FLOAT else None
        # a tensor with values past float16's range (65504) stays float32: cast, it would turn to inf
        if (value is not None and value.size >= min_elements
                and float(np.abs(value).max(initial=0.0)) <= float(np.finfo(np.float16).max)):
            half = numpy_helper.from_array(value.astype(np.float16), init.name + "__fp16")
            keep.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                          name=init.name + "__to_fp32"))
        else:
            keep.append(init)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = casts + list(graph.node)  # the casts first: the graph stays topologically sorted
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return "fp16-weights"


def _matmul_nbits(src: Path, dst: Path, block_size: int = 32) -> str:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    model = onnx.load(str(src))
    # accuracy_level 4: int8 compute for the dequantised blocks, the fast path on x86 and arm64
    q = MatMulNBitsQuantizer(model, bits=4, block_size=block_size, is_symmetric=True, accuracy_level=4)
    q.process()
    onnx.save(q.model.model, str(dst))
    return f"int4-matmulnbits-b{block_size}"


def requantize_bundle(src: Path, out: Path, methods: dict[str, str], *, name: str, overwrite: bool = False) -> Path:
    """A float32 bundle with some of its graphs quantized: methods maps a graph file
    ("encoder.onnx", "llm_prefill.onnx", ...) to a method of METHODS; the rest are copied."""
    import json

    from edge_audiollm.bundle import MANIFEST_NAME

    from .bundle_writer import write_bundle

    manifest = json.loads((src / MANIFEST_NAME).read_text())
    listed = manifest.pop("files")
    manifest.pop("format_version", None)
    unknown = set(methods) - set(listed)
    if unknown:
        raise ValueError(f"{src}: no graph {sorted(unknown)} in the bundle; it lists {sorted(listed)}")
    with tempfile.TemporaryDirectory() as tmp:
        files, quant = {}, {}
        for rel, entry in listed.items():
            if rel in methods:
                files[rel] = Path(tmp) / rel
                quant[rel] = quantize_graph(src / rel, files[rel], methods[rel])
            else:
                files[rel] = src / rel
                if "quantization" in entry:
                    quant[rel] = entry["quantization"]
        manifest["name"] = name
        return write_bundle(out, manifest, files, quant, overwrite=overwrite)
