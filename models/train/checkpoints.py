"""Training checkpoints as safetensors (no pickle), float16 to keep committed ones small."""

from __future__ import annotations

from pathlib import Path

import torch


def save(module: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in module.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp))
    tmp.rename(path)  # a crash mid-write never leaves a half checkpoint under the real name


def load(module: torch.nn.Module, path: Path) -> bool:
    """Load weights if the checkpoint exists; False when there is none (stage must run)."""
    if not path.is_file():
        return False
    from safetensors.torch import load_file

    state = load_file(str(path))
    module.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
    return True
