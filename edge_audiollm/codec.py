"""The neural speech codec at inference: waveform <-> residual VQ codes at a low frame rate.

A codec bundle (export/codec_export.py) holds codec_encoder.onnx, codec_decoder.onnx and a
manifest with the frame rate, codebook size and count and the sample rate. The waveform codec's
decoder graph ends at samples; the spectral codec's ends at STFT magnitudes, and the manifest's
`vocoder` entry says how Griffin-Lim (griffin_lim.py) turns them into samples. `Codec.encode`
returns `CodecTokens`; `Codec.decode` turns tokens back into audio from the first k codebooks,
any k from 1 to the codec's count (it was trained with quantiser dropout for exactly this).

Token files are `.npz` archives (np.savez) holding `codes` (codebooks, frames) and the scalars
`frame_rate_hz`, `codebook_size` and `sample_rate`; decoding uses nothing else from them. They are
read with allow_pickle=False and checked in full before any graph runs, so a damaged file or one
from another codec is refused with a message that names the file and the fix, never decoded
into noise.

Writing never replaces an existing file unless asked (`overwrite=True`, the CLI's --force), and
goes through a temporary file renamed into place, so an interrupted write leaves no half file.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .audio import AudioSource, load_audio
from .bundle import BUNDLES_DIR, CODEC_BUNDLE_NAME, read_manifest, verify_files
from .errors import BundleError, CodecError
from .griffin_lim import GriffinLimOptions, griffin_lim
from .runtime import OnnxModel, make_session

DEFAULT_CODEC_DIR = BUNDLES_DIR / CODEC_BUNDLE_NAME
TOKEN_KEYS = ("codes", "frame_rate_hz", "codebook_size", "sample_rate")
_MANIFEST_KEYS = ("sample_rate", "frame_rate_hz", "hop_samples", "codebook_size", "n_codebooks", "encoder", "decoder")
_EXPORT_HINT = "a codec bundle made by `python -m export.codec_export --ckpt CHECKPOINT_DIR OUT_DIR`"
_REENCODE = "re-encode the audio with `edge-audiollm codec encode`"


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class CodecTokens:
    codes: np.ndarray  # (codebooks, frames) int64
    frame_rate_hz: float
    codebook_size: int
    sample_rate: int

    @property
    def n_codebooks(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.codes.shape[1])

    @property
    def duration_seconds(self) -> float:
        return self.n_frames / self.frame_rate_hz

    @property
    def bitrate_bps(self) -> float:
        return self.n_codebooks * math.log2(self.codebook_size) * self.frame_rate_hz


def resolve_codec_path(path: str | os.PathLike | None) -> Path:
    """The codec directory given, else the shipped one (edge_audiollm/bundles/codec) when it exists."""
    if path is not None:
        return Path(path)
    if (DEFAULT_CODEC_DIR / "manifest.json").is_file():
        return DEFAULT_CODEC_DIR
    raise CodecError(f"no codec given and this install ships none yet: pass --codec DIR, {_EXPORT_HINT}")


@dataclass(frozen=True)
class Codec:
    """Sessions and the manifest only: safe to share between threads."""

    path: Path
    manifest: dict
    encoder: OnnxModel
    decoder: OnnxModel

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, providers: Sequence[str] = ("cpu",), threads: int = 1) -> "Codec":
        path = resolve_codec_path(path)
        if not path.is_dir():
            raise BundleError(f"codec {os.fspath(path)!r} not found: pass {_EXPORT_HINT}")
        manifest = read_manifest(path, required=("format_version", "name", "files"))
        if manifest.get("kind") != "codec":
            raise BundleError(f"{path}: is not a codec bundle (kind {manifest.get('kind')!r}); pass {_EXPORT_HINT}")
        missing = [k for k in _MANIFEST_KEYS if k not in manifest]
        if missing:
            raise BundleError(f"{path}/manifest.json: missing {', '.join(missing)}; the codec bundle is incomplete, re-export it")
        verify_files(path, manifest)
        open_graph = lambda part: make_session(path / manifest[part]["file"], providers, threads)  # noqa: E731
        return cls(path, manifest, open_graph("encoder"), open_graph("decoder"))

    @property
    def sample_rate(self) -> int:
        return int(self.manifest["sample_rate"])

    @property
    def frame_rate_hz(self) -> float:
        return float(self.manifest["frame_rate_hz"])

    @property
    def hop_samples(self) -> int:
        return int(self.manifest["hop_samples"])

    @property
    def codebook_size(self) -> int:
        return int(self.manifest["codebook_size"])

    @property
    def n_codebooks(self) -> int:
        return int(self.manifest["n_codebooks"])

    @property
    def provider(self) -> str:
        return self.encoder.provider

    def bitrate_bps(self, n_codebooks: int | None = None) -> float:
        return (n_codebooks or self.n_codebooks) * math.log2(self.codebook_size) * self.frame_rate_hz

    def encode(self, samples: AudioSource, sample_rate: int | None = None, n_codebooks: int | None = None) -> CodecTokens:
        """Audio (a file, or an array with its rate; any rate, any channels) -> tokens from the first
        `n_codebooks` codebooks (default: all). The audio is zero-padded to whole frames."""
        n = self.n_codebooks if n_codebooks is None else n_codebooks
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= self.n_codebooks:
            raise CodecError(f"the number of codebooks must be between 1 and {self.n_codebooks} for this codec, got {n!r}")
        x = load_audio(samples, sample_rate, target_sample_rate=self.sample_rate).samples
        frames = max(1, -(-len(x) // self.hop_samples))
        padded = np.zeros((1, frames * self.hop_samples), np.float32)
        padded[0, : len(x)] = x
        codes = self.encoder.run({"waveform": padded}, ["codes"])[0]
        return CodecTokens(np.ascontiguousarray(codes[:n], dtype=np.int64), self.frame_rate_hz, self.codebook_size,
                           self.sample_rate)

    @property
    def vocoder(self) -> GriffinLimOptions | None:
        """Griffin-Lim's options when the decoder graph ends at STFT magnitudes (the spectral codec)."""
        v = self.manifest.get("vocoder")
        if v is None:
            return None
        if v.get("kind") != "griffin_lim":
            raise BundleError(f"{self.path}/manifest.json: vocoder {v.get('kind')!r} is not known to this version; "
                              "upgrade edge_audiollm or re-export the codec")
        return GriffinLimOptions(int(v["iterations"]), float(v["momentum"]), int(v.get("seed", 0)))

    def decode(self, tokens: CodecTokens, *, source: str = "tokens") -> np.ndarray:
        """Tokens -> float32 mono audio at the codec's sample rate, frames * hop_samples long."""
        codes = check_tokens(tokens, source)
        self.check_compatible(tokens, source)
        vocoder = self.vocoder
        if vocoder is not None:
            return griffin_lim(self.decoder.run({"codes": codes}, ["magnitude"])[0][0], vocoder)
        return self.decoder.run({"codes": codes}, ["waveform"])[0][0].astype(np.float32, copy=False)

    def check_compatible(self, tokens: CodecTokens, source: str = "tokens") -> None:
        fix = f"decode with the codec that encoded them (--codec PATH) or {_REENCODE} using {self.path}"
        if not math.isclose(float(tokens.frame_rate_hz), self.frame_rate_hz, rel_tol=1e-9):
            raise CodecError(f"{source}: tokens are at {tokens.frame_rate_hz:g} Hz but this codec runs at "
                             f"{self.frame_rate_hz:g} Hz; {fix}")
        if int(tokens.sample_rate) != self.sample_rate:
            raise CodecError(f"{source}: tokens are for {tokens.sample_rate} Hz audio but this codec makes "
                             f"{self.sample_rate} Hz audio; {fix}")
        if int(tokens.codebook_size) != self.codebook_size:
            raise CodecError(f"{source}: tokens index codebooks of {tokens.codebook_size} entries but this codec's have "
                             f"{self.codebook_size}; {fix}")
        if tokens.n_codebooks > self.n_codebooks:
            raise CodecError(f"{source}: tokens hold {tokens.n_codebooks} codebooks but this codec has {self.n_codebooks}; "
                             f"{fix}, or keep the first {self.n_codebooks} (codes[:{self.n_codebooks}])")


