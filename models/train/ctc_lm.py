"""The CTC path's word LM: a 3-gram (models/ngram.py) over everything the LLM reads, and
its weight, word bonus and out-of-lexicon penalty tuned on the valid split with the runtime's
own beam search."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch

from edge_audiollm.decoders import ctc
from edge_audiollm.decoders.arpa import ArpaLM
from edge_audiollm.decoders.beam import BeamOptions
from models.ctc_head import CHAR_VOCAB
from models.ngram import train_kn, write_arpa

from .evaluate import error_rate

# The grid reaches past the corners earlier runs picked (weight 0.3 bonus 2.0, then 0.5 and 4.0).
WEIGHTS = (0.5, 0.8, 1.2)
BONUSES = (1.0, 2.5, 4.0, 6.0)
# Without a penalty the LM's cheap <unk> (log10 -4, dearer than few real words) let phonetic
# spellings ("clobs", "spates") beat the words; a penalty of -10 to -20 took real-speech WER
# from 56% to 45%.
UNK_OFFSETS = (0.0, -10.0, -20.0)
TUNE_BEAM = 16  # the grid runs at this width; the pick is then checked at the deployed width
# Pruning the bundle's beam runs with: skip tokens under e^-12 at a frame, beams 20 nats behind the
# best, and runs of frames with p(blank) >= 0.999 searched as one. On 2026-12-01 it left WER
# unchanged on valid, held-out and real speech and took about 40% off the search's time.
PRUNING = {"token_min_logp": -12.0, "beam_prune_logp": 20.0, "blank_run_logp": -0.0010005}


def build_lm(texts: list[str], path: Path, order: int = 3, min_count_top: int = 3, min_count_mid: int = 2) -> Path:
    # Cutoffs sized for a device: 264k sentences with trigram cutoff 2 alone gave 27 MB of ARPA.
    probs, bows = train_kn(texts, order, min_count_top, min_count_mid)
    return write_arpa(path, probs, bows, order)


@torch.no_grad()
def tune(head, lm_path: Path, states: list[np.ndarray], refs: list[str], beam_width: int = 32, log=print) -> dict:
    """The best (weight, bonus, unk_offset) on these utterances, and its transcripts ("hyps")."""
    lm = ArpaLM.from_file(lm_path)
    log_probs = [head(torch.from_numpy(s.astype(np.float32))[None])[0].numpy() for s in states]
    greedy = [" ".join("".join(CHAR_VOCAB[i] for i in ctc.greedy(lp)).split()) for lp in log_probs]

    def decode(opts: BeamOptions, width: int) -> list[str]:
        return [" ".join(ctc.prefix_beam_search(lp, width, vocab=list(CHAR_VOCAB), lm=lm, options=opts)[0].text.split())
                for lp in log_probs]

    def valid_wer(opts: BeamOptions, width: int) -> float:
        return error_rate(refs, decode(opts, width))

    best = {"weight": 0.0, "word_bonus": 0.0, "unk_offset": 0.0, "wer": error_rate(refs, greedy)}
    log(f"  ctc greedy valid WER {best['wer']:.4f}")
    width = min(TUNE_BEAM, beam_width)
    for w, b, u in itertools.product(WEIGHTS, BONUSES, UNK_OFFSETS):
        wer = valid_wer(BeamOptions(lm_weight=w, word_bonus=b, unk_offset=u), width)
        log(f"  ctc beam {width} + LM weight {w} bonus {b} unk {u}: valid WER {wer:.4f}")
        if wer < best["wer"]:
            best = {"weight": w, "word_bonus": b, "unk_offset": u, "wer": wer}
    hyps = greedy
    if best["weight"]:
        opts = BeamOptions(lm_weight=best["weight"], word_bonus=best["word_bonus"], unk_offset=best["unk_offset"])
        hyps = decode(opts, beam_width)
        wide = error_rate(refs, hyps)
        log(f"  the pick at beam {beam_width}: valid WER {wide:.4f}")
        if wide <= best["wer"]:
            best = {**best, "wer": wide}
        else:
            beam_width, hyps = width, decode(opts, width)
    return {**best, "beam_width": beam_width, "greedy_wer": error_rate(refs, greedy), "hyps": hyps}


def grid_key() -> dict:
    """What a cached tuning result depends on besides the LM, the head and the utterances."""
    return {"weights": WEIGHTS, "bonuses": BONUSES, "unk_offsets": UNK_OFFSETS, "tune_beam": TUNE_BEAM}
