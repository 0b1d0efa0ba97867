"""Stage 1: the CTC head on the frozen encoder's cached states (characters)."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.nn import functional as F

from models.ctc_head import CtcHead, CtcHeadConfig

from .examples import StateMasking, ctc_labels, mask_states, pad_states


def ctc_batches(states: list[np.ndarray], texts: list[str], batch_size: int, rng: np.random.Generator):
    # Sort by length within random buckets so padding stays small.
    order = rng.permutation(len(states))
    chunks = [order[i : i + batch_size * 16] for i in range(0, len(order), batch_size * 16)]
    for chunk in chunks:
        chunk = sorted(chunk, key=lambda i: len(states[i]))
        batches = [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
        for j in rng.permutation(len(batches)):
            yield batches[j]


def ctc_loss(head: CtcHead, states: list[np.ndarray], texts: list[str], idx,
             masking: StateMasking | None = None, rng: np.random.Generator | None = None) -> torch.Tensor:
    x, lengths = pad_states([states[i] for i in idx])
    if masking is not None:
        x = mask_states(x, lengths, masking, rng)
    mask = torch.arange(x.shape[1])[None] >= lengths[:, None]
    return char_ctc_loss(head(x, padding_mask=mask), lengths, [texts[i] for i in idx])


def char_ctc_loss(log_probs: torch.Tensor, lengths: torch.Tensor, texts: list[str]) -> torch.Tensor:
    """CTC loss per target character of log-probs (B, T, V) with `lengths` valid frames each."""
    labels = [ctc_labels(t) for t in texts]
    targets = torch.tensor([c for lab in labels for c in lab], dtype=torch.long)
    target_lengths = torch.tensor([len(lab) for lab in labels])
    return F.ctc_loss(log_probs.transpose(0, 1), targets, lengths, target_lengths, blank=0,
                      reduction="sum", zero_infinity=True) / max(int(target_lengths.sum()), 1)


def train_ctc_head(
    states: list[np.ndarray], texts: list[str], cfg: CtcHeadConfig, *, steps: int, batch_size: int = 32,
    lr: float = 1e-3, seed: int = 0, head: CtcHead | None = None, log=print, log_every: int = 100,
    masking: StateMasking | None = StateMasking(),
) -> CtcHead:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = head or CtcHead(cfg)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    head.train()
    step, t0, running = 0, time.time(), []
    while step < steps:
        for idx in ctc_batches(states, texts, batch_size, rng):
            loss = ctc_loss(head, states, texts, idx, masking, rng)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
            opt.step()
            sched.step()
            running.append(loss.item())
            step += 1
            if step % log_every == 0 or step == steps:
                log(f"  ctc step {step}/{steps} loss {np.mean(running[-log_every:]):.3f} ({time.time() - t0:.0f} s)")
            if step >= steps:
                break
    head.eval()
    return head


@torch.no_grad()
def greedy_texts(head: CtcHead, states: list[np.ndarray]) -> list[str]:
    from edge_audiollm.decoders import ctc

    from models.ctc_head import CHAR_VOCAB

    head.eval()
    out = []
    for s in states:
        lp = head(torch.from_numpy(s.astype(np.float32))[None])[0].numpy()
        out.append(" ".join("".join(CHAR_VOCAB[i] for i in ctc.greedy(lp, blank=0)).split()))
    return out
