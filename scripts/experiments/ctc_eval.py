"""Experiment: CTC heads side by side on the same states (not shipped).
  python scripts/experiments/ctc_eval.py [--config whisper-base] NAME=PATH[:cmn] ...
Greedy CER and beam (32) + word LM WER with the bundle's tuning, per set:
valid (train voices, 300), commands / sentences (held-out, all), noisy commands (10 dB, all), real (11).
"""
import argparse, json, sys, time
from dataclasses import replace
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import numpy as np, torch
from bench import datasets
from edge_audiollm import wer
from edge_audiollm.decoders import ctc
from edge_audiollm.decoders.arpa import ArpaLM
from edge_audiollm.decoders.beam import BeamOptions
from edge_audiollm.features_whisper import whisper_log_mel
from edge_audiollm.runtime import make_session
from models.ctc_head import CHAR_VOCAB, CtcHead
from models.train import checkpoints
from models.train.corpus import read_split
from models.train.ctc_lm import PRUNING
from models.train.encode_cache import load_states
from models.train.recipe import CONFIGS

torch.set_num_threads(int(__import__("os").environ.get("THREADS", "1")))
ap = argparse.ArgumentParser()
ap.add_argument("--config", default="default", choices=sorted(CONFIGS), help="the recipe config whose encoder the heads read")
ap.add_argument("specs", nargs="+")
args = ap.parse_args()
cfg = CONFIGS[args.config]
STATES = ROOT / ("runs/exp/states" if args.config == "default" else f"runs/exp/states-{args.config}")
enc = None

def states_for(group, utts):
    global enc
    out = []
    for u in utts:
        f = STATES / group / f"{u.id}.npy"
        if not f.is_file():
            if enc is None:
                enc = make_session(Path(cfg.encoder_onnx), ["cpu"], 2)
            f.parent.mkdir(parents=True, exist_ok=True)
            h = enc.run({"features": whisper_log_mel(u.load()[: 30 * 16000])[None]}, ["hidden"])[0][0].astype(np.float16)
            np.save(f, h)
        out.append(np.load(f))
    return out

sets = {}
valid = [u for u in read_split(Path(cfg.corpus), "valid") if u.text][:300]
sets["valid"] = ([u.text for u in valid], [load_states(Path(cfg.cache), "valid", u.uid) for u in valid])
syn = datasets.synthetic_group("synthetic", max_utterances=None)
noisy = datasets.synthetic_group("noisy", max_utterances=None)
real = [u for g in datasets.REAL_GROUPS for u in datasets.real_group(g)]
for name, utts, grp in (("commands", [u for u in syn if u.meta.get("kind") == "command" and u.text], "synthetic"),
                        ("sentences", [u for u in syn if u.meta.get("kind") != "command" and u.text], "synthetic"),
                        ("noisy", [u for u in noisy if u.text], "noisy"), ("real", real, "real")):
    sets[name] = ([u.text for u in utts], states_for(grp, utts))
print({k: len(v[0]) for k, v in sets.items()}, flush=True)

lm = ArpaLM.from_file(ROOT / "edge_audiollm/bundles/default/ctc_lm.arpa.gz")
opts = BeamOptions(lm_weight=0.8, word_bonus=4.0, unk_offset=-20.0, **PRUNING)
results = {}
for arg in args.specs:
    name, spec = arg.split("=", 1)
    heads = []
    for part in spec.split("+"):
        path, _, flag = part.partition(":")
        h = CtcHead(replace(cfg.ctc, utterance_norm=flag == "cmn"))
        checkpoints.load(h, Path(path)); h.eval(); heads.append(h)
    def head(x):  # mean of the heads' log-probs, renormalised
        return torch.log_softmax(torch.stack([h(x) for h in heads]).mean(0), dim=-1)
    row = {}
    t0 = time.time()
    for s, (refs, sts) in sets.items():
        with torch.no_grad():
            lps = [head(torch.from_numpy(x.astype(np.float32))[None])[0].numpy() for x in sts]
        greedy = [" ".join("".join(CHAR_VOCAB[i] for i in ctc.greedy(lp, blank=0)).split()) for lp in lps]
        beam = [" ".join(ctc.prefix_beam_search(lp, 32, vocab=list(CHAR_VOCAB), lm=lm, options=opts)[0].text.split()) for lp in lps]
        g = wer.score(zip(refs, greedy)); b = wer.score(zip(refs, beam))
        row[s] = {"greedy_cer": round(100 * g.cer, 1), "greedy_wer": round(100 * g.wer, 1), "beam_wer": round(100 * b.wer, 1), "beam_cer": round(100 * b.cer, 1)}
    results[name] = row
    print(name, f"({time.time() - t0:.0f} s)", flush=True)
    for s, r in row.items():
        print(f"  {s:10s} greedy CER {r['greedy_cer']:5.1f} WER {r['greedy_wer']:5.1f} | beam CER {r['beam_cer']:5.1f} WER {r['beam_wer']:5.1f}", flush=True)
out = ROOT / "runs/exp/ctc_eval.json"
old = json.loads(out.read_text()) if out.is_file() else {}
old.update(results); out.write_text(json.dumps(old, indent=1))
