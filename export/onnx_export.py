"""torch -> ONNX with a dynamic time axis, checked twice: onnx.checker on the graph and
ONNX Runtime against torch on inputs of several lengths (a traced length baked into a
reshape only shows at another length)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import onnx
import torch

from edge_audiollm.runtime import make_session

OPSET = 18


@dataclass(frozen=True)
class ParityReport:
    max_abs_diff: float
    lengths: tuple[int, ...]


class ParityError(RuntimeError):
    pass


def export_onnx(
    module: torch.nn.Module,
    example_inputs: tuple,
    path: Path,
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_shapes: dict | tuple | None,
    opset: int = OPSET,
) -> Path:
    module.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            module,
            example_inputs,
            str(path),
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_shapes=dynamic_shapes,
            opset_version=opset,
            dynamo=True,  # the TorchScript exporter bakes the traced length into reshapes
            external_data=False,
            optimize=True,
            verbose=False,
        )
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    return path


def check_parity(
    module: torch.nn.Module,
    path: Path,
    make_inputs: Callable[[int], tuple],
    lengths: Sequence[int],
    *,
    atol: float = 1e-4,
    relative: bool = False,
) -> ParityReport:
    """Run torch and ONNX Runtime on make_inputs(n) for every n; fail above atol. relative: measure
    the difference against max(1, the output's largest magnitude), for outputs such as spectra whose
    scale spans orders of magnitude (an exp amplifies float rounding with the value)."""
    session = make_session(path, ["cpu"], threads=1)
    names = session.input_names
    worst = 0.0
    module.eval()
    for n in lengths:
        inputs = make_inputs(n)
        with torch.no_grad():
            expected = module(*inputs)
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        got = session.run({k: v.numpy() for k, v in zip(names, inputs)})
        for e, g in zip(expected, got):
            if tuple(e.shape) != g.shape:
                raise ParityError(f"{path.name}: shape {g.shape} from ONNX Runtime, {tuple(e.shape)} from torch at length {n}")
            scale = max(1.0, float(np.max(np.abs(g)))) if relative and g.size else 1.0
            worst = max(worst, float(np.max(np.abs(e.numpy() - g))) / scale if g.size else 0.0)
    if worst > atol:
        raise ParityError(f"{path.name}: ONNX Runtime differs from torch by {worst:.3g} (> {atol})")
    return ParityReport(worst, tuple(lengths))
