"""Prototype (not shipped). Does sharpening the codec's decoded log-mel (against an L1 decoder's smoothing) help Whisper hear it?
Variants on the decoded natural-log mel m (bands x frames), before the ridge inverse and Griffin-Lim:
  gv A     per-band variance over time scaled: mu_b + A (m - mu_b)            (parametric TTS's global variance)
  time B   unsharp mask along time: m + B (m - box3_t(m))
  freq C   unsharp mask along bands: m + C (m - box3_f(m))
Whisper tiny.en (faster-whisper int8, beam 5) judges; `valid` (20 utterances of the corpus's valid split:
training voices, sentences never trained on) is where a knob may be tuned, the real groups where it is checked.
    python scripts/experiments/codec_sharpen.py models/checkpoints/codec-mel valid,librivox,cards,goforward \
        none gv:1.2 time:0.5 freq:0.5"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import numpy as np, torch
from scipy.ndimage import uniform_filter1d
from bench.datasets import load_groups, synthetic_group
from bench.vs_peers import load_whisper
from edge_audiollm.griffin_lim import griffin_lim
from edge_audiollm.wer import score
from models.codec.train import load_codec
torch.set_num_threads(1)
ckpt, groups, specs = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
codec, _ = load_codec(Path(ckpt))
inv = codec.inverse.numpy()
sets = {}
for g in groups:
    if g == "valid":  # training voices, sentences never trained on: where a knob may be tuned
        import json
        rows = [json.loads(l) for l in open("data/corpus/valid.jsonl")][:40:2]
        from bench.datasets import Utterance
        sets[g] = [Utterance(r["id"], g, Path("data/corpus") / r["path"], r["text"]) for r in rows]
    else:
        s, _ = load_groups([g], max_synthetic=20); sets.update(s)
judge = load_whisper()

def variant(m, spec):
    kind, *v = spec.split(":")
    a = float(v[0]) if v else 0.0
    if kind == "none": return m
    if kind == "gv": mu = m.mean(1, keepdims=True); return mu + a * (m - mu)
    if kind == "time": return m + a * (m - uniform_filter1d(m, 3, axis=1, mode="nearest"))
    if kind == "freq": return m + a * (m - uniform_filter1d(m, 3, axis=0, mode="nearest"))
    raise ValueError(spec)

decoded = {}
for g, utts in sets.items():
    for u in utts:
        x = u.load(); hop = codec.cfg.hop_samples; x = np.pad(x, (0, -len(x) % hop))
        with torch.no_grad():
            decoded[u.id] = codec(torch.from_numpy(x)[None, None]).log_mel_hat[0].numpy()
for spec in specs:
    for g, utts in sets.items():
        pairs = []
        for u in utts:
            m = variant(decoded[u.id], spec)
            mag = np.maximum(np.exp(m).T @ inv.T, 0.0)
            y = griffin_lim(mag)
            pairs.append((u.text, judge.transcribe(y)))
        print(f"{spec:12s} {g:10s} WER {100 * score(pairs).wer:.1f}", flush=True)
