"""runtime.py and bundle.py: explicit providers with reported fallback; tampered bundles refused."""

import json
import warnings

import pytest

from edge_audiollm.bundle import load_bundle
from edge_audiollm.errors import BundleError, ProviderError
from edge_audiollm.runtime import ProviderFallbackWarning, available_providers, make_session, resolve_providers


def test_cpu_session_reports_cpu(tiny_bundle):
    m = make_session(tiny_bundle / "encoder.onnx", ["cpu"], threads=1)
    assert m.provider == "cpu" and not m.fell_back
    assert m.input_names == ("features",) and m.output_names == ("hidden", "ctc_log_probs")


def test_missing_provider_falls_back_to_cpu_with_a_warning(tiny_bundle):
    missing = next(p for p in ("cuda", "tensorrt", "qnn", "coreml") if p not in available_providers())
    with pytest.warns(ProviderFallbackWarning, match=f"{missing}.*not available"):
        m = make_session(tiny_bundle / "encoder.onnx", [missing], threads=1)
    assert m.provider == "cpu" and m.fell_back and m.requested == (missing,)


def test_auto_and_unknown_providers():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chosen, fell_back = resolve_providers(["auto"])
    assert chosen[-1] == "CPUExecutionProvider" and not fell_back
    with pytest.raises(ProviderError, match="unknown provider 'gpu'"):
        resolve_providers(["gpu"])


def test_threads_must_be_positive(tiny_bundle):
    with pytest.raises(ProviderError, match="threads"):
        make_session(tiny_bundle / "encoder.onnx", ["cpu"], threads=0)


def test_bundle_loads_and_verifies(tiny_bundle):
    b = load_bundle(tiny_bundle)
    assert b.name == "tiny-test-fixture" and b.has_llm and b.manifest["fixture"] is True
    assert set(b.manifest["files"]) >= {"encoder.onnx", "adapter.onnx", "llm_prefill.onnx", "llm_decode.onnx"}


def test_tampered_file_is_refused(tiny_bundle_copy):
    path = tiny_bundle_copy / "adapter.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="'adapter.onnx' does not match its sha256"):
        load_bundle(tiny_bundle_copy)


def test_missing_file_unknown_version_and_escape_refused(tiny_bundle_copy):
    manifest_path = tiny_bundle_copy / "manifest.json"
    original = json.loads(manifest_path.read_text())

    (tiny_bundle_copy / "llm_decode.onnx").unlink()
    with pytest.raises(BundleError, match="'llm_decode.onnx' listed in the manifest is missing"):
        load_bundle(tiny_bundle_copy)

    manifest_path.write_text(json.dumps({**original, "format_version": 99}))
    with pytest.raises(BundleError, match="format version 99 is not supported"):
        load_bundle(tiny_bundle_copy)

    files = {"../outside.txt": {"sha256": "0" * 64}, **original["files"]}
    manifest_path.write_text(json.dumps({**original, "files": files}))
    with pytest.raises(BundleError, match="outside the bundle"):
        load_bundle(tiny_bundle_copy)

    manifest_path.write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tiny_bundle_copy)


def test_unknown_bundle_name():
    with pytest.raises(BundleError, match="not found"):
        load_bundle("no-such-bundle")
