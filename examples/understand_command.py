"""Understand spoken commands in audio files: one JSON line per file with the intent, its
slots (canonical forms of edge_audiollm/intents.json) and the transcript.

    python examples/understand_command.py --bundle DIR command.wav [more.wav ...]
"""

import argparse
import json
import sys

from edge_audiollm import Pipeline
from edge_audiollm.errors import EdgeAudioError


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("audio", nargs="+")
    p.add_argument("--bundle", default="default")
    args = p.parse_args()
    try:
        pipe = Pipeline.load(args.bundle, providers=["cpu"], threads=1)
        for path in args.audio:
            u = pipe.understand(path)
            print(json.dumps({"path": path, "intent": u.intent, "slots": u.slots, "text": u.text,
                              "compute_ms": round(u.compute_seconds * 1e3, 1)}, ensure_ascii=False))
    except EdgeAudioError as exc:
        print(f"understand_command: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
