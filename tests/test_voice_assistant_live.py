"""examples/voice_assistant.py through a real capture device (tests/audio_server.py): a command
played into the null sink is heard, answered and spoken with espeak-ng into the same sink,
whose monitor is the microphone, so the test also shows the reply never re-triggers it. A
timer set before the start fires in the running loop. The tiny fixture bundle has random
weights, so the command it hears is 'unknown'; bench/assistant_live.py runs the trained bundle."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "examples"))
from assistant.actions import Assistant  # noqa: E402
from audio_server import AudioServer, CaptureProcess, missing_tools  # noqa: E402
from test_mic import padded  # noqa: E402

pytestmark = pytest.mark.skipif(bool(missing_tools()) or shutil.which("espeak-ng") is None,
                                reason="needs pulseaudio, pulseaudio-utils, libasound2-plugins and espeak-ng (apt)")


def run_app(server, bundle, state):
    return CaptureProcess(server, [ROOT / "examples" / "voice_assistant.py", "--bundle", bundle, "--state", state,
                                   "--json"])


def test_assistant_answers_speaks_and_does_not_hear_itself(tiny_bundle, speech_wav, tmp_path):
    state = tmp_path / "state.json"
    wav, _, _ = padded(speech_wav, tmp_path / "cmd.wav")
    with AudioServer() as server:
        app = run_app(server, tiny_bundle, state)
        try:
            server.play(wav)
            reply = json.loads(app.next_line(timeout=20) or "{}")
            assert reply["event"] == "reply" and reply["intent"] == "unknown" and reply["slots"] == {}
            assert reply["reply"] == "Sorry, I don't know how to help with that."
            assert 1.0 < reply["spoken_s"] < 6.0  # espeak-ng played it, paced in real time by the sink
            # the reply went into the microphone's own source: it did not come back as a command
            assert app.next_line(timeout=5.0) is None and app.proc.poll() is None
        finally:
            app.kill()
        _, _, err = app.wait()
        assert not err, err  # no overflow warnings: the mic is muted while speaking, not stalled

        # a timer set before a restart fires in the running loop, is spoken, and is gone for good
        Assistant(state).handle("set_timer", {"duration": 3})
        app = run_app(server, tiny_bundle, state)
        try:
            fired = json.loads(app.next_line(timeout=20) or "{}")
            assert fired["event"] == "fired" and fired["reply"] == "Your timer for 3 seconds is done."
            assert fired["spoken_s"] > 1.0
            assert app.next_line(timeout=4.0) is None and app.proc.poll() is None
        finally:
            app.kill()
    assert json.loads(state.read_text())["timers"] == []
