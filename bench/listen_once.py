"""Acceptance of `edge-audiollm listen --once --json --task understand` through a real capture
device: for each held-out command (the corpus's test split: held-out voices and texts), a fresh
listen process is started, the command padded with silence is played into the sound server's
null sink, and the printed intent is compared with the label. Writes bench/results/listen_once.json.

    nice python bench/listen_once.py --bundle DIR [--corpus data/corpus] [--per-voice 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import write_results  # noqa: E402
from bench._live import (ROOT, AudioServer, CaptureProcess, corpus_commands, installed_held_out_voices,  # noqa: E402
                         padded_wav)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="default")
    p.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    p.add_argument("--voices", nargs="*", default=None, help="held-out voices (default: the first 2 installed)")
    p.add_argument("--per-voice", type=int, default=5, help="commands of distinct intents per voice")
    args = p.parse_args()
    voices = args.voices or installed_held_out_voices(2)
    cases = corpus_commands(args.corpus, voices, args.per_voice)
    rows = []
    with AudioServer() as server, tempfile.TemporaryDirectory() as tmp:
        for i, c in enumerate(cases):
            wav = padded_wav(c["samples"], Path(tmp) / f"{i}.wav")
            app = CaptureProcess(server, ["-m", "edge_audiollm", "listen", "--once", "--json", "--task", "understand",
                                          "--bundle", args.bundle])
            t0 = time.monotonic()
            server.play(wav)
            try:
                rc, out, err = app.wait(timeout=60)
            except Exception:  # noqa: BLE001 - a hung listener is a failed case, not a crashed bench
                app.kill()
                rc, out, err = -1, "", ["timed out"]
            finals = [json.loads(line) for line in out.splitlines() if line.strip() and not json.loads(line)["partial"]]
            f = finals[0] if finals else {}
            row = {"voice": c["voice"], "text": c["text"], "intent": c["intent"], "slots": c["slots"], "rc": rc,
                   "got_intent": f.get("intent"), "got_slots": f.get("slots"), "heard": f.get("text"),
                   "endpoint_to_final_ms": f.get("timings_ms", {}).get("endpoint_to_final"),
                   "wall_s_after_play": round(time.monotonic() - t0, 2), "stderr": err}
            row["intent_ok"] = rc == 0 and row["got_intent"] == c["intent"]
            row["slots_ok"] = row["intent_ok"] and row["got_slots"] == c["slots"]
            rows.append(row)
            print(f"{'ok ' if row['intent_ok'] else 'BAD'} rc={rc} {c['voice']:18s} {c['intent']:15s} -> "
                  f"{row['got_intent']} {json.dumps(row['got_slots'])}  ({c['text']!r})", flush=True)
    n_ok = sum(r["intent_ok"] for r in rows)
    print(f"{n_ok}/{len(rows)} intents right, {sum(r['slots_ok'] for r in rows)}/{len(rows)} with the exact slots, "
          f"voices {', '.join(voices)}, {len({r['intent'] for r in rows})} distinct intents")
    print(f"wrote {write_results('listen_once', {'bundle': args.bundle, 'voices': voices, 'cases': rows, 'intents_right': n_ok})}")
    return 0 if n_ok == len(rows) and rows else 1


if __name__ == "__main__":
    sys.exit(main())
