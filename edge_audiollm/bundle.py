"""Bundles: a directory with manifest.json and the files it lists, each with its sha256.

Loading checks the format version and every hash before any graph is opened, so a
tampered, truncated or half-copied bundle is refused with a message saying which file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import BundleError

FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
MANIFEST_NAME = "manifest.json"
BUNDLES_DIR = Path(__file__).parent / "bundles"
# The shipped codec bundle (edge_audiollm/codec.py) lives beside the pipeline bundles but is not one.
CODEC_BUNDLE_NAME = "codec"
_REQUIRED_KEYS = ("format_version", "name", "sample_rate", "frontend", "encoder", "files")


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def has_llm(self) -> bool:
        return "llm" in self.manifest and "adapter" in self.manifest

    def file(self, relative: str) -> Path:
        if relative not in self.manifest["files"]:
            raise BundleError(f"bundle {self.path}: manifest names {relative!r} but does not list its hash under 'files'")
        return self.path / relative

    @property
    def size_bytes(self) -> int:
        return sum(int(v.get("bytes", 0)) for v in self.manifest["files"].values())


def shipped_bundles() -> list[str]:
    if not BUNDLES_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLES_DIR.iterdir() if (p / MANIFEST_NAME).is_file() and p.name != CODEC_BUNDLE_NAME)


def resolve_bundle_path(name_or_path: str | os.PathLike) -> Path:
    """A shipped bundle's name ("default") or a directory path."""
    text = os.fspath(name_or_path)
    candidate = Path(text)
    if candidate.is_dir():
        return candidate
    if os.sep not in text and (BUNDLES_DIR / text).is_dir():
        return BUNDLES_DIR / text
    shipped = shipped_bundles()
    hint = f"shipped bundles: {', '.join(shipped)}" if shipped else "this install ships no trained bundle yet"
    raise BundleError(f"bundle {text!r} not found: pass a bundle directory or a shipped name ({hint})")


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: Path, required: tuple[str, ...] = _REQUIRED_KEYS) -> dict:
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise BundleError(f"{path}: not a bundle (no {MANIFEST_NAME}); pass a directory made by `edge-audiollm export`")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{manifest_path}: not valid JSON ({exc}); the bundle is damaged, rebuild or re-copy it") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{manifest_path}: must hold a JSON object")
    missing = [k for k in required if k not in manifest]
    if missing:
        raise BundleError(f"{manifest_path}: missing {', '.join(missing)}; the bundle is incomplete")
    version = manifest["format_version"]
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise BundleError(
            f"{manifest_path}: bundle format version {version!r} is not supported by this edge_audiollm "
            f"(supports {', '.join(map(str, SUPPORTED_FORMAT_VERSIONS))}); upgrade the package or re-export the bundle"
        )
    return manifest


def verify_files(path: Path, manifest: dict) -> None:
    files = manifest["files"]
    if not isinstance(files, dict) or not files:
        raise BundleError(f"{path / MANIFEST_NAME}: 'files' must map each file to its sha256")
    for relative, entry in files.items():
        target = (path / relative).resolve()
        if path.resolve() not in target.parents:
            raise BundleError(f"{path}: manifest lists {relative!r}, which is outside the bundle directory")
        if not target.is_file():
            raise BundleError(f"{path}: file {relative!r} listed in the manifest is missing; re-copy the bundle")
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        if not expected:
            raise BundleError(f"{path}: no sha256 for {relative!r} in the manifest")
        actual = sha256_file(target)
        if actual != expected:
            raise BundleError(
                f"{path}: {relative!r} does not match its sha256 in the manifest "
                f"(expected {expected[:12]}..., got {actual[:12]}...); the file was modified or damaged, re-copy the bundle"
            )


def load_bundle(name_or_path: str | os.PathLike = "default", *, verify: bool = True) -> Bundle:
    path = resolve_bundle_path(name_or_path)
    manifest = read_manifest(path)
    if verify:
        verify_files(path, manifest)
    return Bundle(path=path, manifest=manifest)
