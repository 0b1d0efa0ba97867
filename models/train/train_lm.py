"""Stages 2 and 3: the LLM learns the tasks from text, then adapter + LLM learn from audio.

Stage 2 (text): [<bos><task><audio>] transcript tokens [</audio>] -> target. The LLM learns
to copy (transcribe) and to parse commands into intent JSON (understand).
Stage 3 (audio): the same prompts with the adapter's embeddings of the cached encoder
states in the middle, trained at the adapter's own rate. Text examples stay in the mix
so the LLM keeps its word knowledge while the adapter learns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from models.llm import TinyLM
from models.tokenizer import Tokenizer

from .examples import IGNORE, LMExample, StateMasking, build_lm_batch, mask_states, pad_states


@dataclass(frozen=True)
class LMTrainOptions:
    steps: int
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    text_fraction: float = 0.0  # stage 3: share of each batch drawn from text examples
    masking: StateMasking | None = StateMasking()  # on the encoder states the adapter reads
    seed: int = 0
    log_every: int = 100


def lm_loss(lm: TinyLM, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    hidden, _, _ = lm(x)
    logits = lm.logits(hidden)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE)


def adapter_embeds(adapter, states: list[np.ndarray], masking: StateMasking | None = None,
                   rng: np.random.Generator | None = None,
                   segments: list[np.ndarray] | None = None) -> list[torch.Tensor]:
    """Each utterance's LLM input embeddings; segments: the CTC-guided family's (S, T) matrices."""
    x, lengths = pad_states(states)
    if masking is not None:
        x = mask_states(x, lengths, masking, rng)
    return adapter.embed_batch(x, lengths, pad_segments(segments, x.shape[1]) if adapter.uses_segments else None)


def pad_segments(segments: list[np.ndarray], t: int) -> torch.Tensor:
    out = torch.zeros(len(segments), max(1, max(len(s) for s in segments)), t)
    for i, s in enumerate(segments):
        out[i, : s.shape[0], : s.shape[1]] = torch.from_numpy(s)
    return out


def train_lm(
    lm: TinyLM, tok: Tokenizer, examples: list[LMExample], opts: LMTrainOptions, *,
    adapter=None, states: dict[str, np.ndarray] | None = None, text_examples: list[LMExample] | None = None,
    segments: dict[str, np.ndarray] | None = None, log=print,
) -> None:
    """Trains every parameter of lm and adapter that requires grad (LoRA freezes the rest)."""
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    params = [p for p in list(lm.parameters()) + (list(adapter.parameters()) if adapter is not None else [])
              if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=opts.lr, weight_decay=opts.weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opts.lr, total_steps=opts.steps, pct_start=0.05)
    lm.train()
    if adapter is not None:
        adapter.train()
    n_text = int(round(opts.batch_size * opts.text_fraction)) if text_examples else 0
    n_main = opts.batch_size - n_text
    t0, running = time.time(), []
    for step in range(1, opts.steps + 1):
        batch = [examples[i] for i in rng.integers(len(examples), size=n_main)]
        if n_text:
            batch += [text_examples[i] for i in rng.integers(len(text_examples), size=n_text)]
        audio = [None] * len(batch)
        if adapter is not None:
            with_audio = [i for i, ex in enumerate(batch) if ex.states_key is not None]
            if with_audio:
                keys = [batch[i].states_key for i in with_audio]
                segs = [segments[k] for k in keys] if adapter.uses_segments else None
                embs = adapter_embeds(adapter, [states[k] for k in keys], opts.masking, rng, segs)
                for i, e in zip(with_audio, embs):
                    audio[i] = e
        x, y = build_lm_batch(tok, lm.embed, batch, audio)
        loss = lm_loss(lm, x, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        running.append(loss.item())
        if step % opts.log_every == 0 or step == opts.steps:
            log(f"  lm step {step}/{opts.steps} loss {np.mean(running[-opts.log_every:]):.3f} ({time.time() - t0:.0f} s)")
    lm.eval()
    if adapter is not None:
        adapter.eval()


@torch.no_grad()
def greedy_decode(lm: TinyLM, tok: Tokenizer, prefix_embeds: torch.Tensor, max_new: int) -> list[int]:
    """Reference decoder in torch (the runtime's numpy loop must agree with it)."""
    eos = tok.special("<eos>")
    hidden, k, v = lm(prefix_embeds[None])
    out = []
    nxt = int(lm.logits(hidden[:, -1]).argmax())
    while nxt != eos and len(out) < max_new:
        out.append(nxt)
        hidden, k, v = lm(lm.embed(torch.tensor([[nxt]])), k, v)
        nxt = int(lm.logits(hidden[:, -1]).argmax())
    return out


def prompt_embeds(lm: TinyLM, tok: Tokenizer, task: str, middle: torch.Tensor) -> torch.Tensor:
    ids = lambda names: torch.tensor([tok.special(n) for n in names])  # noqa: E731
    return torch.cat([lm.embed(ids(["<bos>", f"<{task}>", "<audio>"])), middle, lm.embed(ids(["</audio>"]))])
