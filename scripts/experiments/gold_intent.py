"""Held-out clean commands understood from their gold words (not shipped). python scripts/experiments/gold_intent.py [BUNDLE]"""
import json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from edge_audiollm import Pipeline, intents
rows = [json.loads(l) for l in Path("data/corpus/test_synthetic.jsonl").read_text().splitlines() if l.strip()]
rows = [r for r in rows if r["kind"] == "command"]
pipe = Pipeline.load(sys.argv[1] if len(sys.argv) > 1 else "default", threads=1)
ok = exact = 0
for r in rows:
    raw, _ = pipe.generate_text(pipe.embeddings[pipe.vocab.encode(r["text"])], "understand", r["duration_s"])
    intent, slots = intents.parse_model_output(raw, r["text"] if pipe.read_values else None)[:2]
    ok += intent == r["intent"]; exact += intent == r["intent"] and slots == r["slots"]
print(f"{len(rows)} commands from gold words: intent {100 * ok / len(rows):.1f}%, exact {100 * exact / len(rows):.1f}%")
