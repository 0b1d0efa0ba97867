"""Held-out clean commands the bundle gets wrong (not shipped). python scripts/experiments/intent_errors.py [BUNDLE]"""
import json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import os; os.environ.setdefault("OMP_NUM_THREADS", "1")
from bench import datasets
from edge_audiollm import Pipeline
corpus = Path("data/corpus")
rows = [json.loads(l) for l in (corpus / "test_synthetic.jsonl").read_text().splitlines() if l.strip()]
rows = [r for r in rows if r["kind"] == "command"]
pipe = Pipeline.load(sys.argv[1] if len(sys.argv) > 1 else "default", threads=1)
out = []
for r in rows:
    u = pipe.understand(datasets.load_samples(corpus / r["path"]), sample_rate=16000)
    out.append({"id": r["id"], "ref": r["text"], "hyp": u.text, "gold": [r["intent"], r["slots"]], "pred": [u.intent, u.slots],
                "novel": r.get("novel"), "voice": r["voice"], "raw": u.raw_output})
Path("runs/exp/intent_errors.json").write_text(json.dumps(out, indent=1))
bad = [o for o in out if o["gold"] != o["pred"]]
print(f"{len(out)} commands, intent wrong {sum(o['gold'][0] != o['pred'][0] for o in out)}, not exact {len(bad)}; novel among all {sum(bool(o['novel']) for o in out)}")
for o in bad:
    tag = "INTENT" if o["gold"][0] != o["pred"][0] else "slots "
    heard = "=" if o["ref"] == o["hyp"] else "~"
    print(f"{tag} {heard} novel={o['novel']!s:5} | {o['ref']} | heard: {o['hyp']} | gold {o['gold']} | pred {o['pred']}")
