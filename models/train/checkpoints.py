"""Training checkpoints as safetensors (no pickle), float16 to keep committed ones small;
float32 (and the optimizer's moments) where a training run must resume exactly."""

from __future__ import annotations

from pathlib import Path

import torch


def _save_tensors(state: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(tmp))
    tmp.rename(path)  # a crash mid-write never leaves a half checkpoint under the real name


def save(module: torch.nn.Module, path: Path, dtype: torch.dtype = torch.float16) -> None:
    _save_tensors({k: v.to(dtype) if v.is_floating_point() else v for k, v in module.state_dict().items()}, path)


def load(module: torch.nn.Module, path: Path) -> bool:
    """Load weights if the checkpoint exists; False when there is none (stage must run)."""
    if not path.is_file():
        return False
    from safetensors.torch import load_file

    state = load_file(str(path))
    module.load_state_dict({k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()})
    return True


def save_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> None:
    """The per-parameter state (Adam's moments and step) as flat tensors 'PARAM_INDEX.NAME'; the
    hyper-parameters are not saved: the caller rebuilds the optimizer from its config."""
    flat = {f"{i}.{name}": value if torch.is_tensor(value) else torch.tensor(value)
            for i, per_param in optimizer.state_dict()["state"].items() for name, value in per_param.items()}
    _save_tensors(flat, path)


def load_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> bool:
    if not path.is_file():
        return False
    from safetensors.torch import load_file

    state: dict[int, dict] = {}
    for key, value in load_file(str(path)).items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})
    return True
