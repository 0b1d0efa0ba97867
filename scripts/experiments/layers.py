"""Experiment: CTC heads that read more of the Whisper encoder than its last layer (not shipped).

  python scripts/experiments/layers.py cache [train|eval]          # all 5 states of every utterance
  python scripts/experiments/layers.py train --variant mix --steps 6000 --out runs/exp/layers/mix.safetensors
  python scripts/experiments/layers.py train --variant top --steps 6000 --out runs/exp/layers/top.safetensors
  python scripts/experiments/layers.py eval shipped=base:models/checkpoints/default/ctc_head.safetensors mix_6000=mix:...

Variants (the head itself is the shipped CtcHead, same config, masks and schedule):
  base  the last layer (what the bundle ships), read from the stacked cache
  mix   a learned softmax-weighted sum of the embedding and the 4 layers' outputs (SUPERB-style)
  top   a trainable copy of Whisper's last layer and final LayerNorm, initialised from Whisper,
        on the cached output of layer 3 (lr 10x lower than the head's)
Eval prints greedy CER and beam (32) + word LM WER with the bundle's tuning on valid (300, train
voices), held-out commands and sentences, commands at 10 dB and real speech (11).
"""
import argparse, json, os, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import numpy as np, torch
from torch import nn
from bench import datasets
from edge_audiollm import wer
from edge_audiollm.audio import load_audio
from edge_audiollm.features_whisper import whisper_log_mel
from edge_audiollm.runtime import make_session
from models.ctc_head import CHAR_VOCAB, CtcHead
from models.train import checkpoints
from models.train.corpus import read_split
from models.train.examples import StateMasking, mask_states
from models.train.recipe import RecipeConfig
from models.train.train_ctc import char_ctc_loss, ctc_batches
from models.whisper_encoder import LayerWeightedSum

OUT = ROOT / "runs/exp/layers"
ENC = OUT / "encoder_all.int8.onnx"
cfg = RecipeConfig()
N_STATES = 5
# the states each variant reads, as indices into the stack of 5
READS = {"mix": list(range(N_STATES)), "top": [N_STATES - 2], "base": [N_STATES - 1]}


def encoder_all():
    if not ENC.is_file():
        from export.export_whisper_encoder import WhisperExportOptions, export_whisper_encoder, quantize_encoder_int8
        from export.whisper_import import load_whisper_encoder
        OUT.mkdir(parents=True, exist_ok=True)
        fp32 = OUT / "encoder_all.fp32.onnx"
        export_whisper_encoder(load_whisper_encoder(cfg.whisper), fp32, WhisperExportOptions(all_layers=True))
        quantize_encoder_int8(fp32, ENC)  # as the recipe's cache encoder
    return make_session(ENC, ["cpu"], int(os.environ.get("THREADS", "2")))


def stacked(sess, samples) -> np.ndarray:
    """(5, T', 384) float16: embedding, layers 1-3, final LayerNorm'd output."""
    hs = sess.run({"features": whisper_log_mel(samples[: 30 * 16000])[None]}, ["hidden_states"])[0]
    return hs[:, 0].astype(np.float16)


def eval_sets():
    syn = datasets.synthetic_group("synthetic", max_utterances=None)
    noisy = datasets.synthetic_group("noisy", max_utterances=None)
    real = [u for g in datasets.REAL_GROUPS for u in datasets.real_group(g)]
    return {"commands": ([u for u in syn if u.meta.get("kind") == "command" and u.text], "synthetic"),
            "sentences": ([u for u in syn if u.meta.get("kind") != "command" and u.text], "synthetic"),
            "noisy": ([u for u in noisy if u.text], "noisy"), "real": (real, "real")}


def cache(what):
    sess = encoder_all()
    t0 = time.time()
    for split in ("train", "valid") if what in ("all", "train") else ():
        d = OUT / "cache" / split; d.mkdir(parents=True, exist_ok=True)
        for u in read_split(Path(cfg.corpus), split):
            f = d / f"{u.uid}.npy"
            if not f.is_file():
                np.save(f, stacked(sess, load_audio(u.path).samples))
        print(f"{split} cached ({time.time() - t0:.0f} s)", flush=True)
    for name, (utts, grp) in eval_sets().items() if what in ("all", "eval") else ():
        d = OUT / "cache" / grp; d.mkdir(parents=True, exist_ok=True)
        for u in utts:
            f = d / f"{u.id}.npy"
            if not f.is_file():
                np.save(f, stacked(sess, u.load()))
        print(f"{name} cached ({time.time() - t0:.0f} s)", flush=True)


class LayeredHead(nn.Module):
    """(B, T, len(READS[variant]), D) stacked states -> CTC log-probs through one of the variants."""

    def __init__(self, variant: str):
        super().__init__()
        self.variant = variant
        self.head = CtcHead(cfg.ctc)
        if variant == "mix":
            self.mix = LayerWeightedSum(N_STATES)
        if variant == "top":
            from export.whisper_import import load_whisper_encoder
            enc = load_whisper_encoder(cfg.whisper)
            self.top, self.norm = enc.layers[-1], enc.layer_norm
            for p in [*self.top.parameters(), *self.norm.parameters()]:
                p.requires_grad_(True)

    def forward(self, x, padding_mask=None):
        if self.variant == "base":
            h = x[:, :, 0]
        elif self.variant == "mix":
            h = self.mix(x.permute(2, 0, 1, 3))
        else:
            h = self.norm(self.top(x[:, :, 0], padding_mask))
        return self.head(h, padding_mask=padding_mask)


