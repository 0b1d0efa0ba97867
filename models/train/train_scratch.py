"""The `scratch` encoder row: our own conv + transformer encoder (models/encoder_scratch.py)
and a linear CTC layer over characters, trained from nothing on the synthetic corpus. No
pretrained weights anywhere: the figures show what synthetic data alone buys.

    nice -n 19 python -m models.train.train_scratch              # trains, resumes, evaluates
    python -m models.train.train_scratch --config tiny           # seconds; what the tests run

Log-mel features (models/features_torch.py, the runtime front-end in torch) are computed once
per split and kept in memory, normalised per mel bin with the train split's statistics (kept in
the checkpoint), and masked SpecAugment-style (time spans and mel bands) during training.
Every `save_every` steps the weights (float16) and the step reached are saved; a rerun resumes
there (the optimizer restarts with a short warm-up: its moments are not committed).
At the end: CTC greedy CER/WER (edge_audiollm/wer.py's normaliser) on valid, held-out voices, noisy
commands and the real-speech development set (evaluation only) -> bench/results/scratch.json.
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

from models.ctc_head import CHAR_VOCAB
from models.encoder_scratch import ScratchEncoder, ScratchEncoderConfig

from . import checkpoints
from .corpus import read_split
from .examples import StateMasking, mask_states, pad_states
from .train_ctc import char_ctc_loss, ctc_batches, greedy_texts


@dataclass(frozen=True)
class ScratchConfig:
    corpus: str = "data/corpus"
    ckpt: str = "models/checkpoints/scratch"
    results: str = "bench/results/scratch.json"
    # 1.1 M parameters: on one CPU thread (0.35-0.6 s a step of 16, by the load) it sees the 3.5 h train split
    # 10-16 times in 25 minutes; the 2.8 M default of encoder_scratch.py gets fewer than 7 passes.
    encoder: ScratchEncoderConfig = ScratchEncoderConfig(dim=144, n_layers=4, n_heads=4, ffn_dim=576)
    steps: int = 2500
    batch_size: int = 16
    lr: float = 1.5e-3
    warmup_steps: int = 200
    rewarm_steps: int = 30  # after a resume: the optimizer's moments start from zero again
    save_every: int = 100
    log_every: int = 25
    specaugment: StateMasking = StateMasking(time_masks_per_s=1.0, max_time_frames=15, channel_masks=2,
                                             max_channels=12, frames_per_s=100.0)
    eval_max: int | None = None  # utterances per evaluation set (None: all)
    real_root: str = "/usr/share/pocketsphinx/test/data"
    threads: int = 1
    seed: int = 0


CONFIGS = {
    "default": ScratchConfig(),
    "tiny": ScratchConfig(
        ckpt="runs/scratch-tiny/ckpt", results="runs/scratch-tiny/scratch.json",
        encoder=ScratchEncoderConfig(dim=32, n_layers=1, n_heads=2, ffn_dim=64, dropout=0.0),
        steps=40, batch_size=4, lr=3e-3, warmup_steps=5, rewarm_steps=2, save_every=10, log_every=5, eval_max=2,
    ),
}


class ScratchCtc(nn.Module):
    """Normalised log-mel (B, T, 80) at 100 Hz -> CTC log-probs over CHAR_VOCAB (B, ceil(T/2), V)."""

    def __init__(self, cfg: ScratchEncoderConfig):
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(cfg.n_input))
        self.register_buffer("feature_std", torch.ones(cfg.n_input))
        self.encoder = ScratchEncoder(cfg)
        self.out = nn.Linear(cfg.dim, len(CHAR_VOCAB))

    def normalise(self, log_mel: torch.Tensor) -> torch.Tensor:
        return (log_mel - self.feature_mean) / self.feature_std

    def forward(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """`features` are already normalised; `padding_mask` (B, T_out) is True at padded output frames."""
        return torch.log_softmax(self.out(self.encoder(features, padding_mask)), dim=-1)


def log_mel_features(paths: list[Path]) -> list[np.ndarray]:
    from edge_audiollm.audio import load_audio
    from models.features_torch import LogMel

    front = LogMel()
    with torch.no_grad():
        return [front(torch.from_numpy(load_audio(p).samples)).numpy().astype(np.float32) for p in paths]


def scratch_loss(model: ScratchCtc, feats: list[np.ndarray], texts: list[str], idx,
                 masking: StateMasking | None, rng: np.random.Generator) -> torch.Tensor:
    x, lengths = pad_states([feats[i] for i in idx])
    x = model.normalise(x) * (torch.arange(x.shape[1])[None, :, None] < lengths[:, None, None])
    if masking is not None:
        x = mask_states(x, lengths, masking, rng)
    out_lengths = ScratchEncoder.output_lengths(lengths)
    n_out = int(ScratchEncoder.output_lengths(torch.tensor(x.shape[1])))
    log_probs = model(x, torch.arange(n_out)[None] >= out_lengths[:, None])
    return char_ctc_loss(log_probs, out_lengths, [texts[i] for i in idx])


def _lr_factor(cfg: ScratchConfig, step: int, resumed_at: int) -> float:
    warm = min(1.0, (step + 1) / cfg.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, step / cfg.steps)))
    rewarm = min(1.0, (step - resumed_at + 1) / cfg.rewarm_steps) if resumed_at else 1.0
    return warm * rewarm * max(cosine, 0.02)


def train(cfg: ScratchConfig, model: ScratchCtc, feats: list[np.ndarray], texts: list[str], log=print) -> dict:
    ckpt = Path(cfg.ckpt) / "encoder_ctc.safetensors"
    state_path = ckpt.with_suffix(".json")
    state = json.loads(state_path.read_text()) if state_path.is_file() else {"step": 0, "wall_s": 0.0, "losses": []}
    if state["step"]:
        checkpoints.load(model, ckpt)
        log(f"resuming from step {state['step']} ({ckpt})")
    else:
        stacked = np.concatenate(feats)
        model.feature_mean.copy_(torch.from_numpy(stacked.mean(0)))
        model.feature_std.copy_(torch.from_numpy(stacked.std(0) + 1e-3))
    step, resumed_at = state["step"], state["step"]
    torch.manual_seed(cfg.seed + step)
    rng = np.random.default_rng(cfg.seed + step)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: _lr_factor(cfg, step, resumed_at))
    model.train()
    t0 = t_saved = time.time()
    running: list[float] = []

    def save():
        nonlocal t_saved
        checkpoints.save(model, ckpt)
        state.update(step=step, wall_s=round(state["wall_s"] + time.time() - t_saved, 1), config=asdict(cfg))
        state_path.write_text(json.dumps(state, indent=1) + "\n")
        t_saved = time.time()

    while step < cfg.steps:
        for idx in ctc_batches(feats, texts, cfg.batch_size, rng):
            loss = scratch_loss(model, feats, texts, idx, cfg.specaugment, rng)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            sched.step()
            running.append(loss.item())
            if step % cfg.log_every == 0 or step == cfg.steps:
                mean = float(np.mean(running[-cfg.log_every:]))
                state["losses"].append([step, round(mean, 4)])
                elapsed = time.time() - t0
                log(f"  step {step}/{cfg.steps} loss {mean:.3f} lr {sched.get_last_lr()[0]:.2e} "
                    f"({elapsed:.0f} s, {elapsed / (step - resumed_at):.2f} s/step)")
            if step % cfg.save_every == 0 or step == cfg.steps:
                save()
            if step >= cfg.steps:
                break
    checkpoints.load(model, ckpt)  # the figures are those of the saved (float16) weights
    model.eval()
    return state


def evaluation_sets(cfg: ScratchConfig) -> tuple[dict[str, list[tuple[Path, str]]], list[str]]:
    """(audio path, reference) per set: the corpus's valid and test splits, then real speech."""
    from bench.datasets import REAL_GROUPS, real_group

    sets, notes = {}, []
    for split in ("valid", "test_synthetic", "test_noisy"):
        try:
            sets[split] = [(u.path, u.text) for u in read_split(Path(cfg.corpus), split)]
        except FileNotFoundError as e:
            notes.append(str(e))
    for group in REAL_GROUPS:
        utts = real_group(group, Path(cfg.real_root)) if Path(cfg.real_root).is_dir() else []
        if utts:
            sets[group] = [(u.path, u.text) for u in utts]
        else:
            notes.append(f"{group}: no audio under {cfg.real_root} (apt-get install pocketsphinx-testdata)")
    return {k: v[: cfg.eval_max] for k, v in sets.items()}, notes


