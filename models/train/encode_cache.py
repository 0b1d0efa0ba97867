"""Run the frozen encoder once over the corpus and keep its states (float16 .npy per
utterance). The encoder never trains, so every later stage reads these instead of
re-running it: the heads, adapters and LLM train on exactly what the deployed int8
encoder graph emits.

    python -m models.train.encode_cache --corpus data/corpus --encoder data/whisper/encoder_int8.onnx \
        --out data/cache/whisper-tiny.en --splits train valid test_synthetic test_noisy

The codec's tokens the same way (--encoder a codec bundle directory): int16 codes (frames,
n_codebooks) per utterance, what the discrete-path adapters (models/adapters/codec_tokens.py) read:

    python -m models.train.encode_cache --encoder edge_audiollm/bundles/codec --out data/cache/codec-mel \
        --splits train valid
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edge_audiollm.audio import load_audio
from edge_audiollm.features_whisper import whisper_log_mel
from edge_audiollm.runtime import make_session

from .corpus import read_split

MAX_SECONDS = 30.0  # Whisper's position table ends at 30 s


def encode_file(session, path: Path) -> np.ndarray:
    samples = load_audio(path).samples[: int(MAX_SECONDS * 16000)]
    feats = whisper_log_mel(samples)
    return session.run({"features": feats[None]}, ["hidden"])[0][0].astype(np.float16)


def file_encoder(encoder: Path, threads: int = 1) -> Callable[[Path], np.ndarray]:
    """path -> what the cache keeps for it: Whisper states (an encoder .onnx) or codec codes (a
    codec bundle directory)."""
    if encoder.is_dir():
        from edge_audiollm.codec import Codec

        codec = Codec.load(encoder, providers=["cpu"], threads=threads)
        return lambda path: codec.encode(path).codes.T.astype(np.int16)
    session = make_session(encoder, ["cpu"], threads)
    return lambda path: encode_file(session, path)


ENCODER_STAMP = "encoder.sha256"


def encoder_digest(encoder: Path) -> str:
    """What made a cache: the sha256 of the encoder graph, or for a codec bundle the sha256 its
    manifest records for its encoder graph (the codes change whenever the codec is retrained)."""
    if encoder.is_dir():
        manifest = json.loads((encoder / "manifest.json").read_text())
        return manifest["files"][manifest["encoder"]["file"]]["sha256"]
    return hashlib.sha256(encoder.read_bytes()).hexdigest()


def cached_encoder(cache: Path, split: str) -> str | None:
    """The encoder digest a cache split was stamped with; None for caches made before the stamp."""
    stamp = cache / split / ENCODER_STAMP
    return stamp.read_text().strip() if stamp.is_file() else None


def check_source(corpus: Path, split: str, target: Path, encoder: str | None = None) -> None:
    """States are named by utterance index, so a cache built from another corpus (another seed or
    size), or by another encoder, would silently hand every stage the wrong audio or the wrong
    codes: the cache records which manifest and which encoder (`encoder`: encoder_digest) it holds
    and refuses any other."""
    digest = hashlib.sha256((corpus / f"{split}.jsonl").read_bytes()).hexdigest()
    stamp, made_by = target / "manifest.sha256", target / ENCODER_STAMP
    if stamp.is_file():
        if stamp.read_text().strip() != digest:
            raise SystemExit(f"{target} holds encoder states of another {split}.jsonl than {corpus}'s; "
                             f"delete {target} (it is rebuilt in minutes) or pass another --cache")
        if encoder is not None and made_by.is_file() and made_by.read_text().strip() != encoder:
            raise SystemExit(f"{target} holds the states of another encoder than the one given (a retrained codec "
                             f"or another graph); delete {target} (it is rebuilt in minutes) or pass another --out")
    elif any(target.glob("*.npy")):
        raise SystemExit(f"{target} holds encoder states of unknown origin; delete it or pass another --cache")
    else:
        target.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest + "\n")
        if encoder is not None:
            made_by.write_text(encoder + "\n")


def encode_split(corpus: Path, split: str, encoder: Path, out: Path, threads: int = 1, log=print) -> int:
    encode = file_encoder(encoder, threads)
    utts = read_split(corpus, split)
    target = out / split
    check_source(corpus, split, target, encoder_digest(encoder))  # creates target, stamped, when it is new
    done, t0, audio_s = 0, time.time(), 0.0
    for u in utts:
        dst = target / f"{u.uid}.npy"
        if dst.exists():  # resumable
            continue
        h = encode(u.path)
        tmp = dst.with_suffix(".tmp.npy")
        np.save(tmp, h)
        tmp.rename(dst)  # never a half-written cache file
        done += 1
        audio_s += u.duration_s
        if done % 500 == 0:
            log(f"  {split}: {done} encoded, {audio_s / max(time.time() - t0, 1e-9):.0f} audio s per s")
    log(f"{split}: {len(utts)} utterances cached in {target} ({done} new, {time.time() - t0:.0f} s)")
    return done


def load_states(cache: Path, split: str, uid: str) -> np.ndarray:
    return np.load(cache / split / f"{uid}.npy", allow_pickle=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--encoder", type=Path, required=True, help="encoder .onnx, or a codec bundle directory (its codes)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--splits", nargs="+", default=["train", "valid", "test_synthetic", "test_noisy"])
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    for split in a.splits:
        encode_split(a.corpus, split, a.encoder, a.out, a.threads)


if __name__ == "__main__":
    main()
