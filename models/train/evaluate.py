"""Quick validation figures during training, in torch (the bundle is measured again,
through ONNX Runtime, by bench/vs_peers.py)."""

from __future__ import annotations

import torch

from edge_audiollm import intents
from models.tokenizer import Tokenizer

from .corpus import Utterance
from .train_ctc import greedy_texts
from .train_lm import adapter_embeds, greedy_decode, prompt_embeds


def edit_distance(ref: list, hyp: list) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def error_rate(refs: list[str], hyps: list[str], chars: bool = False) -> float:
    split = (lambda s: list(s)) if chars else (lambda s: s.split())  # noqa: E731
    edits = sum(edit_distance(split(r), split(h)) for r, h in zip(refs, hyps))
    return edits / max(1, sum(len(split(r)) for r in refs))


@torch.no_grad()
def evaluate(head, adapter, lm, tok: Tokenizer, utts: list[Utterance], states: dict,
             segments: dict | None = None) -> dict:
    """head None: an adapter with no CTC head beside it (the codec-token path); its CTC figures are None."""
    refs = [u.text for u in utts]
    ctc_hyps = greedy_texts(head, [states[u.uid] for u in utts]) if head is not None else None
    llm_hyps, correct_intent, n_cmd, exact = [], 0, 0, 0
    for u in utts:
        segs = [segments[u.uid]] if adapter.uses_segments else None
        audio = adapter_embeds(adapter, [states[u.uid]], segments=segs)[0]
        ids = greedy_decode(lm, tok, prompt_embeds(lm, tok, "transcribe", audio), max_new=8 + int(6.5 * u.duration_s))
        llm_hyps.append(tok.decode(ids))
        if u.intent is not None:
            ids = greedy_decode(lm, tok, prompt_embeds(lm, tok, "understand", audio), max_new=64)
            intent, slots = intents.parse_model_output(tok.decode(ids))
            n_cmd += 1
            correct_intent += intent == u.intent
            exact += intent == u.intent and slots == (u.slots if u.intent != "unknown" else {})
    return {
        "utterances": len(utts),
        "ctc_cer": round(error_rate(refs, ctc_hyps, chars=True), 4) if ctc_hyps is not None else None,
        "ctc_wer": round(error_rate(refs, ctc_hyps), 4) if ctc_hyps is not None else None,
        "llm_wer": round(error_rate(refs, llm_hyps), 4),
        "intent_accuracy": round(correct_intent / max(n_cmd, 1), 4),
        "intent_exact_match": round(exact / max(n_cmd, 1), 4),
        "examples": [{"ref": r, "ctc": c, "llm": h}
                     for r, c, h in list(zip(refs, ctc_hyps or [None] * len(refs), llm_hyps))[:5]],
    }


@torch.no_grad()
def understand_from_texts(lm, tok: Tokenizer, utts: list[Utterance], texts: dict[str, str]) -> dict:
    """Intent accuracy when the LLM reads a transcript (texts: uid -> words) instead of audio."""
    correct = exact = n = 0
    for u in utts:
        if u.intent is None:
            continue
        words = " ".join(texts.get(u.uid, "").split())
        intent, slots = "unknown", {}
        if words:
            middle = lm.embed(torch.tensor(tok.encode(words)))
            ids = greedy_decode(lm, tok, prompt_embeds(lm, tok, "understand", middle), max_new=64)
            intent, slots = intents.parse_model_output(tok.decode(ids))
        n += 1
        correct += intent == u.intent
        exact += intent == u.intent and slots == (u.slots if u.intent != "unknown" else {})
    return {"commands": n, "intent_accuracy": round(correct / max(n, 1), 4),
            "intent_exact_match": round(exact / max(n, 1), 4)}
