"""Prototype (not shipped): a copy check on text slot values. When a string value the LLM wrote is
far from every run of the heard words, score each run of 1-4 words as that value with the LLM
(log-prob of the whole JSON + eos after the words) and take the best.
    python scripts/experiments/copy_check.py [clean|noisy|valid]
valid (the training voices, data/corpus10's valid split) is where the thresholds are picked: a grid
of far (difflib ratio) x rare (share of training commands holding the word)."""
import difflib, json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import numpy as np
from bench import datasets
from bench.understand import slot_counts, f1
from edge_audiollm import Pipeline, intents
which = sys.argv[1] if len(sys.argv) > 1 else "clean"
split = {"clean": "test_synthetic", "noisy": "test_noisy", "valid": "valid"}[which]
CORPUS = Path("data/corpus10" if which == "valid" else "data/corpus")
rows = [json.loads(l) for l in (CORPUS / f"{split}.jsonl").read_text().splitlines() if l.strip()]
rows = [r for r in rows if r["kind"] == "command"]
pipe = Pipeline.load("default", threads=1)
E_ = pipe.embeddings; P = pipe.llm_cfg["prompts"]["understand"]; EOS = int(pipe.llm_cfg["eos_id"])

def logsm(x):
    x = x[0].astype(np.float64); m = x.max(); return x - m - np.log(np.exp(x - m).sum())

_scores = {}
def score(words, js):
    if (words, js) in _scores: return _scores[words, js]
    inp = np.concatenate([E_[P["prefix"]], E_[pipe.vocab.encode(words)], E_[P["suffix"]]], 0)
    logits, k, v = pipe.llm_prefill.run({"inputs_embeds": inp[None].astype(np.float32)})
    total = 0.0
    for t in pipe.vocab.encode(js) + [EOS]:
        total += logsm(logits)[t]
        if t == EOS: break
        logits, k, v = pipe.llm_decode.run({"inputs_embeds": E_[t][None, None], "past_keys": k, "past_values": v})
    _scores[words, js] = total
    return total

def runs(words, n=4):
    w = words.split(); return [" ".join(w[i:j]) for i in range(len(w)) for j in range(i + 1, min(len(w), i + n) + 1)]

SCHEMA = json.loads(Path("edge_audiollm/intents.json").read_text())["intents"]
STOP = set("a an the in on at to of for up off by and or me my i you it is be please now".split())
def text_slot(intent, key):
    spec = SCHEMA.get(intent, {}); return {**spec.get("required", {}), **spec.get("optional", {})}.get(key) == "text"
from collections import Counter
_train = [json.loads(l)["text"] for l in Path("data/corpus10/train.jsonl").read_text().splitlines() if '"command"' in l]
DF = Counter(w for t in _train for w in set(t.split()))
def content_runs(words, rare):
    return [c for c in runs(words) if all(DF[w] < rare * len(_train) for w in c.split())]

def far(value, words, thr):
    return max((difflib.SequenceMatcher(None, value, r).ratio() for r in runs(words)), default=0) < thr

res = {}
GRID = [(f, r) for f in (0.3, 0.4, 0.5) for r in (0.001, 0.002, 0.005)] if which == "valid" else [(0.4, 0.002)]
for thr in GRID:
    res[thr] = [0, 0, 0, 0, 0, 0, 0]  # intent ok, exact, tp, npred, ngold, triggered, exact_base
base = [0, 0, 0, 0, 0]
for r in rows:
    u = pipe.understand(datasets.load_samples(CORPUS / r["path"]), sample_rate=16000)
    words = u.text
    a, b, c = slot_counts(r["slots"], u.slots)
    ex0 = u.intent == r["intent"] and u.slots == r["slots"]
    base = [base[0] + (u.intent == r["intent"]), base[1] + ex0, base[2] + a, base[3] + b, base[4] + c]
    try:
        raw = json.loads(u.raw_output[u.raw_output.find("{"): u.raw_output.rfind("}") + 1])
    except Exception:
        raw = None
    for thr, acc in res.items():
        slots = dict(u.slots); trig = False
        if raw and words and isinstance(raw.get("slots"), dict):
            for key, val in list(raw["slots"].items()):
                if (isinstance(val, str) and key in slots and slots[key] == val and text_slot(u.intent, key)
                        and far(val, words, thr[0])):
                    cands = [c for c in content_runs(words, thr[1]) if c != val and c not in {str(x) for x in slots.values()}]
                    if not cands: continue
                    def js(cv):
                        s2 = dict(raw["slots"]); s2[key] = cv
                        return json.dumps({"intent": raw.get("intent"), "slots": s2}, separators=(",", ":"))
                    best = max(cands, key=lambda cv: score(words, js(cv)))
                    slots[key] = best; trig = True
        a, b, c = slot_counts(r["slots"], slots)
        ex = u.intent == r["intent"] and slots == r["slots"]
        acc[0] += u.intent == r["intent"]; acc[1] += ex; acc[2] += a; acc[3] += b; acc[4] += c; acc[5] += trig; acc[6] += ex0
n = len(rows)
print(f"{split}: {n} commands; base exact {100*base[1]/n:.1f} F1 {100*f1(*base[2:]):.1f}")
for thr, acc in res.items():
    print(f"  far < {thr[0]}, rare < {thr[1]}: triggered {acc[5]}, exact {100*acc[1]/n:.1f}, slot F1 {100*f1(*acc[2:5]):.1f}")