def pad(states):
    """(L, T_i, D) float16 stacks -> (B, T, L, D) float32, lengths."""
    lengths = torch.tensor([s.shape[1] for s in states])
    out = torch.zeros(len(states), int(lengths.max()), states[0].shape[0], states[0].shape[-1])
    for i, s in enumerate(states):
        out[i, : s.shape[1]] = torch.from_numpy(s.astype(np.float32)).transpose(0, 1)
    return out, lengths


def train(a):
    torch.manual_seed(cfg.seed); rng = np.random.default_rng(cfg.seed)
    utts = read_split(Path(cfg.corpus), "train")
    # only what the variant reads is held in memory (all five states of 10 h: 6 GB)
    states = [np.ascontiguousarray(np.load(OUT / "cache/train" / f"{u.uid}.npy", mmap_mode="r")[READS[a.variant]])
              for u in utts]
    texts = [u.text for u in utts]
    model = LayeredHead(a.variant)
    groups = [{"params": list(model.head.parameters()), "lr": 1e-3}]
    if a.variant == "mix":
        groups.append({"params": list(model.mix.parameters()), "lr": 1e-2})
    if a.variant == "top":
        groups.append({"params": [*model.top.parameters(), *model.norm.parameters()], "lr": 1e-4})
    opt = torch.optim.AdamW(groups, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=a.steps, pct_start=0.1)
    model.train(); step, t0, running = 0, time.time(), []
    masking = StateMasking()
    while step < a.steps:
        for idx in ctc_batches(states, texts, cfg.batch_size, rng):
            x, lengths = pad([states[i] for i in idx])
            x = mask_states(x, lengths, masking, rng)
            mask = torch.arange(x.shape[1])[None] >= lengths[:, None]
            loss = char_ctc_loss(model(x, mask), lengths, [texts[i] for i in idx])
            opt.zero_grad(); loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); sched.step(); running.append(loss.item()); step += 1
            if step % 100 == 0:
                extra = f" mix {torch.softmax(model.mix.logits, 0).detach().numpy().round(3)}" if a.variant == "mix" else ""
                print(f"  {a.variant} step {step}/{a.steps} loss {np.mean(running[-100:]):.3f} ({time.time() - t0:.0f} s){extra}", flush=True)
            if step % 1000 == 0 or step >= a.steps:
                checkpoints.save(model, a.out)
            if step >= a.steps:
                break
    print(f"saved {a.out} in {time.time() - t0:.0f} s", flush=True)


def evaluate(specs):
    from edge_audiollm.decoders import ctc
    from edge_audiollm.decoders.arpa import ArpaLM
    from edge_audiollm.decoders.beam import BeamOptions
    from models.train.ctc_lm import PRUNING
    sets = {}
    valid = [u for u in read_split(Path(cfg.corpus), "valid") if u.text][:300]
    sets["valid"] = ([u.text for u in valid], [np.load(OUT / "cache/valid" / f"{u.uid}.npy") for u in valid])
    for name, (utts, grp) in eval_sets().items():
        sets[name] = ([u.text for u in utts], [np.load(OUT / "cache" / grp / f"{u.id}.npy") for u in utts])
    lm = ArpaLM.from_file(ROOT / "edge_audiollm/bundles/default/ctc_lm.arpa.gz")
    opts = BeamOptions(lm_weight=0.8, word_bonus=4.0, unk_offset=-20.0, **PRUNING)
    results = {}
    for spec in specs:
        name, _, rest = spec.partition("=")
        variant, _, path = rest.partition(":")
        if variant not in READS or not path:
            raise SystemExit(f"{spec!r}: give NAME=VARIANT:PATH, VARIANT one of {sorted(READS)}")
        model = LayeredHead(variant)
        try:  # a head this script trained (keys head.*), or a bare CtcHead such as the shipped one
            checkpoints.load(model, Path(path))
        except RuntimeError:
            checkpoints.load(model.head, Path(path))
        model.eval(); row = {}; t0 = time.time()
        for s, (refs, sts) in sets.items():
            with torch.no_grad():
                lps = [model(pad([x[READS[variant]]])[0])[0].numpy() for x in sts]
            greedy = [" ".join("".join(CHAR_VOCAB[i] for i in ctc.greedy(lp, blank=0)).split()) for lp in lps]
            beam = [" ".join(ctc.prefix_beam_search(lp, 32, vocab=list(CHAR_VOCAB), lm=lm, options=opts)[0].text.split()) for lp in lps]
            g = wer.score(zip(refs, greedy)); b = wer.score(zip(refs, beam))
            row[s] = {"greedy_cer": round(100 * g.cer, 1), "beam_wer": round(100 * b.wer, 1), "beam_cer": round(100 * b.cer, 1)}
            print(f"  {name:10s} {s:10s} greedy CER {row[s]['greedy_cer']:5.1f} | beam CER {row[s]['beam_cer']:5.1f} WER {row[s]['beam_wer']:5.1f}", flush=True)
        if variant == "mix":
            row["mix_weights"] = torch.softmax(model.mix.logits, 0).detach().numpy().round(3).tolist()
        results[name] = row
        print(name, f"({time.time() - t0:.0f} s)", flush=True)
    out = OUT / "eval.json"
    old = json.loads(out.read_text()) if out.is_file() else {}
    old.update(results); out.write_text(json.dumps(old, indent=1))


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache"); c.add_argument("what", nargs="?", default="all", choices=["all", "train", "eval"])
    t = sub.add_parser("train"); t.add_argument("--variant", required=True, choices=["mix", "top", "base"])
    t.add_argument("--steps", type=int, required=True); t.add_argument("--out", type=Path, required=True)
    e = sub.add_parser("eval"); e.add_argument("specs", nargs="+")
    a = p.parse_args()
    {"cache": lambda: cache(a.what), "train": lambda: train(a), "eval": lambda: evaluate(a.specs)}[a.cmd]()
