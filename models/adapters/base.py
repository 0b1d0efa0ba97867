"""The one interface every adapter family implements.

An adapter turns frozen encoder states (B, T, D_enc) at the encoder's 50 frames/s into
LLM input embeddings (B, T', D_llm) at its own rate. Two calls:

  forward(hidden[, segments])      what the ONNX graph computes, batch of one, no padding
  embed_batch(hidden, lengths[, segments]) -> list of (T'_i, D_llm)
                                   training on right-padded batches: each utterance's
                                   own embeddings, padding never leaking into them

`segments` (B, S, T) is the CTC-guided family's extra input: a 0/1 matrix saying which
frames belong to each merged segment, computed from the CTC head's output by
edge_audiollm.segments (the runtime's numpy code, so training and deployment agree).
"""

from __future__ import annotations

import torch
from torch import nn


class Adapter(nn.Module):
    kind: str = ""
    uses_segments: bool = False
    takes_lengths: bool = False  # forward(hidden, lengths) masks batch padding itself
    # What `hidden` holds: the frozen encoder's states, or "codec_tokens": the codec encoder's
    # (T, n_codebooks) codes as floats (the discrete path, codec_tokens.py)
    inputs: str = "encoder_states"

    def output_lengths(self, lengths: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def embed_batch(self, hidden: torch.Tensor, lengths: torch.Tensor,
                    segments: torch.Tensor | None = None) -> list[torch.Tensor]:
        if self.uses_segments:
            out = self(hidden, segments)
        else:
            out = self(hidden, lengths) if self.takes_lengths else self(hidden)
        n = self.output_lengths(lengths, segments)
        return [out[i, : int(n[i])] for i in range(len(n))]

    def spec(self) -> dict:
        """What the bundle manifest records: kind, its parameters, and its nominal rate."""
        raise NotImplementedError


def time_mask(lengths: torch.Tensor, t: int) -> torch.Tensor:
    """(B, t) bool, True on real frames."""
    return torch.arange(t, device=lengths.device)[None, :] < lengths[:, None]
