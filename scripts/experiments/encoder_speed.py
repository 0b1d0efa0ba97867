"""Experiment: CPU time of the Whisper encoders (int8 graphs, one thread) on the same held-out
3-5 s commands, in one process so the machine's noise hits both alike (not shipped).
  python scripts/experiments/encoder_speed.py [N_COMMANDS]
"""
import sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench import datasets
from edge_audiollm.features_whisper import whisper_log_mel
from edge_audiollm.runtime import make_session
from models.train.recipe import CONFIGS

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
commands = (u.load() for u in datasets.synthetic_group("synthetic", max_utterances=None) if u.meta.get("kind") == "command")
clips = [x for x in commands if 3.0 <= len(x) / 16000 <= 5.0][:n]
feats = [whisper_log_mel(x)[None] for x in clips]
audio_s = sum(len(x) for x in clips) / 16000
sessions = {name: make_session(Path(CONFIGS[name].encoder_onnx), ["cpu"], 1) for name in ("default", "whisper-base")}
for s in sessions.values():  # warm-up: first runs allocate
    s.run({"features": feats[0]}, ["hidden"])
best = {}
for _ in range(3):  # interleaved rounds, best of three: the least disturbed pass
    for name, s in sessions.items():
        t0 = time.process_time()
        for f in feats:
            s.run({"features": f}, ["hidden"])
        best[name] = min(best.get(name, 1e9), time.process_time() - t0)
for name, t in best.items():
    size = Path(CONFIGS[name].encoder_onnx).stat().st_size / 1e6
    print(f"{name:13s} {CONFIGS[name].whisper:8s} {1000 * t / len(feats):6.1f} ms a command  RTF {t / audio_s:.4f}  {size:.1f} MB int8")
print(f"base / tiny.en CPU time: {best['whisper-base'] / best['default']:.2f}x over {len(feats)} commands, {audio_s:.0f} s of audio")
