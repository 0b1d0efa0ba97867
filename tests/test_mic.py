"""The microphone path through a real capture device: a private PulseAudio server whose
null-sink monitor is the default capture source (tests/audio_server.py), commands played
into it with paplay, captured by sounddevice -> PortAudio -> ALSA -> pulse in real time.
No mocked audio stream. Everything that captures runs in a subprocess with the server's
environment (PortAudio reads it when it initialises).

Run one scenario by hand: python tests/test_mic.py overflow BUNDLE WAV1 WAV2 (inside the server's env).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from audio_server import AudioServer, CaptureProcess, missing_tools  # noqa: E402

needs_server = pytest.mark.skipif(bool(missing_tools()), reason=f"needs {' '.join(missing_tools())} (apt)")


def padded(src: Path, dst: Path, lead_s: float = 0.5, tail_s: float = 1.2) -> tuple[Path, float, float]:
    """The file with silence around it, at 16 kHz; returns (path, speech start s, speech end s)."""
    from edge_audiollm.audio import load_audio

    x = load_audio(src).samples
    frames = x[: x.size // 320 * 320].reshape(-1, 320)
    idx = np.flatnonzero(10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-10) > -45)
    y = np.concatenate([np.zeros(int(lead_s * 16000), np.float32), x, np.zeros(int(tail_s * 16000), np.float32)])
    sf.write(str(dst), y, 16000, subtype="PCM_16")
    return dst, lead_s + idx[0] * 0.02, lead_s + (idx[-1] + 1) * 0.02


@pytest.fixture(scope="module")
def server():
    with AudioServer() as s:
        yield s


def Listener(server, *args, ready_timeout_s=60):
    """`edge-audiollm listen ...` in a subprocess, returned once it says it is listening."""
    return CaptureProcess(server, ["-m", "edge_audiollm", "listen", *map(str, args)], ready_timeout_s=ready_timeout_s)


def run_cli(server_env, *args, timeout=60, pre=""):
    code = pre + "import sys; from edge_audiollm.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], env=server_env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@needs_server
def test_devices_lists_the_capture_device(server):
    r = run_cli(server.env, "devices", "--json")
    assert r.returncode == 0, r.stderr
    devices = [json.loads(line) for line in r.stdout.splitlines()]
    names = {d["name"] for d in devices}
    assert "pulse" in names and any(d["default"] for d in devices)
    assert all(d["channels"] > 0 and d["default_sample_rate"] > 0 for d in devices)


@needs_server
def test_listen_once_json_through_capture_device(server, tiny_bundle, speech_wav, tmp_path):
    wav, a, b = padded(speech_wav, tmp_path / "cmd.wav")
    listener = Listener(server, "--once", "--json", "--task", "understand", "--bundle", tiny_bundle,
                        "--save-audio", tmp_path / "heard")
    t_play = time.monotonic()
    server.play(wav)
    rc, out, err = listener.wait(timeout=30)
    assert rc == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    partials = [ln for ln in lines if ln["partial"]]
    finals = [ln for ln in lines if not ln["partial"]]
    assert len(finals) == 1 and len(partials) >= 3
    f = finals[0]
    assert f["intent"] == "unknown" and f["slots"] == {} and f["bundle"] == "tiny-test-fixture"
    assert f["endpoint"] == "silence_after_speech" and f["provider"] == "cpu"
    speech_s = b - a
    # stream time counts from when capture began; the utterance spans the spoken part
    assert abs((f["end_s"] - f["start_s"]) - speech_s) < 0.7
    assert time.monotonic() - t_play < 30
    saved = Path(f["audio_path"])
    info = sf.info(str(saved))
    assert saved.parent == tmp_path / "heard" and info.samplerate == 16000
    assert info.duration == pytest.approx(f["end_s"] - f["start_s"], abs=0.01)
    assert not err, err  # no warnings: nothing dropped at real-time pace


@needs_server
def test_missing_device_is_one_clear_line(server):
    r = run_cli(server.env, "listen", "--device", "no-such-microphone")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "edge-audiollm: error: no input device matching 'no-such-microphone'; `edge-audiollm devices` lists them"]
    r = run_cli(server.env, "listen", "--device", "99")
    assert r.returncode == 2 and "no input device with index 99" in r.stderr and len(r.stderr.splitlines()) == 1


def test_no_input_device_at_all_is_one_clear_line(tmp_path):
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path), "PULSE_RUNTIME_PATH": str(tmp_path / "pulse")}
    env.pop("PULSE_SERVER", None)  # no sound server here, and (in CI) no sound card
    r = run_cli(env, "devices", "--json")
    if r.returncode == 0 and r.stdout.strip():
        pytest.skip(f"this machine has input devices without a sound server: {r.stdout.strip()[:200]}")
    r = run_cli(env, "listen")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "edge-audiollm: error: no audio input device found; plug in a microphone (or check `edge-audiollm devices`)"]


def test_missing_portaudio_is_one_clear_line():
    pre = "import ctypes.util; ctypes.util.find_library = lambda name: None; "
    r = run_cli(None, "devices", pre=pre)
    if "sounddevice" in sys.modules or r.returncode == 0:
        pytest.skip("sounddevice found PortAudio without ctypes.util (bundled _sounddevice_data)")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "edge-audiollm: error: PortAudio library not found; install the PortAudio library "
        "(Debian/Ubuntu: apt-get install libportaudio2; macOS: brew install portaudio)"]


@needs_server
def test_device_vanishing_mid_stream_is_one_clear_line(tiny_bundle):
    with AudioServer() as own:
        listener = Listener(own, "--bundle", tiny_bundle)
        time.sleep(0.5)
        own.kill()
        rc, out, err = listener.wait(timeout=30)
    assert rc == 2 and out == ""
    assert len(err) == 1 and "stopped delivering audio" in err[0] and "unplugged" in err[0], err


@needs_server
def test_overflow_is_counted_and_the_stream_survives(server, tiny_bundle, speech_wav, speech_wav2, tmp_path):
    w1, _, _ = padded(speech_wav, tmp_path / "a.wav", tail_s=0.3)
    w2, a2, b2 = padded(speech_wav2, tmp_path / "b.wav")
    p = subprocess.Popen([sys.executable, __file__, "overflow", str(tiny_bundle)], env=server.env, cwd=ROOT,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    server.play(w1)  # played while the consumer stalls for 2 s: the 0.5 s queue overflows
    time.sleep(0.3)
    server.play(w2)  # the next utterance, after the stall
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    print(report)
    assert report["overflows"] > 0 and 0.8 <= report["dropped_s"] <= 2.5
    assert "processing fell behind" in report["message"] and "listening goes on" in report["message"]
    last = report["finals"][-1]
    assert last["text"] and abs((last["end_s"] - last["start_s"]) - (b2 - a2)) < 0.7


def _overflow_scenario(bundle: str) -> None:
    """Consumer stalls 2 s right after capture starts, then keeps up; prints a JSON report."""
    from edge_audiollm import Pipeline
    from edge_audiollm.events import Final
    from edge_audiollm.mic import Microphone

    pipe = Pipeline.load(bundle)
    stream = pipe.create_stream(decoder="ctc")  # the fixture's random LLM may say nothing; its CTC head always does
    finals, message = [], ""
    with Microphone(queue_s=0.5) as mic:
        mic.wait_until_live()
        print("ready", flush=True)
        time.sleep(2.0)  # the stalled consumer
        quiet_since = None
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            chunk = mic.read(timeout_s=0.5)
            if mic.overflows and not message:
                message = mic.overflow_message(mic.overflows)
            if chunk is None:
                continue
            for e in stream.accept_waveform(chunk, 16000):
                if isinstance(e, Final):
                    finals.append({"text": e.text, "start_s": e.start_s, "end_s": e.end_s})
            quiet_since = None if stream.in_utterance else (quiet_since or time.monotonic())
            if finals and quiet_since is not None and mic.frames_captured / mic.sample_rate > 6 \
                    and time.monotonic() - quiet_since > 1.5:
                break
    print(json.dumps({"overflows": mic.overflows, "dropped_s": mic.dropped_seconds, "message": message,
                      "finals": finals}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "overflow":
        _overflow_scenario(sys.argv[2])
