"""VAD comparison: energy, silero-vad (ONNX, our session) and the encoder's CTC blank posterior.

A test signal is built from the corpus's held-out clean utterances (data/corpus/test_synthetic)
separated by random silences; the known speech regions are where each clean utterance is
within 40 dB of its loudest 20 ms frame (pauses under 0.2 s inside an utterance count as
speech). The same signal with pink noise at 10 dB SNR is the noisy condition. Each VAD is
fed 100 ms chunks as a stream would; frame-level precision, recall and F1 are scored on a
10 ms grid, and cost is compute per audio second. Writes bench/results/vad.json.

    nice python bench/vad.py --n 30 --bundle runs/tiny/bundle
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import pin_one_core, write_results  # noqa: E402

pin_one_core()

import numpy as np  # noqa: E402

from edge_audiollm.audio import load_audio  # noqa: E402

SR = 16000
GRID = 160  # 10 ms


def corpus_signal(corpus: Path, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rows = [json.loads(line) for line in (corpus / "test_synthetic.jsonl").read_text().splitlines() if line.strip()]
    rng = np.random.default_rng(seed)
    rows = [rows[i] for i in rng.permutation(len(rows))[:n]]
    parts, labels = [], []
    for r in rows:
        gap = np.zeros(int(rng.uniform(0.5, 2.0) * SR), np.float32)
        x = load_audio(corpus / r["path"]).samples
        parts += [gap, x]
        labels += [np.zeros(gap.size, bool), speech_mask(x)]
    parts.append(np.zeros(SR, np.float32))
    labels.append(np.zeros(SR, bool))
    return np.concatenate(parts), np.concatenate(labels)


def speech_mask(x: np.ndarray) -> np.ndarray:
    n = x.size // 320
    e = 10 * np.log10(np.mean(x[: n * 320].reshape(n, 320) ** 2, axis=1) + 1e-12)
    on = e > e.max() - 40
    idx = np.flatnonzero(on)
    frames = np.zeros(n, bool)
    if idx.size:
        frames[idx[0]: idx[-1] + 1] = on[idx[0]: idx[-1] + 1]
        # close pauses shorter than 0.2 s
        gaps = np.flatnonzero(np.diff(idx) > 1)
        for g in gaps:
            a, b = idx[g], idx[g + 1]
            if (b - a) * 0.02 < 0.2:
                frames[a:b] = True
    mask = np.repeat(frames, 320)
    return np.concatenate([mask, np.zeros(x.size - mask.size, bool)])


def pink_noise(n: int, rng) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    y = np.fft.irfft(spec, n)
    return (y / np.sqrt(np.mean(y ** 2))).astype(np.float32)


def add_noise(x: np.ndarray, mask: np.ndarray, snr_db: float) -> np.ndarray:
    speech_power = float(np.mean(x[mask] ** 2))
    noise = pink_noise(x.size, np.random.default_rng(1)) * np.sqrt(speech_power / 10 ** (snr_db / 10))
    y = x + noise
    return (y / max(1.0, np.abs(y).max() / 0.99)).astype(np.float32)


def run_vad(vad, x: np.ndarray, chunk: int = 1600) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    probs = [vad(x[i:i + chunk]) for i in range(0, x.size, chunk)]
    dt = time.perf_counter() - t0
    p = np.concatenate(probs)
    frame = int(round(vad.frame_s * SR))
    grid = np.arange(p.size * frame // GRID) * GRID // frame  # each 10 ms cell -> the VAD frame holding it
    return p[grid], dt / (x.size / SR)


def score(pred: np.ndarray, truth: np.ndarray) -> dict:
    n = min(pred.size, truth.size)
    pred, truth = pred[:n], truth[:n]
    tp = int(np.sum(pred & truth))
    fp = int(np.sum(pred & ~truth))
    fn = int(np.sum(~pred & truth))
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / max(p + r, 1e-9), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="data/corpus")
    ap.add_argument("--n", type=int, default=30, help="utterances (default 30)")
    ap.add_argument("--snr-db", type=float, default=10.0)
    ap.add_argument("--bundle", default="default", help="bundle whose CTC head is the third VAD ('' to skip)")
    ap.add_argument("--threshold", type=float, default=0.5)
    args = ap.parse_args()

    from edge_audiollm.vad import CtcVad, EnergyVad, SileroModel, SileroVad, VadError

    x, mask = corpus_signal(Path(args.corpus), args.n)
    truth = mask[: mask.size // GRID * GRID].reshape(-1, GRID).mean(axis=1) >= 0.5
    noisy = add_noise(x, mask, args.snr_db)
    makers = {"energy": EnergyVad}
    try:
        silero = SileroModel()
        makers["silero"] = lambda: SileroVad(silero)
    except VadError as exc:
        print(f"silero: skipped ({exc})")
    bundle_name = None
    if args.bundle:
        from edge_audiollm import Pipeline
        from edge_audiollm.errors import BundleError

        try:
            pipe = Pipeline.load(args.bundle)
            bundle_name = pipe.bundle.name
            makers["ctc"] = lambda: CtcVad(pipe)
        except (BundleError, VadError) as exc:
            print(f"ctc: skipped ({exc})")
    audio_s = x.size / SR
    print(f"{args.n} held-out utterances, {audio_s:.0f} s of audio, {truth.mean():.0%} speech; threshold {args.threshold}")
    print(f"{'vad':8} {'clean F1':>9} {'P':>6} {'R':>6} {'@' + str(int(args.snr_db)) + 'dB F1':>9} {'P':>6} {'R':>6}"
          f" {'ms per audio s':>15}")
    results = {}
    for name, make in makers.items():
        row = {}
        for cond, sig in (("clean", x), (f"snr{int(args.snr_db)}db", noisy)):
            p, cost = run_vad(make(), sig)
            row[cond] = score(p >= args.threshold, truth)
            row.setdefault("ms_per_audio_s", []).append(round(cost * 1e3, 3))
        row["ms_per_audio_s"] = min(row["ms_per_audio_s"])
        results[name] = row
        c, nz = row["clean"], row[f"snr{int(args.snr_db)}db"]
        print(f"{name:8} {c['f1']:9.3f} {c['precision']:6.3f} {c['recall']:6.3f} {nz['f1']:9.3f} "
              f"{nz['precision']:6.3f} {nz['recall']:6.3f} {row['ms_per_audio_s']:15.3f}")
    out = write_results("vad", {"utterances": args.n, "audio_seconds": round(audio_s, 1), "snr_db": args.snr_db,
                                "threshold": args.threshold, "ctc_bundle": bundle_name, "vads": results})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
