"""Greedy generation over the exported LLM graphs, in numpy.

llm_prefill: inputs_embeds (1, T, D) -> logits (1, V) for the last position,
             present_keys / present_values (L, 1, H, T, Dh)
llm_decode:  inputs_embeds (1, 1, D), past_keys / past_values (L, 1, H, P, Dh)
             -> logits (1, V), present_keys / present_values (L, 1, H, P + 1, Dh)
The KV cache lives in this function's locals: nothing is kept on the shared model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .runtime import OnnxModel

# A loop of one token is the usual hallucination signature of a small LM.
_MAX_SAME_TOKEN_RUN = 8


@dataclass
class Generation:
    token_ids: list[int]
    stopped_by: str  # "eos", "max_new_tokens" or "repetition"
    timings_ms: dict[str, float] = field(default_factory=dict)


def greedy_generate(
    prefill: OnnxModel,
    decode: OnnxModel,
    embeddings: np.ndarray,
    inputs_embeds: np.ndarray,
    *,
    eos_id: int,
    max_new_tokens: int,
    banned_ids: tuple[int, ...] = (),
) -> Generation:
    """`banned_ids` are never emitted (their logits are dropped before each argmax)."""
    banned = np.asarray(banned_ids, dtype=np.int64)

    def pick(logits: np.ndarray) -> int:
        row = logits[0]
        if banned.size:
            row = row.copy()
            row[banned] = -np.inf
        return int(np.argmax(row))

    t0 = time.perf_counter()
    logits, keys, values = prefill.run({"inputs_embeds": inputs_embeds[None].astype(np.float32, copy=False)})
    t1 = time.perf_counter()
    tokens: list[int] = []
    stopped_by = "max_new_tokens"
    next_id = pick(logits)
    while len(tokens) < max_new_tokens:
        if next_id == eos_id:
            stopped_by = "eos"
            break
        tokens.append(next_id)
        if len(tokens) >= _MAX_SAME_TOKEN_RUN and len(set(tokens[-_MAX_SAME_TOKEN_RUN:])) == 1:
            stopped_by = "repetition"
            break
        if len(tokens) == max_new_tokens:
            break
        logits, keys, values = decode.run(
            {"inputs_embeds": embeddings[next_id][None, None], "past_keys": keys, "past_values": values}
        )
        next_id = pick(logits)
    t2 = time.perf_counter()
    return Generation(tokens, stopped_by, {"llm_prefill": (t1 - t0) * 1e3, "llm_decode": (t2 - t1) * 1e3})