def _load_any(path: Path) -> np.ndarray:
    from bench.datasets import load_samples  # also reads the headerless .raw of the real set
    from models.features_torch import LogMel

    with torch.no_grad():
        return LogMel()(torch.from_numpy(load_samples(path))).numpy()


@torch.no_grad()
def evaluate(cfg: ScratchConfig, model: ScratchCtc, log=print) -> dict:
    from edge_audiollm import wer
    from bench.datasets import REAL_GROUPS

    sets, notes = evaluation_sets(cfg)
    out, pairs = {}, {}
    for name, items in sets.items():
        feats = [model.normalise(torch.from_numpy(_load_any(p))).numpy() for p, _ in items]
        pairs[name] = [(ref, hyp) for (_, ref), hyp in zip(items, greedy_texts(model, feats))]
    real = [pair for name in REAL_GROUPS if name in pairs for pair in pairs[name]]
    for name, group in list(pairs.items()) + ([("real", real)] if real else []):
        g = wer.score(group)
        out[name] = {"utterances": g.utterances, "ctc_cer": round(g.cer, 4), "ctc_wer": round(g.wer, 4),
                     "examples": [{"ref": r, "ctc": h} for r, h in group[:3]]}
        log(f"  {name:15s} n={g.utterances:4d}  CER {g.cer:6.1%}  WER {g.wer:6.1%}")
    return {"sets": out, "notes": notes}


