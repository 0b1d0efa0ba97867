"""`edge-audiollm info`: versions, execution providers and bundle manifests."""

from __future__ import annotations

import json
import platform
from importlib import metadata

from . import __version__
from .bundle import load_bundle, shipped_bundles
from .errors import EdgeAudioError


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def bundle_summary(name_or_path) -> dict:
    b = load_bundle(name_or_path)
    m = b.manifest
    return {
        "name": b.name,
        "path": str(b.path),
        "format_version": m["format_version"],
        "size_mb": round(b.size_bytes / 1e6, 2),
        "frontend": m["frontend"].get("kind"),
        "encoder": m["encoder"].get("kind"),
        "encoder_rate_hz": m["encoder"].get("frame_rate_hz"),
        "adapter": m.get("adapter", {}).get("kind"),
        "llm_rate_hz": m.get("adapter", {}).get("llm_rate_hz"),
        "quantization": {k: v.get("quantization") for k, v in m["files"].items() if "quantization" in v},
        "sources": m.get("sources", []),
        "metrics": m.get("metrics", {}),
        "fixture": bool(m.get("fixture", False)),
    }


def collect(bundle=None) -> dict:
    from .runtime import available_providers

    names = [bundle] if bundle else shipped_bundles()
    bundles, errors = [], []
    for name in names:
        try:
            bundles.append(bundle_summary(name))
        except EdgeAudioError as exc:
            if bundle:
                raise
            errors.append(str(exc))
    return {
        "edge_audiollm": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "numpy": _version("numpy"),
        "onnxruntime": _version("onnxruntime"),
        "providers_available": available_providers(),
        "bundles": bundles,
        "bundle_errors": errors,
    }


def run_info(args) -> int:
    data = collect(args.bundle)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"edge-audiollm {data['edge_audiollm']}  python {data['python']} ({data['machine']})")
    print(f"numpy {data['numpy']}  onnxruntime {data['onnxruntime']}")
    print(f"providers available: {', '.join(data['providers_available'])}")
    if not data["bundles"]:
        print("bundles: none shipped in this install (pass --bundle DIR to inspect one)")
    for b in data["bundles"]:
        print(f"bundle {b['name']}: {b['size_mb']} MB at {b['path']}")
        # CTC-guided and whole-utterance Q-Former adapters have no fixed rate: it follows the content
        rate = "content-adaptive rate" if b["llm_rate_hz"] is None else f"{b['llm_rate_hz']:g} Hz"
        print(f"  {b['frontend']} -> encoder {b['encoder']} ({b['encoder_rate_hz']} Hz) -> adapter {b['adapter']} ({rate})")
        for s in b["sources"]:
            print(f"  {s.get('upstream', 'weights')} from {s.get('source_package')} {s.get('source_version')} "
                  f"({s.get('license')}, sha256 {str(s.get('model_bin_sha256'))[:12]}...)")
    for e in data["bundle_errors"]:
        print(f"bundle error: {e}")
    return 0
