"""Experiment: a CTC head variant on the 10 h cache (not shipped).
  python scripts/experiments/train_head.py --variant cmn  --steps 6000 --out runs/exp/head_cmn.safetensors
  python scripts/experiments/train_head.py --variant cont --steps 4000 --out runs/exp/head_cont.safetensors
  python scripts/experiments/train_head.py --config whisper-base --variant base --steps 2000 --out runs/exp/head_wbase.safetensors
"""
import argparse, sys, time
from dataclasses import replace
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import torch
from models.ctc_head import CtcHead
from models.train import checkpoints
from models.train.corpus import read_split
from models.train.encode_cache import load_states
from models.train.recipe import CONFIGS
from models.train.train_ctc import train_ctc_head

p = argparse.ArgumentParser()
p.add_argument("--variant", required=True, choices=["cmn", "cont", "base"])
p.add_argument("--steps", type=int, required=True)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--out", type=Path, required=True)
p.add_argument("--config", default="default", choices=sorted(CONFIGS), help="the recipe config whose encoder cache to read")
a = p.parse_args()
torch.set_num_threads(a.threads)
cfg = CONFIGS[a.config]
train = read_split(Path(cfg.corpus), "train")
states = [load_states(Path(cfg.cache), "train", u.uid) for u in train]
texts = [u.text for u in train]
ccfg = replace(cfg.ctc, utterance_norm=(a.variant == "cmn"))
head = CtcHead(ccfg)
lr, seed = 1e-3, cfg.seed
if a.variant == "cont":
    checkpoints.load(head, Path(cfg.ckpt) / "ctc_head.safetensors")
    lr, seed = 5e-4, cfg.seed + 3
t0 = time.time()
log = lambda m: print(m, flush=True)
train_ctc_head(states, texts, ccfg, steps=a.steps, batch_size=cfg.batch_size, lr=lr, head=head, seed=seed, log=log)
checkpoints.save(head, a.out)
print(f"saved {a.out} in {time.time() - t0:.0f} s", flush=True)
