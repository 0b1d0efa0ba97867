"""Assemble a bundle directory: files + manifest.json with a sha256, size and
quantization for each. Never writes into a directory that already holds something."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from edge_audiollm.bundle import FORMAT_VERSION, MANIFEST_NAME, sha256_file


class BundleExistsError(FileExistsError):
    pass


def write_bundle(out_dir: Path, manifest: dict, files: dict[str, Path], quantization: dict[str, str] | None = None,
                 *, overwrite: bool = False) -> Path:
    """Copy `files` (bundle-relative name -> source path) into out_dir and write the manifest."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise BundleExistsError(f"{out_dir} is not empty; choose a new directory or pass overwrite=True")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    quantization = quantization or {}
    entries = {}
    for name, src in files.items():
        dst = out_dir / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if Path(src).resolve() != dst.resolve():
            shutil.copyfile(src, dst)
        entry = {"sha256": sha256_file(dst), "bytes": dst.stat().st_size}
        if name in quantization:
            entry["quantization"] = quantization[name]
        entries[name] = entry
    full = {"format_version": FORMAT_VERSION, **manifest, "files": entries}
    (out_dir / MANIFEST_NAME).write_text(json.dumps(full, indent=1) + "\n", encoding="utf-8")
    return out_dir
