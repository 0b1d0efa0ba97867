"""Train the codec on random crops of the corpus; resumable across sessions.

    nice -n 19 python -m models.codec.train                      # the default codec (12.5 Hz, 8 x 1024: 1.0 kbps)
    nice -n 19 python -m models.codec.train --max-minutes 50      # one session's share; rerun to continue
    nice -n 19 python -m models.codec.train --steps 40000        # a longer budget continues where it stopped
    nice -n 19 python -m models.codec.train --frame-rate 25 --ckpt models/checkpoints/codec-25hz   # 640-sample frames
    nice -n 19 python -m models.codec.train --config mel --max-minutes 50   # the spectral codec (12.5 Hz, 12 x 1024: 1.5 kbps)
    nice -n 19 python -m models.codec.train --config mel-more --threads 2   # then its second cycle: the shipped codec
    nice -n 19 python -m models.codec.train --config mel-25hz --threads 2   # the same first cycle at 25 Hz (and mel-50hz)
    python -m models.codec.train --config tiny --ckpt runs/codec-tiny   # seconds; what the tests run

Every `save_every` steps the checkpoint directory gets the codec's weights and EMA codebooks
(codec.safetensors, float32), the distillation head (distill_head.safetensors), Adam's moments
(optimizer.safetensors) and state.json (step, wall time, loss history, the config). A rerun with
the same directory resumes from there, exactly: same weights, codebooks, optimizer moments,
schedule and random draws, so 2 x 500 steps end where 1000 steps would. Without
optimizer.safetensors (it is twice the weights' size: one may choose not to commit it) the run
resumes with fresh moments and a short re-warm-up instead.
`python -m export.codec_export --ckpt DIR OUT` then writes the ONNX codec bundle.

Losses: multi-resolution STFT + multi-scale log-mel reconstruction + commitment (the spectral
codec: L1 between its log-mel and the input's, + commitment), and, when a
teacher cache is given, 1 - cosine between the first codebook's quantised latent (through a
linear projection) and frozen Whisper tiny.en encoder states averaged to the codec's frame rate
(models/train/encode_cache.py writes them: data/cache/whisper-tiny.en/train/UID.npy at 50 Hz).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.train import checkpoints
from models.train.corpus import read_split

from .config import MEL_STRIDES, STRIDES, CodecConfig
from .data import CropSampler, TeacherSource
from .losses import MultiResolutionStft, MultiScaleMel, distillation_loss, mel_detail_l1, mel_l1
from .model import Codec, build_codec

CODEC_FILE = "codec.safetensors"
HEAD_FILE = "distill_head.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"


@dataclass(frozen=True)
class TrainConfig:
    corpus: str = "data/corpus"
    ckpt: str = "models/checkpoints/codec"
    # 12.5 Hz, 8 codebooks of 1024: 1.0 kbps with all 8, 125 bps with the first alone.
    codec: CodecConfig = CodecConfig()
    steps: int = 30000
    batch_size: int = 8
    crop_frames: int = 24  # 1.92 s at 12.5 Hz
    lr: float = 1e-3
    warmup_steps: int = 300
    rewarm_steps: int = 100  # after resuming without optimizer.safetensors: Adam's moments restart from zero
    grad_clip: float = 1.0
    stft_weight: float = 1.0
    mel_weight: float = 1.0
    commitment_weight: float = 1.0
    # Distillation of Whisper tiny.en's encoder states into codebook 1; None: no distillation.
    teacher_cache: str | None = "data/cache/whisper-tiny.en"
    teacher_hz: float = 50.0
    teacher_dim: int = 384
    distill_weight: float = 1.0
    kmeans_init_crops: int = 64  # the first batch the codebooks are clustered from: > codebook_size vectors
    # Fine-tuning: start from another checkpoint directory's codec weights (no k-means). With
    # train_parts "decoder" the encoder and codebooks are frozen, so the codes the codec emits,
    # and every token file written with it, stay valid: only what they decode to changes.
    init_from: str | None = None
    train_parts: str = "all"
    # Extra mel terms against the decoder's smoothing (losses.mel_detail_l1): loud bins, deltas.
    loud_weight: float = 0.0
    delta_weight: float = 0.0
    save_every: int = 100
    log_every: int = 25
    threads: int = 1
    seed: int = 0

    def to_dict(self) -> dict:
        return {**asdict(self), "codec": self.codec.to_dict()}


# The spectral codec (mel_model.py): 12.5 Hz, 12 codebooks of 1024: 1.5 kbps with all 12.
MEL_CODEC = CodecConfig(kind="mel", strides=MEL_STRIDES[12.5], channels=64, max_channels=256, latent_dim=64,
                        n_codebooks=12, codebook_size=1024, quantizer_dropout=0.5)

# Its first cycle (10,000 steps from k-means), the start of the shipped codec and of the frame-rate comparison.
MEL_FIRST_CYCLE = TrainConfig(
    ckpt="models/checkpoints/codec-mel", codec=MEL_CODEC,
    steps=10000, batch_size=16, crop_frames=32, lr=1e-3, warmup_steps=200,
    distill_weight=0.3, save_every=200, log_every=50,
)

CONFIGS = {
    "default": TrainConfig(),
    "mel": MEL_FIRST_CYCLE,
    # The first-cycle codec's (mel) decoder fine-tuned with the loud-bin and delta terms; its codes unchanged.
    # Measured: mel L1 0.322 -> 0.317, real-speech WER unchanged (docs/codec.md).
    "mel-ft": TrainConfig(
        ckpt="models/checkpoints/codec-mel-ft", codec=MEL_CODEC, init_from="models/checkpoints/codec-mel",
        train_parts="decoder", teacher_cache=None, loud_weight=1.0, delta_weight=1.0,
        steps=6000, batch_size=16, crop_frames=32, lr=3e-4, warmup_steps=100, save_every=200, log_every=50,
    ),
    # The shipped codec: the first-cycle codec (mel) trained on, all of it, through a second cosine cycle (warm restart at half
    # the first cycle's peak): the first cycle's loss was still falling when its schedule ended.
    # Its codes differ from the first cycle's: token caches and codec-token LLMs follow it.
    "mel-more": TrainConfig(
        ckpt="models/checkpoints/codec-mel-more", codec=MEL_CODEC, init_from="models/checkpoints/codec-mel",
        steps=10000, batch_size=16, crop_frames=32, lr=5e-4, warmup_steps=200,
        distill_weight=0.3, save_every=200, log_every=50,
    ),
    # The same fine-tune with two centred units at 12.5 Hz in the decoder (160 ms of look-ahead):
    # codes and token files unchanged; frame t's mel also reads codes t + 1 and t + 2.
    "mel-la": TrainConfig(
        ckpt="models/checkpoints/codec-mel-la", codec=replace(MEL_CODEC, decoder_lookahead_frames=2),
        init_from="models/checkpoints/codec-mel", train_parts="decoder", teacher_cache=None,
        loud_weight=1.0, delta_weight=1.0,
        steps=6000, batch_size=16, crop_frames=32, lr=3e-4, warmup_steps=100, save_every=200, log_every=50,
    ),
    # The frame-rate comparison: the first-cycle recipe (mel) at 25 and 50 Hz, same budget, same seconds per crop.
    # With 6 and 3 of their 12 codebooks they spend the shipped codec's 1.5 kbps (docs/codec_rates.md). Each ends in
    # 256 channels at its own rate, as the 12.5 Hz codec does (50 Hz: one stride, so it starts at 128).
    "mel-25hz": replace(MEL_FIRST_CYCLE, ckpt="models/checkpoints/codec-mel-25hz", crop_frames=64,
                        codec=replace(MEL_CODEC, strides=MEL_STRIDES[25.0])),
    "mel-50hz": replace(MEL_FIRST_CYCLE, ckpt="models/checkpoints/codec-mel-50hz", crop_frames=128,
                        codec=replace(MEL_CODEC, strides=MEL_STRIDES[50.0], channels=128)),
    "mel-tiny": TrainConfig(
        ckpt="runs/codec-mel-tiny",
        codec=CodecConfig(kind="mel", strides=MEL_STRIDES[12.5], channels=8, max_channels=16, latent_dim=8, n_codebooks=3,
                          codebook_size=16, kmeans_iters=3),
        steps=6, batch_size=2, crop_frames=4, lr=3e-3, warmup_steps=2, teacher_cache=None,
        kmeans_init_crops=8, save_every=3, log_every=2,
    ),
    "tiny": TrainConfig(
        ckpt="runs/codec-tiny",
        codec=CodecConfig(channels=4, max_channels=32, latent_dim=16, latent_res_units=1, n_codebooks=3,
                          codebook_size=32, kmeans_iters=3),
        steps=8, batch_size=2, crop_frames=4, lr=3e-3, warmup_steps=2, teacher_cache=None,
        kmeans_init_crops=8, save_every=4, log_every=2,
    ),
}


def _lr_factor(cfg: TrainConfig, step: int, rewarm_from: int | None) -> float:
    warm = min(1.0, (step + 1) / cfg.warmup_steps)
    if rewarm_from is not None:
        warm *= min(1.0, (step - rewarm_from + 1) / cfg.rewarm_steps)
    return warm * max(0.5 * (1 + math.cos(math.pi * min(1.0, step / cfg.steps))), 0.1)


class Losses(nn.Module):
    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.cfg = cfg
        self.stft = MultiResolutionStft()
        self.mel = MultiScaleMel(cfg.codec.sample_rate)
        self.head = nn.Linear(cfg.codec.latent_dim, cfg.teacher_dim) if cfg.teacher_cache else None

    def forward(self, codec: nn.Module, batch) -> dict[str, torch.Tensor]:
        audio = torch.from_numpy(batch.audio)
        out = codec(audio)
        if self.cfg.codec.kind == "mel":
            parts = {"mel": mel_l1(out.log_mel_hat, out.log_mel), "commitment": out.commitment}
            total = self.cfg.mel_weight * parts["mel"] + self.cfg.commitment_weight * parts["commitment"]
            if self.cfg.loud_weight or self.cfg.delta_weight:
                parts["loud"], parts["delta"] = mel_detail_l1(out.log_mel_hat, out.log_mel)
                total = total + self.cfg.loud_weight * parts["loud"] + self.cfg.delta_weight * parts["delta"]
        else:
            y_hat, y = out.audio[:, 0], audio[:, 0]
            parts = {"stft": self.stft(y_hat, y), "mel": self.mel(y_hat, y), "commitment": out.commitment}
            total = (self.cfg.stft_weight * parts["stft"] + self.cfg.mel_weight * parts["mel"]
                     + self.cfg.commitment_weight * parts["commitment"])
        if self.head is not None:
            parts["distill"] = distillation_loss(out.first_quantized, self.head, torch.from_numpy(batch.teacher),
                                                 torch.from_numpy(batch.teacher_mask))
            total = total + self.cfg.distill_weight * parts["distill"]
        return {"loss": total, **parts}


def sampler_for(cfg: TrainConfig, rng: np.random.Generator) -> CropSampler:
    teacher = None
    if cfg.teacher_cache:
        cache = Path(cfg.teacher_cache)
        if not (cache / "train").is_dir():
            raise FileNotFoundError(
                f"{cache}/train not found: cache the teacher first (python -m models.train.encode_cache "
                f"--encoder data/whisper/encoder.int8.onnx --out {cache} --splits train) or pass --teacher-cache ''")
        teacher = TeacherSource(cache, "train", cfg.teacher_hz)
    c = cfg.codec
    return CropSampler(read_split(Path(cfg.corpus), "train"), cfg.crop_frames, c.hop_samples, c.sample_rate, rng, teacher)


def load_codec(ckpt_dir: Path) -> tuple[nn.Module, dict]:
    """The trained codec and the state.json beside it (for the exporter)."""
    state = json.loads((ckpt_dir / STATE_FILE).read_text())
    codec = build_codec(CodecConfig.from_dict(state["config"]["codec"]))
    checkpoints.load(codec, ckpt_dir / CODEC_FILE)
    return codec.eval(), state


def load_init(codec: nn.Module, path: Path) -> None:
    """A fine-tune's starting weights: every tensor of `path` must fit, and only the decoder's
    look-ahead units (which start as the identity) may be missing from it."""
    if not path.is_file():
        raise FileNotFoundError(f"init_from {path.parent}: no {CODEC_FILE} there; train that codec first")
    from safetensors.torch import load_file

    state = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    own = codec.state_dict()
    resized = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    missing = [k for k in own if k not in state and not k.startswith("decoder.lookahead.")]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected or resized:
        raise ValueError(f"init_from {path.parent} is a codec of another shape (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}, resized {resized[:3]}); start from a checkpoint of "
                         f"this config's codec")
    codec.load_state_dict(state, strict=False)


def train(cfg: TrainConfig, *, log=print, session_steps: int | None = None, session_s: float | None = None) -> dict:
    """Train to cfg.steps, or stop early (saved, resumable) after `session_steps` steps or
    `session_s` seconds of this session: the schedule is cfg.steps' whatever a session's share."""
    torch.set_num_threads(cfg.threads)
    ckpt = Path(cfg.ckpt)
    state_path = ckpt / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {"step": 0, "wall_s": 0.0, "losses": []}
    if state["step"] and (state["config"]["codec"] != cfg.codec.to_dict()
                          or bool(state["config"]["teacher_cache"]) != bool(cfg.teacher_cache)):
        raise ValueError(f"{ckpt} holds a codec of another shape or distillation setting ({state['config']['codec']}, "
                         f"teacher {state['config']['teacher_cache']}); use another --ckpt directory or its config")
    step = state["step"]
    torch.manual_seed(cfg.seed)
    sampler = sampler_for(cfg, np.random.default_rng(cfg.seed))
    if cfg.train_parts not in ("all", "decoder"):
        raise ValueError(f"train_parts must be 'all' or 'decoder', got {cfg.train_parts!r}")
    codec, losses = build_codec(cfg.codec), Losses(cfg)
    if cfg.train_parts == "decoder":
        for p in list(codec.encoder.parameters()) + list(codec.quantizer.parameters()):
            p.requires_grad_(False)
    params = [p for p in list(codec.parameters()) + list(losses.parameters()) if p.requires_grad]
    rewarm_from = None
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.8, 0.99), weight_decay=0.0)
    log(f"codec: {sum(p.numel() for p in codec.parameters()) / 1e6:.2f} M parameters, "
        f"{cfg.codec.frame_rate_hz} Hz, {cfg.codec.n_codebooks} x {cfg.codec.codebook_size} "
        f"({cfg.codec.bitrate_bps() / 1000:.3g} kbps); {len(sampler.utterances)} utterances; "
        f"distillation {'on' if losses.head is not None else 'off'}")
    if step:
        checkpoints.load(codec, ckpt / CODEC_FILE)
        if losses.head is not None:
            checkpoints.load(losses.head, ckpt / HEAD_FILE)
        if not checkpoints.load_optimizer(opt, ckpt / OPTIMIZER_FILE):
            rewarm_from = step
            log(f"no {OPTIMIZER_FILE} in {ckpt}: Adam's moments restart from zero, "
                f"the learning rate warms up again over {cfg.rewarm_steps} steps")
        log(f"resuming from step {step} ({ckpt})")
    elif cfg.init_from:
        load_init(codec, Path(cfg.init_from) / CODEC_FILE)
        if losses.head is not None:  # a fresh projection would pull codebook 1 toward noise at first
            checkpoints.load(losses.head, Path(cfg.init_from) / HEAD_FILE)
        log(f"starting from {cfg.init_from}, training the {cfg.train_parts} part(s)")
    else:
        t_init = time.time()
        codec.init_codebooks(torch.from_numpy(sampler.batch(cfg.kmeans_init_crops).audio))
        log(f"codebooks: k-means on {cfg.kmeans_init_crops * cfg.crop_frames} frames in {time.time() - t_init:.1f} s")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: _lr_factor(cfg, step, rewarm_from))
    codec.train()
    if cfg.train_parts == "decoder":  # frozen codebooks: no EMA updates, no dead-code restarts
        codec.encoder.eval()
        codec.quantizer.eval()
    t0 = t_saved = time.time()
    start = step
    window: list[dict[str, float]] = []
    restarts_at_log = sum(int(layer.restarts) for layer in codec.quantizer.layers)

    def save():
        nonlocal t_saved
        checkpoints.save(codec, ckpt / CODEC_FILE, dtype=torch.float32)
        if losses.head is not None:
            checkpoints.save(losses.head, ckpt / HEAD_FILE, dtype=torch.float32)
        checkpoints.save_optimizer(opt, ckpt / OPTIMIZER_FILE)
        state.update(step=step, wall_s=round(state["wall_s"] + time.time() - t_saved, 1), config=cfg.to_dict())
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1) + "\n")
        tmp.rename(state_path)  # written last: it names the step the tensors beside it reached
        t_saved = time.time()

    while step < cfg.steps:
        # Every step draws from generators seeded by (seed, step): a resumed run takes the very
        # steps an uninterrupted one would have taken.
        torch.manual_seed(cfg.seed * 1_000_003 + step)
        sampler.rng = np.random.default_rng([cfg.seed, step])
        parts = losses(codec, sampler.batch(cfg.batch_size))
        opt.zero_grad()
        parts["loss"].backward()
        nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        step += 1
        sched.step()
        window.append({k: float(v.detach()) for k, v in parts.items()})
        if step % cfg.log_every == 0 or step == cfg.steps:
            mean = {k: round(float(np.mean([w[k] for w in window])), 4) for k in window[0]}
            restarts = sum(int(layer.restarts) for layer in codec.quantizer.layers)
            state["losses"].append({"step": step, **mean, "restarts": restarts - restarts_at_log})
            elapsed = time.time() - t0
            log(f"  step {step}/{cfg.steps} " + " ".join(f"{k} {v:.3f}" for k, v in mean.items())
                + f" restarts {restarts - restarts_at_log} lr {sched.get_last_lr()[0]:.1e}"
                + f" ({elapsed:.0f} s, {elapsed / (step - start):.2f} s/step)")
            window.clear()
            restarts_at_log = restarts
        out_of_session = ((session_steps is not None and step - start >= session_steps)
                          or (session_s is not None and time.time() - t0 >= session_s))
        if step % cfg.save_every == 0 or step == cfg.steps or out_of_session:
            save()
        if out_of_session:
            log(f"session budget spent at step {step}; rerun to continue")
            break
    return state


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=sorted(CONFIGS), default="default")
    p.add_argument("--steps", type=int, help="override the step budget (a rerun continues to it)")
    p.add_argument("--ckpt", help="checkpoint directory (default: the config's)")
    p.add_argument("--corpus", help="corpus directory with train.jsonl (default: data/corpus)")
    p.add_argument("--teacher-cache", help="teacher feature cache directory; '' to train without distillation")
    p.add_argument("--frame-rate", type=float, choices=sorted(STRIDES), help="codec frame rate in Hz (default: the config's)")
    p.add_argument("--threads", type=int)
    p.add_argument("--max-minutes", type=float, help="stop (saved) after this long; a rerun continues the same schedule")
    a = p.parse_args()
    cfg = CONFIGS[a.config]
    cfg = replace(cfg, steps=a.steps or cfg.steps, ckpt=a.ckpt or cfg.ckpt, corpus=a.corpus or cfg.corpus,
                  threads=a.threads or cfg.threads,
                  teacher_cache=cfg.teacher_cache if a.teacher_cache is None else (a.teacher_cache or None))
    if a.frame_rate:
        table = MEL_STRIDES if cfg.codec.kind == "mel" else STRIDES
        cfg = replace(cfg, codec=replace(cfg.codec, strides=table[a.frame_rate]))
    train(cfg, log=lambda *x: print(*x, flush=True), session_s=a.max_minutes * 60 if a.max_minutes else None)


if __name__ == "__main__":
    main()
