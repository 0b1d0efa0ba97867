"""Speed and size of a bundle against faster-whisper tiny.en, in one run, on one thread.

    nice -n 5 python bench/footprint.py [--bundle default] [--commands 20]

Prints and writes bench/results/footprint.json:
  - compute per command (3-5 s held-out synthetic commands): our `understand` and `transcribe`
    (the bundle's default decoder and, where that is Whisper's text decoder, the CTC fast path
    too) against faster-whisper tiny.en (int8, beam 5, the same samples), and the ratio;
  - real-time factor of our pipeline on those commands;
  - bundle size on disk;
  - peak RSS of `edge-audiollm understand` on a 5 s file, from process start to exit
    (a fresh process each, measured by the kernel's ru_maxrss), and of a faster-whisper
    process doing the same file, for scale.
Whisper pads every input to 30 s, so on short commands its encoder does 6-10x the work the
audio needs; that is the price of its design, and the point of running on the utterance's
own length.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import RESULTS_DIR, machine, pin_one_core  # noqa: E402

pin_one_core()

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from bench import datasets  # noqa: E402

SAMPLE_RATE = 16000
_WHISPER_CHILD = """
import sys, os
from faster_whisper import WhisperModel
m = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=1)
segs, _ = m.transcribe(sys.argv[2], language="en", beam_size=5)
print(" ".join(s.text for s in segs))
"""


def commands(corpus: Path, n: int, lo: float = 3.0, hi: float = 5.0) -> list[Path]:
    rows = [json.loads(x) for x in (corpus / "test_synthetic.jsonl").read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r["kind"] == "command" and lo <= r["duration_s"] <= hi]
    return [corpus / r["path"] for r in rows[:n]]


def child_peak_rss_mb(cmd: list[str]) -> tuple[float, float, str]:
    """(peak RSS MB, wall s, stdout) of a fresh process; ru_maxrss of RUSAGE_CHILDREN is a
    running maximum, so each measurement runs in its own intermediate Python process."""
    probe = ("import resource, subprocess, sys, time, json; t=time.perf_counter(); "
             "p=subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "
             "time.perf_counter()-t, p.returncode, p.stdout, p.stderr[-500:]]))")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, env=env, check=True)
    rss, wall, rc, stdout, stderr = json.loads(out.stdout)
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({rc}): {stderr}")
    return rss, wall, stdout.strip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="default")
    p.add_argument("--corpus", type=Path, default=datasets.CORPUS_DIR)
    p.add_argument("--commands", type=int, default=20)
    a = p.parse_args(argv)

    from faster_whisper import WhisperModel

    from bench.vs_peers import whisper_model_dir
    from edge_audiollm import Pipeline

    files = commands(a.corpus, a.commands)
    if not files:
        raise SystemExit("no 3-5 s held-out commands: build the corpus first (python -m models.data.build_corpus)")
    audio = [datasets.load_samples(f) for f in files]
    audio_s = sum(len(x) for x in audio) / SAMPLE_RATE
    pipe = Pipeline.load(a.bundle, providers=["cpu"], threads=1)
    wdir = whisper_model_dir()
    whisper = WhisperModel(str(wdir), device="cpu", compute_type="int8", cpu_threads=1)

    # One pipeline each: the word LM's score cache lives on the pipeline, and a second pass over
    # the same files would find it warm (it took the CTC beam from 35 to 21 ms a command).
    pipe_t = Pipeline.load(a.bundle, providers=["cpu"], threads=1)

    def ours_understand(x):
        pipe.understand(x, sample_rate=SAMPLE_RATE)

    def ours_transcribe(x):
        pipe_t.transcribe(x, sample_rate=SAMPLE_RATE)

    paths = [("ours_understand", ours_understand), ("ours_transcribe", ours_transcribe)]
    pipes = [pipe, pipe_t]
    if pipe.whisper_text is not None:
        # the default answers with Whisper's text decoder; the CTC beam is the fast path beside it
        pipe_cu = Pipeline.load(a.bundle, providers=["cpu"], threads=1)
        pipe_ct = Pipeline.load(a.bundle, providers=["cpu"], threads=1)
        pipes += [pipe_cu, pipe_ct]
        paths += [("ours_understand_ctc_words", lambda x: pipe_cu.understand(x, sample_rate=SAMPLE_RATE, words="ctc")),
                  ("ours_transcribe_ctc", lambda x: pipe_ct.transcribe(x, sample_rate=SAMPLE_RATE, decoder="ctc"))]

    def whisper_transcribe(x):
        segs, _ = whisper.transcribe(x, language="en", beam_size=5)
        list(segs)

    # A running assistant reads the word LM once (Pipeline.preload); the CTC paths read it on
    # their first call, Whisper's only when its words do not parse. Each pipeline pays it here,
    # untimed, so a timed pass holds no one-off 0.7 s; the LM's score cache stays cold.
    for each in pipes:
        each.preload()
    timed = {}
    for name, fn in (*paths, ("whisper_tiny_en_transcribe", whisper_transcribe)):
        fn(audio[0])  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        for x in audio:
            fn(x)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        timed[name] = {"seconds_per_command": round(wall / len(audio), 4), "cpu_seconds_per_command": round(cpu / len(audio), 4),
                       "real_time_factor": round(wall / audio_s, 4)}
        print(f"{name:<28} {wall / len(audio) * 1e3:8.1f} ms per command  RTF {wall / audio_s:.4f}  "
              f"(CPU {cpu / len(audio) * 1e3:.1f} ms)", flush=True)
    w = timed["whisper_tiny_en_transcribe"]["cpu_seconds_per_command"]
    ratios = {k: round(w / v["cpu_seconds_per_command"], 2) for k, v in timed.items() if k.startswith("ours")}
    print(f"faster-whisper CPU time / ours: {ratios}")

    bundle_mb = pipe.bundle.size_bytes / 1e6
    section = pipe.bundle.manifest.get("whisper_text", {})
    whisper_files = {v for v in section.values() if isinstance(v, str)}
    whisper_mb = sum(int(f.get("bytes", 0)) for k, f in pipe.bundle.manifest["files"].items() if k in whisper_files) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        five = Path(tmp) / "five_s.wav"
        x = np.concatenate(audio)[: 5 * SAMPLE_RATE]
        sf.write(five, np.pad(x, (0, max(0, 5 * SAMPLE_RATE - len(x)))), SAMPLE_RATE)
        cli = [sys.executable, "-m", "edge_audiollm", "understand", "--json", "--threads", "1", "--bundle", a.bundle, str(five)]
        rss_ours, wall_ours, line = child_peak_rss_mb(cli)
        rss_whisper, wall_whisper, _ = child_peak_rss_mb([sys.executable, "-c", _WHISPER_CHILD, str(wdir), str(five)])
    if whisper_mb:
        print(f"bundle without Whisper's text decoder: {bundle_mb - whisper_mb:.1f} MB (the decoder: {whisper_mb:.1f} MB)")
    print(f"bundle {bundle_mb:.1f} MB on disk; peak RSS `edge-audiollm understand` 5 s file: {rss_ours:.0f} MB "
          f"({wall_ours:.2f} s wall); faster-whisper process on the same file: {rss_whisper:.0f} MB ({wall_whisper:.2f} s)")
    result = {"bundle": pipe.bundle.name, "bundle_path": str(pipe.bundle.path), "default_decoder": pipe.default_decoder,
              "commands": len(audio),
              "audio_seconds": round(audio_s, 2), "timed": timed, "whisper_cpu_over_ours": ratios,
              "bundle_mb": round(bundle_mb, 2), "whisper_text_mb": round(whisper_mb, 2), "peak_rss_mb": {"edge_audiollm_understand_5s": round(rss_ours, 1),
                                                                "faster_whisper_5s": round(rss_whisper, 1)},
              "cli_output": json.loads(line) if line.startswith("{") else line,
              "note": "Whisper pads every input to 30 s; ours runs the encoder on the utterance's own length."}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "footprint.json"
    out.write_text(json.dumps({"machine": machine(), **result}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
