"""Transcribe audio files with a bundle and print text with per-stage timings.

    python examples/transcribe_file.py --bundle DIR speech.wav [more.wav ...]
"""

import argparse

from edge_audiollm import Pipeline


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("audio", nargs="+")
    p.add_argument("--bundle", default="default")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    pipe = Pipeline.load(args.bundle, providers=["cpu"], threads=args.threads)
    for path in args.audio:
        r = pipe.transcribe(path)
        stages = ", ".join(f"{k} {v:.1f} ms" for k, v in r.timings_ms.items())
        print(f"{path}: {r.text!r}\n  {r.audio_seconds:.2f} s audio, RTF {r.real_time_factor:.3f} ({stages})")


if __name__ == "__main__":
    main()
