"""The trained codec -> a codec bundle: codec_encoder.onnx (waveform -> codes) and
codec_decoder.onnx (codes -> waveform), both with a dynamic length, checked against torch,
plus manifest.json (frame rate, codebook size and count, sample rate, sha256 of every file).
The spectral codec's decoder graph ends at STFT magnitudes instead, and its manifest names the
Griffin-Lim settings the runtime finishes with.

    python -m export.codec_export --ckpt models/checkpoints/codec OUT_DIR

Encoder: waveform (1, samples) float32, samples a multiple of hop_samples -> codes
(n_codebooks, frames) int64 and the pre-quantisation latent (1, latent_dim, frames). The runtime
pads to whole frames and keeps the first k codebooks when asked for fewer: residual
quantisation is greedy, so the first k codes do not depend on the codebooks after them.
Decoder: codes (k, frames) int64 with 1 <= k <= n_codebooks -> waveform (1, frames * hop_samples).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edge_audiollm.runtime import make_session

from .bundle_writer import write_bundle
from .onnx_export import OPSET, ParityError, check_parity, export_onnx

ENCODER_FILE = "codec_encoder.onnx"
DECODER_FILE = "codec_decoder.onnx"
PARITY_FRAMES = (1, 7, 40)  # a traced length baked into a reshape only shows at another length
MIN_CODE_AGREEMENT = 0.99  # argmin may flip on a near tie between float paths; anything more is a bug
# over all codebooks: a flip at one level changes the residual every later level quantises, so a
# trained 8-level RVQ agreed on 97.9% of codes at 2.5e-4 relative latent difference
MIN_ALL_CODES_AGREEMENT = 0.95
# float16 weights round at 2^-11 relative: outputs move by ~1e-3 of their scale, never by 1e-2
FP16_ATOL = 1e-2
# The spectral decoder's magnitudes, relative to their largest: float16 weights move its log-mel by
# about 1e-2 nats (1% in amplitude) where the magnitudes peak, far under what Griffin-Lim's own
# phase error leaves in the audio; bench/codec.py measures the stored graphs' STOI and WER.
FP16_SPECTRAL_RTOL = 3e-2


class EncoderGraph(nn.Module):
    def __init__(self, codec: nn.Module):
        super().__init__()
        self.codec = codec

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latent = self.codec.encoder(waveform[:, None, :])
        return self.codec.quantizer.encode(latent[0].t()), latent


class DecoderGraph(nn.Module):
    def __init__(self, codec: nn.Module):
        super().__init__()
        self.codec = codec

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        latent = self.codec.quantizer.decode(codes).t()[None]
        if self.codec.cfg.kind == "mel":
            return self.codec.magnitude(latent)  # (1, frames * hop / 160, 201): Griffin-Lim's input
        return self.codec.decoder(latent)[:, 0]


@dataclass(frozen=True)
class CodecParity:
    decoder_max_abs_diff: float
    latent_max_abs_diff: float  # over max(1, max |latent|)
    code_agreement: float  # share of encoder codes equal between torch and ONNX Runtime
    frames: tuple[int, ...]


def _speechlike(n_samples: int, seed: int) -> torch.Tensor:
    """Noise shaped like speech's level changes: random weights see both loud and quiet frames."""
    g = torch.Generator().manual_seed(seed)
    envelope = torch.rand(max(n_samples // 800, 1), generator=g).repeat_interleave(800)[:n_samples]
    x = torch.randn(n_samples, generator=g) * 0.3 * torch.nn.functional.pad(envelope, (0, n_samples - len(envelope)))
    return x.clamp(-1, 1)[None]


def _check_encoder(codec: nn.Module, path: Path, frames: tuple[int, ...], atol: float) -> tuple[float, float]:
    session = make_session(path, ["cpu"], threads=1)
    worst, equal, total, first_equal, first_total = 0.0, 0, 0, 0, 0
    for n in frames:
        x = _speechlike(n * codec.cfg.hop_samples, seed=n)
        with torch.no_grad():
            codes, latent = EncoderGraph(codec)(x)
        got_codes, got_latent = session.run({"waveform": x.numpy()})
        if got_codes.shape != tuple(codes.shape) or got_latent.shape != tuple(latent.shape):
            raise ParityError(f"{path.name}: shapes {got_codes.shape}, {got_latent.shape} from ONNX Runtime, "
                              f"{tuple(codes.shape)}, {tuple(latent.shape)} from torch at {n} frames")
        # relative to the latent's own scale, which training sets: an absolute bound would tighten as it grows
        scale = max(1.0, float(latent.abs().max()))
        worst = max(worst, float(np.max(np.abs(got_latent - latent.numpy()))) / scale)
        equal += int((got_codes == codes.numpy()).sum())
        total += codes.numel()
        first_equal += int((got_codes[0] == codes.numpy()[0]).sum())
        first_total += codes.shape[1]
    agreement, first = equal / total, first_equal / first_total
    if worst > atol or first < MIN_CODE_AGREEMENT or agreement < MIN_ALL_CODES_AGREEMENT:
        raise ParityError(f"{path.name}: latent differs by {worst:.3g} of its scale (> {atol}), or only "
                          f"{first:.1%} of first-codebook codes / {agreement:.1%} of all codes agree")
    return worst, agreement


def export_codec(codec: nn.Module, out_dir: Path, *, atol: float = 1e-4) -> CodecParity:
    """Write both graphs into out_dir and check them against torch at several lengths."""
    codec = codec.eval()
    cfg = codec.cfg
    frames = torch.export.Dim("frames", min=1, max=1 << 20)
    codebooks = torch.export.Dim("codebooks", min=1, max=cfg.n_codebooks)
    export_onnx(EncoderGraph(codec), (_speechlike(4 * cfg.hop_samples, 0),), out_dir / ENCODER_FILE,
                input_names=["waveform"], output_names=["codes", "latent"],
                dynamic_shapes={"waveform": {1: frames * cfg.hop_samples}})
    example_codes = torch.randint(cfg.codebook_size, (cfg.n_codebooks, 5))
    export_onnx(DecoderGraph(codec), (example_codes,), out_dir / DECODER_FILE,
                input_names=["codes"], output_names=[_decoder_output(codec)],
                dynamic_shapes={"codes": {0: codebooks, 1: frames}})
    return check_stored_codec(codec, out_dir, atol)


def _decoder_output(codec: nn.Module) -> str:
    return "magnitude" if codec.cfg.kind == "mel" else "waveform"


# The spectral codec's phase: fast Griffin-Lim, 32 iterations (STOI 0.935 on the real development
# set from its unquantised mel against 0.921 at 16; edge_audiollm/griffin_lim.py).
GRIFFIN_LIM = {"kind": "griffin_lim", "iterations": 32, "momentum": 0.99, "seed": 0}


def codec_manifest(codec: nn.Module, parity: CodecParity, *, name: str, training: dict) -> dict:
    cfg = codec.cfg
    spectral = cfg.kind == "mel"
    extra = {"vocoder": GRIFFIN_LIM} if spectral else {}
    return {
        "name": name,
        "kind": "codec",
        "description": ("spectral speech codec: waveform <-> log-mel <-> residual VQ codes at a low frame rate; "
                        "Griffin-Lim for the phase" if spectral else
                        "neural speech codec: waveform <-> residual VQ codes at a low frame rate"),
        "sample_rate": cfg.sample_rate,
        "frame_rate_hz": cfg.frame_rate_hz,
        "hop_samples": cfg.hop_samples,
        "codebook_size": cfg.codebook_size,
        "n_codebooks": cfg.n_codebooks,
        "bitrate_bps": {str(k): round(cfg.bitrate_bps(k), 1) for k in range(1, cfg.n_codebooks + 1)},
        # measured: the STFT window's right half, plus whole frames when the config gives the
        # decoder look-ahead units (decoder_lookahead_frames); otherwise every layer is causal
        "lookahead_samples": codec.lookahead_samples() if spectral else 0,
        "encoder": {"file": ENCODER_FILE, "inputs": ["waveform"], "outputs": ["codes", "latent"]},
        "decoder": {"file": DECODER_FILE, "inputs": ["codes"], "outputs": [_decoder_output(codec)]},
        **extra,
        "opset": OPSET,
        "config": cfg.to_dict(),
        "training": training,
        "metrics": {"parity": {"decoder_max_abs_diff": parity.decoder_max_abs_diff,
                               "latent_max_abs_diff": parity.latent_max_abs_diff,
                               "code_agreement": parity.code_agreement, "frames": list(parity.frames)}},
    }


def build_codec_bundle(codec: nn.Module, out_dir: Path, *, name: str = "codec", training: dict | None = None,
                       overwrite: bool = False, fp16_weights: bool = True) -> Path:
    """fp16_weights: store the weights as float16 (half the bytes, float32 compute; parity is
    checked again on the stored graphs, against the same torch model)."""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        parity = export_codec(codec, t)
        labels = {n: "fp32" for n in (ENCODER_FILE, DECODER_FILE)}
        if fp16_weights:
            from .quantize import quantize_graph

            (t / "fp16").mkdir()
            for n in labels:
                labels[n] = quantize_graph(t / n, t / "fp16" / n, "fp16-weights")
                shutil.move(t / "fp16" / n, t / n)
            parity = check_stored_codec(codec, t, decoder_tol=FP16_SPECTRAL_RTOL if codec.cfg.kind == "mel" else None)
        manifest = codec_manifest(codec, parity, name=name, training=training or {})
        files = {n: t / n for n in labels}
        return write_bundle(out_dir, manifest, files, labels, overwrite=overwrite)


def check_stored_codec(codec: nn.Module, folder: Path, atol: float = FP16_ATOL,
                       decoder_tol: float | None = None) -> CodecParity:
    """Both graphs in `folder` against torch, at every parity length; the decoder at every codebook
    count too (it must serve each prefix of the codes), to decoder_tol where given (else atol)."""
    cfg = codec.cfg
    latent_diff, agreement = _check_encoder(codec, folder / ENCODER_FILE, PARITY_FRAMES, atol)
    g = torch.Generator().manual_seed(0)
    dec = check_parity(
        DecoderGraph(codec), folder / DECODER_FILE,
        lambda n: (torch.randint(cfg.codebook_size, (1 + n % cfg.n_codebooks, n), generator=g),),
        [n + k for n in PARITY_FRAMES for k in range(cfg.n_codebooks)],
        atol=decoder_tol or atol, relative=cfg.kind == "mel")
    return CodecParity(dec.max_abs_diff, latent_diff, agreement, PARITY_FRAMES)


def main() -> None:
    from models.codec.train import load_codec

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--ckpt", type=Path, default=Path("models/checkpoints/codec"), help="models.codec.train's directory")
    p.add_argument("--name", default="codec")
    p.add_argument("--overwrite", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(1)
    codec, state = load_codec(a.ckpt)
    training = {"data": state["config"]["corpus"] + "/train.jsonl", "steps": state["step"], "wall_s": state["wall_s"],
                "distillation": state["config"]["teacher_cache"], "last_losses": state["losses"][-1:]}
    base = state["config"].get("init_from")
    if base:  # a fine-tune: say what it started from, and what that was trained with
        _, base_state = load_codec(Path(base))
        training.update(init_from=base, train_parts=state["config"].get("train_parts", "all"),
                        base={"steps": base_state["step"], "wall_s": base_state["wall_s"],
                              "distillation": base_state["config"]["teacher_cache"],
                              "data": base_state["config"]["corpus"] + "/train.jsonl"})
    print(build_codec_bundle(codec, a.out_dir, name=a.name, training=training, overwrite=a.overwrite))


if __name__ == "__main__":
    main()
