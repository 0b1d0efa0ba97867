"""Live-path latency and memory of one Stream, fed at real-time pace on one thread.

Audio is synthesised commands from a held-out voice (models/data/voices.py; espeak-ng when that
voice is not installed), fed in `--chunk-ms` chunks, each chunk handed over no earlier than its
wall-clock time would come from a microphone. Figures:

  endpoint -> final   compute from the endpoint rule firing to the Final (full pipeline on the
                      utterance: Final.timings_ms["endpoint_to_final"]), for ~3 s commands
  partial interval    wall-clock time between consecutive Partials while speaking
  partial compute     Partial.compute_ms 2 s and 15 s into one long utterance (it must not grow)
  soak                `--soak-minutes` of speech and silence alternating through one stream:
                      RSS over time, growth after warm-up, utterances dropped or extra

    nice python bench/stream_latency.py --bundle DIR                   # the 30-minute soak, real time
    nice python bench/stream_latency.py --bundle DIR --soak-minutes 3 --soak-pace fast

Writes bench/results/stream_latency.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import pin_one_core, write_results  # noqa: E402

pin_one_core()

import numpy as np  # noqa: E402

from edge_audiollm import Pipeline  # noqa: E402
from edge_audiollm.events import Final, Partial  # noqa: E402

SR = 16000
COMMANDS = (  # about 3 s each in the held-out voices
    "please set a timer for twenty five minutes for the pasta",
    "turn off all the lights in the living room downstairs",
    "add milk eggs and a loaf of bread to the shopping list",
    "what will the weather be like in berlin tomorrow morning",
    "please wake me up at half past six tomorrow morning",
    "what is twelve times fourteen divided by seven please",
)


def synthesise(texts, voice_name: str) -> list[np.ndarray]:
    from models.data.voices import VOICES, synthesize

    voice = VOICES.get(voice_name)
    if voice is None or not voice.installed():
        print(f"voice {voice_name} not installed; using espeak_us_klatt4", file=sys.stderr)
        voice = VOICES["espeak_us_klatt4"]
    return [synthesize(voice, t) for t in texts]


def room_noise(n: int, rng: np.random.Generator, dbfs: float = -60.0) -> np.ndarray:
    return (rng.standard_normal(n) * 10 ** (dbfs / 20)).astype(np.float32)


def noisy(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A microphone never gives digital silence: the room's noise floor under the speech too."""
    return clip + room_noise(clip.size, rng)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PacedFeed:
    """Hands chunks to a stream no faster than real time; records events with wall times."""

    def __init__(self, stream, chunk_ms: float, realtime: bool = True):
        self.stream, self.chunk = stream, int(SR * chunk_ms / 1000)
        self.realtime = realtime
        self.t0 = time.perf_counter()
        self.fed = 0  # samples
        self.max_lag_s = 0.0

    def feed(self, x: np.ndarray) -> list:
        out = []
        for i in range(0, x.size, self.chunk):
            part = x[i:i + self.chunk]
            self.fed += part.size
            due = self.t0 + self.fed / SR
            if self.realtime:
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
                else:
                    self.max_lag_s = max(self.max_lag_s, now - due)
            for e in self.stream.accept_waveform(part, SR):
                out.append((time.perf_counter() - self.t0, e))
        return out  # the caller keeps what it needs (a Final holds its audio: keeping them all grows RSS)


