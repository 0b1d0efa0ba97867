"""`edge-audiollm`: transcribe, understand, listen, devices, bench, codec, info.

User errors print one line on stderr ("edge-audiollm: error: ...") and exit non-zero;
tracebacks are for bugs only. Heavy imports happen inside the commands so `info` and
`--help` start fast.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from . import __version__
from .codec_cli import add_parser as add_codec_parser
from .errors import EdgeAudioError

PROVIDER_CHOICES = ("cpu", "cuda", "tensorrt", "openvino", "qnn", "coreml", "directml", "auto")
EXIT_USER_ERROR = 2


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", default="default", help="shipped bundle name or bundle directory (default: %(default)s)")
    p.add_argument("--provider", default="cpu", choices=PROVIDER_CHOICES, help="execution provider (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per session (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-audiollm", description="Offline speech understanding for small devices."
    )
    parser.add_argument("--version", action="version", version=f"edge-audiollm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    for name, help_text in (
        ("transcribe", "print the transcript of each audio file"),
        ("understand", "print the intent and slots of each spoken command"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("audio", nargs="+", metavar="AUDIO", help="WAV, FLAC or OGG files (any rate, any channels)")
        p.add_argument("--json", action="store_true", help="one JSON object per file per line")
        if name == "transcribe":
            p.add_argument("--decoder", default="auto", choices=("auto", "whisper", "llm", "ctc"),
                           help="whisper (Whisper's text decoder, where the bundle has it), llm (our LLM), "
                                "ctc (CTC beam + word LM: the fast path) or auto (the bundle's default)")
        else:
            p.add_argument("--words", default="auto", choices=("auto", "whisper", "ctc"),
                           help="who hears the words the intent is read from: whisper, ctc (the fast path) "
                                "or auto (the bundle's default)")
        _common(p)

    p = sub.add_parser("listen", help="live microphone: transcripts or intents of each utterance",
                       description="Capture from a microphone; print one line per endpointed utterance.")
    p.add_argument("--device", default=None, help="input device index or name (substring); default: the system default")
    p.add_argument("--task", default="transcribe", choices=("transcribe", "understand"))
    p.add_argument("--json", action="store_true",
                   help='one JSON line per final result; partial results too, with "partial": true')
    p.add_argument("--once", action="store_true", help="exit 0 after the first endpointed utterance")
    p.add_argument("--save-audio", metavar="DIR", default=None, help="keep each utterance heard as a WAV file in DIR")
    p.add_argument("--vad", default="energy", choices=("energy", "silero", "ctc"), help="voice activity detector")
    p.add_argument("--silence-s", type=float, default=0.6, help="trailing silence that ends an utterance (default 0.6)")
    p.add_argument("--max-utterance-s", type=float, default=20.0, help="longest utterance (default 20)")
    p.add_argument("--no-partials", action="store_true", help="no partial results while speaking")
    _common(p)

    p = sub.add_parser("devices", help="list audio input devices", description="List audio input devices.")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("bench", help="measure bundles side by side (the frame-rate tradeoff)",
                       description="Measure bundles side by side on the same audio: tokens/s into the LLM, "
                                   "WER, intent accuracy, per-stage latency, RTF, prefill FLOPs, size.")
    p.add_argument("which", choices=("tradeoff",))
    p.add_argument("--bundle", action="append", required=True, help="bundle name or directory; repeat for each")
    p.add_argument("--set", action="append", required=True, metavar="NAME=MANIFEST",
                   help="an evaluation set: JSONL rows of path, text[, intent, slots]; repeat for each")
    p.add_argument("--json-out", default=None, help="also write every figure and hypothesis to this JSON file")
    p.add_argument("--threads", type=int, default=1)

    add_codec_parser(sub)

    p = sub.add_parser("info", help="versions, providers and the bundle manifest")
    p.add_argument("--json", action="store_true")
    p.add_argument("--bundle", default=None, help="also show this bundle (default: every shipped bundle)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USER_ERROR
    warnings.formatwarning = lambda msg, cat, *a, **k: f"edge-audiollm: warning: {msg}\n"
    try:
        if args.command == "info":
            from .info import run_info

            return run_info(args)
        if args.command == "bench":
            from .tradeoff import run_cli

            return run_cli(args)
        if args.command == "codec":
            from .codec_cli import run as run_codec

            return run_codec(args)
        if args.command in ("listen", "devices"):
            from .listen import run_devices, run_listen

            return run_listen(args) if args.command == "listen" else run_devices(args)
        return _run_audio_command(args)
    except EdgeAudioError as exc:
        print(f"edge-audiollm: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _run_audio_command(args) -> int:
    from .pipeline import Pipeline

    if args.threads < 1:
        raise EdgeAudioError(f"--threads must be at least 1, got {args.threads}")
    pipe = Pipeline.load(args.bundle, providers=[args.provider], threads=args.threads)
    failures = 0
    for path in args.audio:
        try:
            if args.command == "transcribe":
                result = pipe.transcribe(path, decoder=args.decoder)
            else:
                result = pipe.understand(path, words=args.words)
        except EdgeAudioError as exc:
            # One bad file does not stop the batch; each gets its own line.
            print(f"edge-audiollm: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        if args.json:
            print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
        elif args.command == "transcribe":
            print(result.text if len(args.audio) == 1 else f"{path}\t{result.text}", flush=True)
        else:
            line = json.dumps({"intent": result.intent, "slots": result.slots}, ensure_ascii=False)
            print(line if len(args.audio) == 1 else f"{path}\t{line}", flush=True)
    return EXIT_USER_ERROR if failures else 0


if __name__ == "__main__":
    sys.exit(main())
