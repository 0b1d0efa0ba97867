"""Stage 4b: the LLM learns to understand the words the CTC path actually hears.

The deployed `understand` reads the CTC beam's transcript ("could you turn off the ceiling fan"
arrived as "could you turn off the sealing fan" from a held-out voice), but stages 3 and 4 only ever showed the LLM text as written. Here
the training commands are decoded with the bundle's own beam search and word LM, and the LLM
learns (misheard words -> the gold intent JSON) beside its earlier examples, so it reads
through the errors it will meet rather than copying them into the slots. The head is
underfit rather than overfit (greedy CER on its own training audio 18.3%, valid 17.3%), so
these transcripts carry errors at about the rate it makes on voices it never heard.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from edge_audiollm.bundle import sha256_file
from edge_audiollm.decoders import ctc
from edge_audiollm.decoders.arpa import ArpaLM
from edge_audiollm.decoders.beam import BeamOptions
from models.ctc_head import CHAR_VOCAB
from models.tokenizer import Tokenizer

from .corpus import Utterance
from .ctc_lm import PRUNING
from .examples import LMExample, targets_for


@torch.no_grad()
def heard_texts(head, lm_path: Path, tuning: dict, states: dict[str, np.ndarray], utts: list[Utterance],
                cache: Path | None = None, log=print) -> dict[str, str]:
    """uid -> the beam's transcript with the tuned LM (as the bundle runs it); cached in `cache`
    (keyed by the head's weights, the LM file, the tuning and the uids): minutes of beam search."""
    key = {"tuning": {k: tuning[k] for k in ("weight", "word_bonus", "unk_offset", "beam_width")},
           "head": _weights_sha256(head), "lm_sha256": sha256_file(lm_path), "uids": [u.uid for u in utts],
           "pruning": PRUNING}
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text())
        if data.get("key") == key:
            return data["texts"]
    lm = ArpaLM.from_file(lm_path)
    opts = BeamOptions(lm_weight=tuning["weight"], word_bonus=tuning["word_bonus"], unk_offset=tuning["unk_offset"],
                       **PRUNING)
    out = {}
    for i, u in enumerate(utts):
        lp = head(torch.from_numpy(states[u.uid].astype(np.float32))[None])[0].numpy()
        hyps = ctc.prefix_beam_search(lp, int(tuning["beam_width"]), vocab=list(CHAR_VOCAB), lm=lm, options=opts)
        out[u.uid] = " ".join(hyps[0].text.split()) if hyps else ""
        if (i + 1) % 1000 == 0:
            log(f"  heard {i + 1}/{len(utts)}")
    if cache is not None:
        cache.write_text(json.dumps({"key": key, "texts": out}))
    return out


def _weights_sha256(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().to(torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def heard_examples(tok: Tokenizer, utts: list[Utterance], heard: dict[str, str]) -> list[LMExample]:
    """understand examples: the heard words in, the gold intent JSON out, for every utterance
    with an intent label (the corpus labels its general sentences `unknown`)."""
    out = []
    for u in utts:
        words = heard.get(u.uid, "")
        if u.intent is None or not words:
            continue
        target = targets_for(tok, u.text, u.intent, u.slots)["understand"]
        out.append(LMExample("understand", tuple(tok.encode(words)), None, tuple(target)))
    return out
