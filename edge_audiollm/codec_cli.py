"""`edge-audiollm codec encode IN OUT.npz` and `edge-audiollm codec decode IN.npz OUT.wav`.

An output is never the input file (not even with --force: a decoded file must not destroy what
it came from), and an existing output is replaced only with --force. Only argparse is imported
here at start-up; numpy and onnxruntime load when the command runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_parser(sub) -> None:
    from .cli import PROVIDER_CHOICES  # cli.py is the one calling: already imported

    p = sub.add_parser("codec", help="neural speech codec: audio <-> tokens at a low frame rate",
                       description="Encode audio to residual VQ tokens (.npz) and decode them back to audio.")
    actions = p.add_subparsers(dest="codec_command", metavar="ACTION", required=True)
    enc = actions.add_parser("encode", help="audio file -> token file (.npz)", description="Audio file -> token file (.npz).")
    enc.add_argument("input", metavar="IN", help="WAV, FLAC or OGG (any rate, any channels)")
    enc.add_argument("output", metavar="OUT.npz", help="token file to write")
    enc.add_argument("--codebooks", type=int, default=None, metavar="N",
                     help="keep the first N codebooks (default: all): fewer is a lower bitrate")
    dec = actions.add_parser("decode", help="token file (.npz) -> WAV", description="Token file (.npz) -> 16-bit WAV.")
    dec.add_argument("input", metavar="IN.npz", help="token file written by `codec encode`")
    dec.add_argument("output", metavar="OUT.wav", help="WAV file to write")
    for q in (enc, dec):
        q.add_argument("--codec", default=None, metavar="PATH",
                       help="codec bundle directory (default: the shipped one, edge_audiollm/bundles/codec)")
        q.add_argument("--force", action="store_true", help="replace OUT if it exists (never the input)")
        q.add_argument("--provider", default="cpu", choices=PROVIDER_CHOICES, help="execution provider (default: %(default)s)")
        q.add_argument("--threads", type=int, default=1, help="intra-op threads (default: %(default)s)")


def check_output(input_path: str, output_path: str) -> None:
    from .errors import CodecError

    src, dst = Path(input_path), Path(output_path)
    same = src.resolve() == dst.resolve() or (src.exists() and dst.exists() and os.path.samefile(src, dst))
    if same:
        raise CodecError(f"{dst}: is the input file; refusing to overwrite it, choose another output path")


def run(args: argparse.Namespace) -> int:
    from .codec import Codec, load_tokens, refuse_existing, save_tokens, write_atomically
    from .errors import CodecError

    if args.threads < 1:
        raise CodecError(f"--threads must be at least 1, got {args.threads}")
    check_output(args.input, args.output)
    out = Path(args.output)
    refuse_existing(out, args.force)  # before loading the codec: the answer does not depend on it
    codec = Codec.load(args.codec, providers=[args.provider], threads=args.threads)
    if args.codec_command == "encode":
        tokens = codec.encode(args.input, n_codebooks=args.codebooks)
        save_tokens(out, tokens, overwrite=args.force)
        print(f"{out}: {tokens.n_codebooks} codebooks x {tokens.n_frames} frames at {tokens.frame_rate_hz:g} Hz "
              f"({tokens.bitrate_bps:.0f} bit/s)")
        return 0
    import soundfile as sf

    tokens = load_tokens(args.input)
    audio = codec.decode(tokens, source=args.input)
    write_atomically(out, lambda f: sf.write(f, audio, codec.sample_rate, format="WAV", subtype="PCM_16"),
                     overwrite=args.force)
    print(f"{out}: {len(audio) / codec.sample_rate:.2f} s at {codec.sample_rate} Hz from {tokens.n_codebooks} codebooks")
    return 0