def run(cfg: ScratchConfig, *, log=print) -> dict:
    torch.set_num_threads(cfg.threads)
    t_start = time.time()
    train_utts = read_split(Path(cfg.corpus), "train")
    log(f"train: {len(train_utts)} utterances, {sum(u.duration_s for u in train_utts) / 3600:.2f} h; features ...")
    feats = log_mel_features([u.path for u in train_utts])
    log(f"  features in {time.time() - t_start:.0f} s ({sum(len(f) for f in feats) * 80 * 4 / 1e6:.0f} MB)")
    model = ScratchCtc(cfg.encoder)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"scratch encoder + CTC: {n_params / 1e6:.2f} M parameters")
    state = train(cfg, model, feats, [u.text for u in train_utts], log=log)
    log("evaluation (CTC greedy):")
    metrics = evaluate(cfg, model, log=log)
    result = {
        "encoder": "scratch", "params": n_params, "steps": state["step"],
        "train_utterances": len(train_utts), "train_hours": round(sum(u.duration_s for u in train_utts) / 3600, 3),
        "train_wall_s": state["wall_s"], "threads": cfg.threads, "config": asdict(cfg),
        "checkpoint_bytes": (Path(cfg.ckpt) / "encoder_ctc.safetensors").stat().st_size,
        "losses": state["losses"], **metrics,
    }
    Path(cfg.results).parent.mkdir(parents=True, exist_ok=True)
    Path(cfg.results).write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {cfg.results} ({time.time() - t_start:.0f} s in all)")
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", choices=sorted(CONFIGS), default="default")
    p.add_argument("--steps", type=int, help="override the step budget")
    p.add_argument("--threads", type=int)
    a = p.parse_args()
    cfg = CONFIGS[a.config]
    cfg = replace(cfg, steps=a.steps or cfg.steps, threads=a.threads or cfg.threads)
    run(cfg, log=lambda *x: print(*x, flush=True))


if __name__ == "__main__":
    main()