def check_tokens(tokens: CodecTokens, source: str = "tokens") -> np.ndarray:
    """Structure and range of the codes, whatever the codec; returns them as contiguous int64."""
    codes = tokens.codes
    if not isinstance(codes, np.ndarray) or codes.dtype.kind not in "iu":
        kind = codes.dtype if isinstance(codes, np.ndarray) else type(codes).__name__
        raise CodecError(f"{source}: codes must be an integer array, got {kind}; {_REENCODE}")
    if codes.ndim != 2:
        raise CodecError(f"{source}: codes must be 2-D (codebooks, frames), got shape {codes.shape}; {_REENCODE}")
    if codes.shape[0] == 0:
        raise CodecError(f"{source}: tokens hold 0 codebooks (codes of shape {codes.shape}); "
                         f"{_REENCODE} with --codebooks 1 or more")
    if codes.shape[1] == 0:
        raise CodecError(f"{source}: tokens hold no frames (codes of shape {codes.shape}); {_REENCODE}")
    size = int(tokens.codebook_size)
    bad = (codes < 0) | (codes >= size)
    if bad.any():
        i, t = (int(v) for v in np.argwhere(bad)[0])
        raise CodecError(f"{source}: {int(bad.sum())} codes lie outside [0, {size}), the first {int(codes[i, t])} "
                         f"at codebook {i + 1}, frame {t}; the tokens are damaged or from another codec, {_REENCODE}")
    return np.ascontiguousarray(codes, dtype=np.int64)