def commands_phase(pipe, clips, args, rng) -> dict:
    stream = pipe.create_stream(task=args.task)
    feed = PacedFeed(stream, args.chunk_ms)
    rows = []
    for clip in clips:
        got = feed.feed(np.concatenate([room_noise(SR // 2, rng), noisy(clip, rng), room_noise(SR * 3 // 2, rng)]))
        finals = [e for _, e in got if isinstance(e, Final)]
        walls = [w for w, e in got if isinstance(e, Partial)]
        rows.append({"speech_s": round(clip.size / SR, 2), "finals": len(finals),
                     "endpoint_to_final_ms": round(finals[0].timings_ms["endpoint_to_final"], 1) if finals else None,
                     "partial_intervals_ms": [round((b - a) * 1e3, 1) for a, b in zip(walls, walls[1:])]})
    e2f = [r["endpoint_to_final_ms"] for r in rows if r["endpoint_to_final_ms"] is not None]
    gaps = [g for r in rows for g in r["partial_intervals_ms"]]
    return {"commands": len(rows), "speech_s": [r["speech_s"] for r in rows],
            "finals_per_command": [r["finals"] for r in rows],
            "endpoint_to_final_ms": {"median": _med(e2f), "max": max(e2f, default=None), "each": e2f},
            "partial_interval_ms": {"median": _med(gaps), "p95": _pct(gaps, 95), "max": max(gaps, default=None)},
            "max_feed_lag_s": round(feed.max_lag_s, 3)}


def long_utterance_phase(pipe, clips, args, rng) -> dict:
    """One utterance of 17 s: commands joined by 0.15 s pauses, trailing silence rule off."""
    parts = []
    while sum(p.size for p in parts) < 17 * SR:
        for c in clips:
            parts += [noisy(c, rng), room_noise(int(0.15 * SR), rng)]
    x = np.concatenate([room_noise(SR // 2, rng), *parts])[: int(17.5 * SR)]
    parts, finals_during = [], 0
    for _ in range(args.long_repeats):  # a fresh stream each time; medians over all of them
        stream = pipe.create_stream(task=args.task, silence_after_speech_s=3.0, silence_no_text_s=3.0,
                                    max_utterance_s=19.0)
        got = PacedFeed(stream, args.chunk_ms).feed(x)
        parts += [e for _, e in got if isinstance(e, Partial)]
        finals_during += sum(isinstance(e, Final) for _, e in got)

    def at(age_s: float) -> dict:
        near = [p for p in parts if abs((p.end_s - p.start_s) - age_s) <= 0.5]
        return {"compute_ms": _med([p.compute_ms for p in near]), "window_s": _med([p.window_s for p in near]),
                "updates": len(near)}

    return {"at_2s": at(2.0), "at_5s": at(5.0), "at_10s": at(10.0), "at_15s": at(15.0),
            "partial_window_s": stream.options.partial_window_s, "repeats": args.long_repeats,
            "finals_during": finals_during}


def soak_phase(pipe, clips, args, rng) -> dict:
    stream = pipe.create_stream(task=args.task)
    feed = PacedFeed(stream, args.chunk_ms, realtime=args.soak_pace == "realtime")
    total = args.soak_minutes * 60 * SR
    played, finals, samples = [], [], []
    next_sample = 0
    t_wall = time.perf_counter()
    while feed.fed < total:
        gap = room_noise(int(rng.uniform(1.5, 3.0) * SR), rng)
        clip = noisy(clips[len(played) % len(clips)] * np.float32(rng.uniform(0.5, 1.0)), rng)
        start = (feed.fed + gap.size) / SR
        played.append((start, start + clip.size / SR))
        finals += _spans(feed.feed(np.concatenate([gap, clip])))
        if feed.fed >= next_sample:
            samples.append((round(feed.fed / SR / 60, 2), round(rss_mb(), 1)))
            next_sample += 30 * SR
    finals += _spans(feed.feed(room_noise(2 * SR, rng)))
    finals += _spans((0.0, e) for e in stream.finish())
    samples.append((round(feed.fed / SR / 60, 2), round(rss_mb(), 1)))
    covers = [sum(s < b and e > a for a, b in played) for s, e in finals]  # played regions each Final spans
    heard = [any(s < b and e > a for s, e in finals) for a, b in played]
    warm = next((r for m, r in samples if m >= min(2.0, args.soak_minutes / 5)), samples[0][1])
    peak_after = max(r for m, r in samples if m >= min(2.0, args.soak_minutes / 5))
    return {"audio_minutes": round(feed.fed / SR / 60, 2), "pace": args.soak_pace,
            "wall_minutes": round((time.perf_counter() - t_wall) / 60, 2),
            "utterances_played": len(played), "finals": len(finals), "dropped": heard.count(False),
            "extra": covers.count(0), "merged": sum(c > 1 for c in covers), "rss_mb_warm": warm, "rss_mb_end": samples[-1][1], "rss_mb_peak_after_warm": peak_after,
            "rss_growth_pct": round(100 * (peak_after - warm) / warm, 2), "rss_mb_over_time": samples,
            "max_feed_lag_s": round(feed.max_lag_s, 3)}


def _spans(events) -> list[tuple[float, float]]:
    return [(e.start_s, e.end_s) for _, e in events if isinstance(e, Final)]


def _med(xs):
    return round(statistics.median(xs), 2) if xs else None


def _pct(xs, q):
    return round(float(np.percentile(xs, q)), 2) if xs else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="default")
    p.add_argument("--task", default="understand", choices=("understand", "transcribe"))
    p.add_argument("--voice", default="festival_ked", help="a voice name of models/data/voices.py (held out)")
    p.add_argument("--chunk-ms", type=float, default=20.0, help="chunk length a microphone would deliver")
    p.add_argument("--long-repeats", type=int, default=3, help="runs of the 17 s utterance (partial cost medians)")
    p.add_argument("--soak-minutes", type=float, default=30.0, help="minutes of audio in the soak (0: skip)")
    p.add_argument("--soak-pace", default="realtime", choices=("realtime", "fast"),
                   help="fast: feed as fast as it computes (the same stream work, shorter wall time)")
    args = p.parse_args()
    pipe = Pipeline.load(args.bundle, providers=["cpu"], threads=1)
    rng = np.random.default_rng(0)
    clips = synthesise(COMMANDS, args.voice)
    print(f"bundle {pipe.bundle.name}, task {args.task}, {args.chunk_ms:g} ms chunks, real-time pace, one thread")
    cmd = commands_phase(pipe, clips, args, rng)
    print(f"endpoint -> final: median {cmd['endpoint_to_final_ms']['median']} ms, max {cmd['endpoint_to_final_ms']['max']} ms "
          f"over {cmd['commands']} commands of {min(cmd['speech_s'])}-{max(cmd['speech_s'])} s (target <= 50 ms)")
    print(f"interval between partials: median {cmd['partial_interval_ms']['median']} ms, "
          f"p95 {cmd['partial_interval_ms']['p95']} ms, max {cmd['partial_interval_ms']['max']} ms (target <= 200 ms)")
    long = long_utterance_phase(pipe, clips, args, rng)
    print("compute per partial, by time into one utterance: " + ", ".join(
        f"{k[3:-1]} s: {v['compute_ms']} ms (window {v['window_s']} s)" for k, v in long.items() if k.startswith("at_"))
        + f"; the window stops at {long['partial_window_s']} s + one interval")
    result = {"bundle": pipe.bundle.name, "task": args.task, "voice": args.voice, "chunk_ms": args.chunk_ms,
              "commands": cmd, "long_utterance": long}
    if args.soak_minutes > 0:
        soak = soak_phase(pipe, clips, args, rng)
        result["soak"] = soak
        print("RSS over time (audio minute: MB): " + ", ".join(f"{m}: {r}" for m, r in soak["rss_mb_over_time"]))
        print(f"soak: {soak['audio_minutes']} min of audio ({soak['pace']}, {soak['wall_minutes']} min wall), "
              f"{soak['utterances_played']} utterances played, {soak['finals']} finals, {soak['dropped']} dropped, "
              f"{soak['extra']} extra, {soak['merged']} merged; RSS {soak['rss_mb_warm']} MB after warm-up, peak after {soak['rss_mb_peak_after_warm']} MB "
              f"({soak['rss_growth_pct']:+.1f}%, target < 10%)")
    print(f"wrote {write_results('stream_latency', result)}")


if __name__ == "__main__":
    main()
