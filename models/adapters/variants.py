"""The frame-rate tradeoff's variants: name -> adapter, every family at the rates the
sweep trains. One table, so training, export and the bench agree on what a name means."""

from __future__ import annotations

from typing import Callable

from .base import Adapter
from .codec_tokens import CodecTokenAdapter, CodecTokenAdapterConfig
from .conv import ConvAdapter, ConvAdapterConfig
from .ctc_merge import CtcMergeAdapter, CtcMergeAdapterConfig
from .qformer import QFormerAdapter, QFormerAdapterConfig
from .strided import PooledAdapter, StridedAdapter, StridedAdapterConfig

# In training order: if a session ends mid-sweep, every family already has a row.
VARIANTS: dict[str, Callable[[dict], Adapter]] = {
    "strided4": lambda d: StridedAdapter(StridedAdapterConfig(**d, stride=4)),
    "ctc_mean_g2": lambda d: CtcMergeAdapter(CtcMergeAdapterConfig(**d, merge="mean", group=2)),
    "qformer_w17_q2": lambda d: QFormerAdapter(QFormerAdapterConfig(**d, queries=2, window=17)),
    "conv4": lambda d: ConvAdapter(ConvAdapterConfig(**d, stride=4)),
    "mlp": lambda d: StridedAdapter(StridedAdapterConfig(**d, stride=1)),
    "strided8": lambda d: StridedAdapter(StridedAdapterConfig(**d, stride=8)),
    "ctc_attn_g2": lambda d: CtcMergeAdapter(CtcMergeAdapterConfig(**d, merge="attention", group=2)),
    "strided2": lambda d: StridedAdapter(StridedAdapterConfig(**d, stride=2)),
    "conv8": lambda d: ConvAdapter(ConvAdapterConfig(**d, stride=8)),
    "qformer_utt_q32": lambda d: QFormerAdapter(QFormerAdapterConfig(**d, queries=32, window=0)),
    "ctc_mean_g1": lambda d: CtcMergeAdapter(CtcMergeAdapterConfig(**d, merge="mean", group=1)),
    "qformer_w17_q1": lambda d: QFormerAdapter(QFormerAdapterConfig(**d, queries=1, window=17)),
    "qformer_w17_q4": lambda d: QFormerAdapter(QFormerAdapterConfig(**d, queries=4, window=17)),
    # The discrete path: the codec's tokens at 12.5 Hz, not the encoder's states (in_dim unused)
    "codec_cb1": lambda d: CodecTokenAdapter(CodecTokenAdapterConfig(llm_dim=d["llm_dim"], codebooks=1)),
    "codec_sum12": lambda d: CodecTokenAdapter(CodecTokenAdapterConfig(llm_dim=d["llm_dim"], codebooks=12)),
    "codec_sum12_ctx3": lambda d: CodecTokenAdapter(CodecTokenAdapterConfig(llm_dim=d["llm_dim"], codebooks=12,
                                                                            context_layers=3)),
}

# Rows that pool a trained model after the fact: (name, trained variant, pool factor).
POOLED = (("mlp_pool4", "mlp", 4), ("mlp_pool8", "mlp", 8))


def trained_name(name: str) -> tuple[str, int | None]:
    """(the trained variant behind a row, its inference-time pool factor or None)."""
    for row, inner, k in POOLED:
        if row == name:
            return inner, k
    return name, None


def build(name: str, in_dim: int = 384, llm_dim: int = 256) -> Adapter:
    """The variant's adapter between encoder states of in_dim and an LLM of llm_dim."""
    if name not in VARIANTS:
        raise KeyError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    return VARIANTS[name]({"in_dim": in_dim, "llm_dim": llm_dim})


def pooled(inner: Adapter, pool: int) -> Adapter:
    return PooledAdapter(inner, pool)