# ---------------------------------------------------------------------------- token files


def save_tokens(path: str | os.PathLike, tokens: CodecTokens, *, overwrite: bool = False) -> Path:
    """Write tokens as .npz (exactly the path given: no '.npz' is appended)."""
    codes = check_tokens(tokens, "tokens to save")
    # The smallest integer type that holds every index: 2 bytes a code for codebooks up to 65536.
    dtype = np.uint16 if tokens.codebook_size <= 1 << 16 else np.int64
    arrays = {"codes": codes.astype(dtype), "frame_rate_hz": np.float64(tokens.frame_rate_hz),
              "codebook_size": np.int64(tokens.codebook_size), "sample_rate": np.int64(tokens.sample_rate)}
    return write_atomically(Path(path), lambda f: np.savez(f, **arrays), overwrite=overwrite)


def load_tokens(path: str | os.PathLike) -> CodecTokens:
    path = Path(path)
    if not path.is_file():
        raise CodecError(f"{path}: no such token file; check the path (`edge-audiollm codec encode` writes them)")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # np.load would try to unpickle anything else
        raise CodecError(f"{path}: not a codec token file (not an .npz archive); {_REENCODE}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in TOKEN_KEYS if k not in archive.files]
            if missing:
                raise CodecError(f"{path}: missing {', '.join(missing)}; not a codec token file, or a damaged one; {_REENCODE}")
            arrays = {k: archive[k] for k in TOKEN_KEYS}  # members are read (and CRC-checked) here
    except CodecError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CodecError(f"{path}: not a readable codec token file ({detail}); it is truncated or corrupt, {_REENCODE}") from None
    rate = _scalar(path, arrays, "frame_rate_hz", "fc")
    if not (math.isfinite(rate) and rate > 0):
        raise CodecError(f"{path}: frame_rate_hz must be a positive number of frames per second, got {rate!r}; {_REENCODE}")
    size, sample_rate = int(_scalar(path, arrays, "codebook_size", "iu")), int(_scalar(path, arrays, "sample_rate", "iu"))
    for key, value in (("codebook_size", size), ("sample_rate", sample_rate)):
        if value <= 0:
            raise CodecError(f"{path}: {key} must be positive, got {value}; {_REENCODE}")
    tokens = CodecTokens(arrays["codes"], float(rate), size, sample_rate)
    return CodecTokens(check_tokens(tokens, str(path)), float(rate), size, sample_rate)


def _scalar(path: Path, arrays: dict, key: str, kinds: str) -> float:
    value = arrays[key]
    if value.ndim != 0 or value.dtype.kind not in kinds:
        want = "an integer" if kinds == "iu" else "a number"
        raise CodecError(f"{path}: {key} must be {want} (a 0-d array), got dtype {value.dtype} with shape {value.shape}; "
                         f"{_REENCODE}")
    return value.item()


def refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise CodecError(f"{path}: already exists; choose another output path or pass --force to replace it")


def write_atomically(path: Path, write: Callable, *, overwrite: bool = False) -> Path:
    """Call write(binary file) on a temporary file beside `path`, then rename it into place."""
    refuse_existing(path, overwrite)
    if path.is_dir():
        raise CodecError(f"{path}: is a directory; give an output file path")
    if not path.parent.is_dir():
        raise CodecError(f"{path}: the folder {path.parent} does not exist; create it or choose another output path")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
